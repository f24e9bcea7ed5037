"""``kaleidoscope ops``: the operations a spec can use, with their options and defaults.

The operations table of docs/operations.md is this command's ``--markdown`` output (a test keeps them equal).
"""

from __future__ import annotations

import json

from kaleidoscope.steps.operations import OPERATIONS


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("ops", help="list the operations, their options and defaults")
    parser.add_argument("--markdown", action="store_true", help="print the markdown table of docs/operations.md")
    parser.set_defaults(handler=run)


def _default(fragment: dict) -> str:
    return json.dumps(fragment["default"])


def markdown() -> str:
    """The operations table, generated from the table of operations."""
    lines = ["| operation | what it does | options (default) |", "|---|---|---|"]
    for name, operation in OPERATIONS.items():
        options = "<br>".join(
            f"`{option}` ({_default(fragment)}): {fragment['description']}"
            for option, fragment in operation.options.items()
        )
        lines.append(f"| `{name}` | {operation.summary} | {options or '—'} |")
    return "\n".join(lines)


def run(args) -> int:
    if args.markdown:
        print(markdown())
        return 0
    for name, operation in OPERATIONS.items():
        print(f"{name:13} {operation.summary}")
        for option, fragment in operation.options.items():
            print(f"{'':13}   {option} = {_default(fragment)}  {fragment['description']}")
    return 0
