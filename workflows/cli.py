"""The ``kaleidoscope`` command line.

Exit codes (a contract): 0 done (per-image failures are recorded, not fatal), 1 failed,
2 invalid input (spec, options, manifest) found before any work started.
"""

from __future__ import annotations

import argparse
import sys

from steps.errors import KaleidoscopeError
from workflows.commands import demo, lint, ops, preview, render, run, run_workflow, schema, step, submit, upload, validate

COMMANDS = (validate, run, step, preview, demo, upload, ops, schema, render, submit, lint, run_workflow)


class _Parser(argparse.ArgumentParser):
    # argparse exits 2 on bad options already; keep its message but make it one clear line.
    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kaleidoscope", description=__doc__.splitlines()[0].strip("`. ") or None)
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KaleidoscopeError as error:
        for line in str(error).splitlines():
            print(f"kaleidoscope: {line}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
