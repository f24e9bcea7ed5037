"""``kaleidoscope chart``: rewrite the Helm chart's generated files, or print a spec as values.

The chart's templates are written by hand; its values schema and the values table of its README
are generated from ``values.yaml``'s comments and the builder's option model
(``workflows/chart.py``): run this after changing ``values.yaml``, from a checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kaleidoscope.steps.errors import KaleidoscopeError
from kaleidoscope.workflows import chart


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "chart",
        help="rewrite charts/kaleidoscope's values schema and values table, or print a spec as chart values",
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 listing the files out of date")
    parser.add_argument(
        "--values", metavar="SPEC", help="print SPEC as values: spec, workflow.title, workflow.description"
    )
    parser.add_argument("--source", default="", help="with --values: the source parameter's default")
    parser.add_argument("--destination", default="", help="with --values: the destination parameter's default")
    parser.set_defaults(handler=run)


def run(args) -> int:
    if args.values:
        sys.stdout.write(chart.spec_values(Path(args.values), args.source, args.destination))
        return 0
    if not (chart.CHART / "Chart.yaml").exists():
        raise KaleidoscopeError(f"{chart.CHART}: no chart here; run this from a checkout of the repository")
    try:
        if args.check:
            stale = chart.stale()
            for path in stale:
                print(f"out of date: {chart.CHART / path}", file=sys.stderr)
            return 1 if stale else 0
        for path in chart.write():
            print(f"wrote {chart.CHART / path}", file=sys.stderr)
    except ValueError as error:  # a value without its comment, or without its schema
        raise KaleidoscopeError(str(error)) from error
    return 0
