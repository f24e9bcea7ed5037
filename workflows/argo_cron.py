"""Cron expressions and time zones checked as Argo's controller reads them.

Argo parses each schedule with robfig/cron's standard parser: five fields (minute, hour, day of
month, month, day of week) or a descriptor (``@daily``, ``@every 1h30m``, ...), optionally
prefixed by ``CRON_TZ=<zone>``. Checking here turns a schedule the controller would refuse
into an error at render time that names the field.
"""

from __future__ import annotations

import json
import re
import zoneinfo

# (name, low, high, names) per field, as robfig/cron bounds them (day of week 0-6, Sunday 0).
_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {
            m: i + 1
            for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
        },
    ),
    ("day of week", 0, 6, {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}),
)
_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_GO_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")


class _Bad(ValueError):
    pass


def _number(text: str, low: int, high: int, names: dict, what: str) -> int:
    value = names.get(text.lower())
    if value is None:
        if not text.isdigit():
            raise _Bad(f"{what} {text!r} is not a number" + (f" or a name ({', '.join(names)})" if names else ""))
        value = int(text)
    if not low <= value <= high:
        raise _Bad(f"{what} {value} is out of range {low}-{high}")
    return value


def _check_field(text: str, what: str, low: int, high: int, names: dict) -> None:
    for part in text.split(","):
        if not part:
            raise _Bad(f"{what} has an empty list item")
        span, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) < 1):
            raise _Bad(f"{what} step {step!r} must be a whole number >= 1")
        if span in ("*", "?"):
            continue
        start_text, dash, end_text = span.partition("-")
        start = _number(start_text, low, high, names, what)
        if dash:
            end = _number(end_text, low, high, names, what)
            if start > end:
                raise _Bad(f"{what} range {span} runs backwards")


def _check(expression: str) -> None:
    text = expression.strip()
    if text.startswith(("CRON_TZ=", "TZ=")):
        zone, _, text = text.partition(" ")
        zone_problems = timezone_problems("zone", zone.partition("=")[2])
        if zone_problems:
            raise _Bad(f"unknown time zone {zone.partition('=')[2]!r}")
        text = text.strip()
    if text.startswith("@"):
        if text.startswith("@every"):
            duration = text[len("@every") :].strip()
            if not _GO_DURATION.match(duration):
                raise _Bad(f"@every needs a Go duration such as 1h30m, not {duration!r}")
            return
        if text not in _DESCRIPTORS:
            raise _Bad(f"unknown descriptor (use one of {', '.join(sorted(_DESCRIPTORS))} or @every <duration>)")
        return
    fields = text.split()
    if len(fields) != len(_FIELDS):
        raise _Bad(f"expected 5 fields (minute hour day-of-month month day-of-week), found {len(fields)}")
    for value, (what, low, high, names) in zip(fields, _FIELDS, strict=False):
        _check_field(value, what, low, high, names)


def cron_problems(where: str, expression: object) -> list[str]:
    """Problems with one cron expression, as ``<where>: bad value "<expr>": <why>``."""
    if not isinstance(expression, str) or not expression.strip():
        return [f"{where}: bad value {json.dumps(expression)}: a cron expression such as '0 2 * * *'"]
    try:
        _check(expression)
    except _Bad as error:
        return [f"{where}: bad value {json.dumps(expression)}: {error}"]
    return []


def timezone_problems(where: str, name: object) -> list[str]:
    """Problems with an IANA time zone name (Go's time.LoadLocation accepts the same names)."""
    if name in ("UTC", "Local"):
        return []
    if not isinstance(name, str) or not name:
        return [f"{where}: bad value {json.dumps(name)}: an IANA time zone name such as UTC or Europe/Paris"]
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        if not zoneinfo.available_timezones():
            return []  # no time zone database on this machine: cannot tell, let the controller check
        return [f"{where}: bad value {json.dumps(name)}: not an IANA time zone name (e.g. UTC, Europe/Paris)"]
    return []
