"""Durations as Go's ``time.ParseDuration`` reads them, and as Argo reads its duration fields.

Go's grammar: an optional sign, then ``0`` or a sequence of decimal numbers, each with an
optional fraction and a unit: ``300ms``, ``-1.5h``, ``2h45m``, ``.5s``, ``1.s``. The units are
``ns``, ``us``, ``µs`` (U+00B5 micro sign), ``μs`` (U+03BC Greek mu), ``ms``, ``s``, ``m`` and
``h``; nothing else, no spaces. Argo's ``ParseStringToDuration``
(``pkg/apis/workflow/v1alpha1/utils.go``) reads a field such as ``retryStrategy.backoff.duration``
as a whole number of seconds first, then as a Go duration: :func:`parse_argo`.
"""

from __future__ import annotations

import re

#: Seconds in one of each unit Go knows.
UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_UNIT = "(?:" + "|".join(sorted(UNITS, key=len, reverse=True)) + ")"  # ms before m
#: A Go duration without a sign; a regular expression without anchors or flags (fits JSON schema).
UNSIGNED = rf"(?:0|(?:{_NUMBER}{_UNIT})+)"
#: Any Go duration.
SIGNED = rf"[-+]?{UNSIGNED}"
_NONZERO = r"(?:[0-9]*[1-9][0-9]*(?:\.[0-9]*)?|[0-9]*\.[0-9]*[1-9][0-9]*)"
#: A Go duration longer than zero (some part of it has a digit other than 0); no lookahead, so it
#: serves RE2 (Helm's schema check) as well.
POSITIVE = rf"(?:{_NUMBER}{_UNIT})*{_NONZERO}{_UNIT}(?:{_NUMBER}{_UNIT})*"
_PART = re.compile(rf"({_NUMBER})({_UNIT})")
_LONGEST = (2**63 - 1) / 1e9  # a time.Duration is an int64 of nanoseconds
_EXAMPLES = "a Go duration such as 30s, 1m30s or 1.5h (units ns, us, µs, ms, s, m, h)"


def parse(text: object) -> float:
    """Seconds in a Go duration, read as ``time.ParseDuration`` reads it.

    Args:
        text: The duration, e.g. ``1m30s``.

    Returns:
        The seconds, negative for a negative duration.

    Raises:
        ValueError: ``text`` is not a Go duration, or is longer than Go can hold (about 292 years).
    """
    if not isinstance(text, str) or re.fullmatch(SIGNED, text) is None:
        raise ValueError(f"bad duration {text!r}: expected {_EXAMPLES}")
    seconds = sum(float(number) * UNITS[unit] for number, unit in _PART.findall(text))
    if seconds > _LONGEST:
        raise ValueError(f"bad duration {text!r}: longer than Go's largest duration (about 292 years)")
    return -seconds if text.startswith("-") else seconds


def parse_argo(value: object) -> float:
    """Seconds in one of Argo's duration fields: a whole number of seconds, or a Go duration.

    A YAML number is taken as seconds too.

    Raises:
        ValueError: neither a number nor a Go duration.
    """
    if isinstance(value, bool):
        raise ValueError(f"bad duration {value!r}: expected a whole number of seconds or {_EXAMPLES}")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value)
    if re.fullmatch(r"[-+]?[0-9]+", text):  # strconv.Atoi, tried first
        return float(int(text))
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"bad duration {value!r}: expected a whole number of seconds or {_EXAMPLES}") from None
