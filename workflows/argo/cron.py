"""Problems with a CronWorkflow's schedules and time zone, in the option checks' words.

The grammar is Argo's (robfig/cron's standard parser), in :mod:`kaleidoscope.workflows.rules.cron`;
checking here turns a schedule the controller would refuse into an error at render time that
names the field.

A CronWorkflow's schedules take no time zone of their own: Argo prefixes every one of them with
``CRON_TZ=<timezone>`` (``GetSchedulesWithTimezone`` in
``pkg/apis/workflow/v1alpha1/cron_workflow_types.go``), and a schedule that already starts with
``CRON_TZ=`` or ``TZ=`` then has two prefixes, which robfig/cron refuses. The builder always sets
``timezone``, so :func:`prefix_problems` refuses such a schedule and points at ``timezone``.
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


def prefix_problems(where: str, expression: object) -> list[str]:
    """A schedule with its own ``CRON_TZ=``/``TZ=`` prefix, refused in favour of the time zone field."""
    if not isinstance(expression, str):
        return []
    text = expression.strip()
    if not text.startswith(("CRON_TZ=", "TZ=")):
        return []
    prefix, _, rest = text.partition(" ")
    zone = prefix.partition("=")[2]
    return [
        f"{where}: bad value {json.dumps(expression)}: a CronWorkflow's schedules take no {prefix.partition('=')[0]}= "
        f"prefix (Argo prefixes each with CRON_TZ=<timezone>, and refuses a second one): give "
        f"{json.dumps(rest.strip())} and set `timezone` to {json.dumps(zone)}"
    ]


def timezone_problems(where: str, name: object) -> list[str]:
    """Problems with an IANA time zone name (Go's time.LoadLocation accepts the same names)."""
    if not isinstance(name, str) or not name:
        return [f"{where}: bad value {json.dumps(name)}: an IANA time zone name such as UTC or Europe/Paris"]
    if not cron.timezone_known(name):
        return [f"{where}: bad value {json.dumps(name)}: not an IANA time zone name (e.g. UTC, Europe/Paris)"]
    return []
