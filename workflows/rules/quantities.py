"""Kubernetes resource quantities, as the options and the chart's schema accept them.

A regular expression without anchors or flags, like those of :mod:`.names`: a plain decimal
number with an optional binary (``Ki`` .. ``Ei``) or decimal (``k`` .. ``E``) suffix, such as
``512Mi`` or ``2Gi``; a subset of what Kubernetes' ``resource.ParseQuantity`` reads.
:func:`parse_bytes` and :func:`format_bytes` read and write memory amounts (the augment pod's
memory on a retry); :data:`CPU` and :func:`parse_cpu` are CPU amounts.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

QUANTITY = r"[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?"
#: A CPU amount: cores (``2``, ``0.5``) or millicores (``500m``).
CPU = r"[0-9]+(\.[0-9]+)?|[0-9]+m"

_SUFFIXES = {
    "": 1,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}
#: The binary units :func:`format_bytes` writes, largest first.
_BINARY = ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki")


def parse_bytes(text: object) -> int:
    """A memory quantity (``4Gi``, ``1.5Gi``, ``512M``, ``1000``) in whole bytes, rounded up as
    Kubernetes rounds a fractional byte.

    Raises:
        ValueError: ``text`` is not a quantity :data:`QUANTITY` accepts.
    """
    if not isinstance(text, str) or re.fullmatch(QUANTITY, text) is None:
        raise ValueError(f"{text!r} is not a quantity such as 512Mi or 2Gi")
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text)
    assert match is not None  # QUANTITY matched
    number, suffix = Fraction(match.group(1)), match.group(2)
    return math.ceil(number * _SUFFIXES[suffix])


def parse_cpu(text: object) -> Fraction:
    """A CPU quantity (``2``, ``0.5``, ``500m``) in cores.

    Raises:
        ValueError: ``text`` is not a quantity :data:`CPU` accepts.
    """
    if not isinstance(text, str) or re.fullmatch(CPU, text) is None:
        raise ValueError(f"{text!r} is not a CPU quantity such as 2, 0.5 or 500m")
    return Fraction(text[:-1]) / 1000 if text.endswith("m") else Fraction(text)


def format_bytes(count: int) -> str:
    """Bytes as the largest binary unit that holds them whole (``8Gi``, ``3072Mi``), else bytes."""
    for suffix in _BINARY:
        if count % _SUFFIXES[suffix] == 0 and count >= _SUFFIXES[suffix]:
            return f"{count // _SUFFIXES[suffix]}{suffix}"
    return str(count)
