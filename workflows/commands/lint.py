"""``kaleidoscope lint FILE...``: check Argo manifests offline, as ``argo lint`` does beyond the schema.

Prints each problem as ``FILE: <path>: <what is wrong>`` and exits 2 when there is any; ``-``
reads standard input (``kaleidoscope render spec.yaml | kaleidoscope lint -``).
"""

from __future__ import annotations

import sys

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.lint import lint_file, lint_text


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("lint", help="check Argo manifests: references, variables, DAG dependencies, enums")
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML/JSON manifests ('-' for standard input)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="also refuse what only a run finds, as the local executor does: every tag resolves before a node "
        "starts, no expression tags",
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    problems: list[str] = []
    for name in args.files:
        found = lint_text(sys.stdin.read(), "<stdin>", args.strict) if name == "-" else lint_file(name, args.strict)
        if not found:
            print(f"{name}: ok")
        problems += found
    if problems:
        raise InvalidInput(problems)
    return 0
