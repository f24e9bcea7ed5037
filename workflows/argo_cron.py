"""Problems with a CronWorkflow's schedules and time zone, in the option checks' words.

The grammar is Argo's (robfig/cron's standard parser), in :mod:`kaleidoscope.workflows.rules.cron`;
checking here turns a schedule the controller would refuse into an error at render time that
names the field.
"""

from __future__ import annotations

import json

from kaleidoscope.workflows.rules import cron


def cron_problems(where: str, expression: object) -> list[str]:
    """Problems with one cron expression, as ``<where>: bad value "<expr>": <why>``."""
    if not isinstance(expression, str) or not expression.strip():
        return [f"{where}: bad value {json.dumps(expression)}: a cron expression such as '0 2 * * *'"]
    try:
        cron.check(expression)
    except ValueError as error:
        return [f"{where}: bad value {json.dumps(expression)}: {error}"]
    return []


def timezone_problems(where: str, name: object) -> list[str]:
    """Problems with an IANA time zone name (Go's time.LoadLocation accepts the same names)."""
    if not isinstance(name, str) or not name:
        return [f"{where}: bad value {json.dumps(name)}: an IANA time zone name such as UTC or Europe/Paris"]
    if not cron.timezone_known(name):
        return [f"{where}: bad value {json.dumps(name)}: not an IANA time zone name (e.g. UTC, Europe/Paris)"]
    return []
