"""Cron schedules as Argo's controller reads them: robfig/cron v3's standard parser.

Argo checks each of a CronWorkflow's schedules with ``cron.ParseStandard``
(``workflow/validate/validate.go``): five fields (minute, hour, day of month, month, day of
week) or a descriptor (``@daily``, ``@every 1h30m``), optionally after ``CRON_TZ=<zone>`` or
``TZ=<zone>``. :func:`check` says why a schedule is refused; :func:`pattern` is the same grammar
as one regular expression for a JSON schema, built from the same table.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field

from kaleidoscope.workflows.rules import durations

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class Field:
    """One of the five fields, bounded as robfig/cron bounds it (day of week 0-6, Sunday 0)."""

    name: str
    low: int
    high: int
    names: dict[str, int] = field(default_factory=dict)  # month and weekday names, lowercase


FIELDS = (
    Field("minute", 0, 59),
    Field("hour", 0, 23),
    Field("day of month", 1, 31),
    Field("month", 1, 12, {name: index + 1 for index, name in enumerate(_MONTHS)}),
    Field("day of week", 0, 6, {name: index for index, name in enumerate(_WEEKDAYS)}),
)
DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
#: robfig reads what follows this prefix (one space) with Go's ``time.ParseDuration``.
EVERY = "@every "
#: The shape of a time zone name (``UTC``, ``Local`` or an IANA name such as ``Europe/Paris``);
#: whether the zone exists is :func:`timezone_known`'s to say.
TIMEZONE = r"(UTC|Local|[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*)"


def timezone_known(name: str) -> bool:
    """Whether Go's ``time.LoadLocation`` would find the zone; True when this machine cannot tell."""
    if name in ("UTC", "Local"):
        return True
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return not zoneinfo.available_timezones()  # no time zone database here: the controller checks
    return True


def check(expression: str) -> None:
    """Refuse a schedule ``cron.ParseStandard`` would refuse.

    Leading and trailing white-space is ignored.

    Raises:
        ValueError: the schedule is malformed; the message says which part, and why.
    """
    text = expression.strip()
    if text.startswith(("CRON_TZ=", "TZ=")):
        zone, _, text = text.partition(" ")
        zone = zone.partition("=")[2]
        if not timezone_known(zone):
            raise ValueError(f"unknown time zone {zone!r}")
        text = text.strip()
    if text.startswith(EVERY.strip()):
        _check_every(text[len(EVERY.strip()) :])
        return
    if text.startswith("@"):
        if text not in DESCRIPTORS:
            raise ValueError(f"unknown descriptor (use one of {', '.join(sorted(DESCRIPTORS))} or @every <duration>)")
        return
    values = text.split()
    if len(values) != len(FIELDS):
        raise ValueError(f"expected 5 fields (minute hour day-of-month month day-of-week), found {len(values)}")
    for value, spec in zip(values, FIELDS, strict=True):
        _check_field(value, spec)


def _check_every(rest: str) -> None:
    """What follows ``@every``: robfig takes one space, then the rest whole as a Go duration."""
    problem = f"@every needs a Go duration such as 1h30m after one space, not {rest.strip()!r}"
    if not rest.startswith(" "):
        raise ValueError(problem)
    try:
        durations.parse(rest[1:])
    except ValueError:
        raise ValueError(problem) from None


def _number(text: str, spec: Field) -> int:
    value = spec.names.get(text.lower())
    if value is None:
        if not text.isdigit():
            names = f" or a name ({', '.join(spec.names)})" if spec.names else ""
            raise ValueError(f"{spec.name} {text!r} is not a number{names}")
        value = int(text)
    if not spec.low <= value <= spec.high:
        raise ValueError(f"{spec.name} {value} is out of range {spec.low}-{spec.high}")
    return value


def _check_field(text: str, spec: Field) -> None:
    for part in text.split(","):
        if not part:
            raise ValueError(f"{spec.name} has an empty list item")
        span, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) < 1):
            raise ValueError(f"{spec.name} step {step!r} must be a whole number >= 1")
        if span in ("*", "?"):
            continue
        start_text, dash, end_text = span.partition("-")
        start = _number(start_text, spec)
        if dash and start > _number(end_text, spec):
            raise ValueError(f"{spec.name} range {span} runs backwards")


# -- the same grammar as one regular expression --------------------------------------------------


def _digits(low: int, high: int) -> str:
    """A character class for the digits low..high: ``3``, ``[12]``, ``[0-5]``."""
    if low == high:
        return str(low)
    return f"[{low}{high}]" if high == low + 1 else f"[{low}-{high}]"


def _range(low: int, high: int) -> str:
    """Alternatives matching the numbers low..high (at most 99, low at most 9): ``[0-9]|1[0-9]|2[0-3]``."""
    parts = [_digits(low, min(high, 9))]
    if high >= 10:
        last_ten, last_digit = divmod(high, 10)
        full_tens = last_ten if last_digit == 9 else last_ten - 1  # tens whose ten numbers all count
        if full_tens >= 1:
            parts.append(_digits(1, full_tens) + "[0-9]")
        if last_digit != 9:
            parts.append(f"{last_ten}{_digits(0, last_digit)}")
    return "|".join(parts)


def _any_case(names: dict[str, int]) -> str:
    """Month or weekday names in any case (JSON-schema patterns have no flags)."""
    return "|".join("".join(f"[{c}{c.upper()}]" for c in name) for name in names)


def _field_pattern(spec: Field) -> str:
    value = f"(0*({_range(spec.low, spec.high)}){'|' + _any_case(spec.names) if spec.names else ''})"
    item = rf"(\*|\?|{value}(-{value})?)(/0*[1-9][0-9]*)?"
    return f"{item}(,{item})*"


def pattern() -> str:
    """The schedules :func:`check` accepts, as one anchored regular expression without flags.

    A regular expression cannot compare two numbers: a range running backwards (``5-1``) passes
    it, though :func:`check` and the controller refuse it.
    """
    five = r"\s+".join(_field_pattern(spec) for spec in FIELDS)
    named = "@(" + "|".join(name[1:] for name in DESCRIPTORS) + ")"
    every = EVERY + durations.SIGNED  # "@" and " " need no escape in any regex dialect
    return rf"^\s*((CRON_TZ|TZ)={TIMEZONE} +\s*)?({five}|{named}|{every})\s*$"
