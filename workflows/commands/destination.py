"""Commands on a destination: ``manifest`` (print its records), ``failures`` (its failed
inputs), ``unlock`` and ``gc``."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta

from kaleidoscope.steps import claim, housekeeping, manifest
from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.steps.locations import open_storage
from kaleidoscope.steps.storage import Storage
from kaleidoscope.workflows.commands.common import add_s3_endpoint, configure_s3

_AGE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def age(text: str) -> timedelta:
    """argparse type for an age: ``90s``, ``30m``, ``12h`` or ``7d``."""
    match = _AGE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"bad value {text[:40]!r}: a whole number and a unit, e.g. 7d, 12h, 30m")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def add_parser(subparsers) -> None:
    records = subparsers.add_parser(
        "manifest", help="print every current manifest record of a destination as JSON lines (streamed)"
    )
    records.add_argument("destination", help="the destination folder or s3://bucket/prefix")
    add_s3_endpoint(records)
    records.set_defaults(handler=print_records)

    failures = subparsers.add_parser(
        "failures",
        help="print every input the current generation failed on, as JSON lines (streamed): source, error, kind",
    )
    failures.add_argument("destination", help="the destination folder or s3://bucket/prefix")
    add_s3_endpoint(failures)
    failures.set_defaults(handler=print_failures)

    unlock = subparsers.add_parser("unlock", help="remove a destination's claim (a run known to be dead)")
    unlock.add_argument("destination", help="the destination folder or s3://bucket/prefix")
    add_s3_endpoint(unlock)
    unlock.set_defaults(handler=remove_claim)

    gc = subparsers.add_parser("gc", help="remove the work files of unfinished runs older than an age")
    gc.add_argument("destination", help="the destination folder or s3://bucket/prefix")
    gc.add_argument("--older-than", type=age, required=True, metavar="AGE", help="e.g. 7d, 12h, 30m")
    add_s3_endpoint(gc)
    gc.set_defaults(handler=collect)


def print_records(args) -> int:
    return _print_lines(args, manifest.record_lines)


def print_failures(args) -> int:
    return _print_lines(args, manifest.failure_lines)


def _print_lines(args, lines: Callable[[Storage], Iterator[bytes]]) -> int:
    configure_s3(args)
    out = sys.stdout.buffer
    for line in lines(open_storage(args.destination)):
        out.write(line + b"\n")
    out.flush()
    return 0


def remove_claim(args) -> int:
    configure_s3(args)
    removed = claim.break_claim(open_storage(args.destination))
    if removed is None:
        print(f"{args.destination}: no claim")
    else:
        print(f"{args.destination}: removed the claim of run {removed.run_id} (host {removed.host}, pid {removed.pid})")
    return 0


def collect(args) -> int:
    configure_s3(args)
    if args.older_than < timedelta(0):
        raise InvalidInput("--older-than: must be >= 0")
    for run_id, count in housekeeping.collect(open_storage(args.destination), args.older_than):
        print(f"removed the work files of run {run_id} ({count} objects)")
    return 0
