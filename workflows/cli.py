"""The ``kaleidoscope`` command line.

Exit codes (a contract): 0 done (per-image failures are recorded, not fatal), 1 failed,
2 invalid input (spec, options, manifest) found before any work started.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from kaleidoscope.steps.errors import KaleidoscopeError

#: Subcommand -> its module in workflows.commands. Only the module of the command being run is
#: imported, so a pod running ``kaleidoscope step`` never loads Hera, and ``validate``, ``render``,
#: ``lint``, ``submit``, ``schema`` and ``ops`` never load OpenCV or numpy: pyproject's import
#: contracts forbid those imports and tests/test_layers.py checks what each command loads.
COMMANDS = {
    "validate": "validate",
    "run": "run",
    "run-workflow": "run_workflow",
    "step": "step",
    "preview": "preview",
    "demo": "demo",
    "upload": "upload",
    "render": "render",
    "submit": "submit",
    "lint": "lint",
    "ops": "ops",
    "schema": "schema",
    "chart": "chart",
}


class _Parser(argparse.ArgumentParser):
    # argparse exits 2 on bad options already; keep its message but make it one clear line.
    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with ``only`` that one (faster to import)."""
    parser = _Parser(prog="kaleidoscope", description=__doc__.splitlines()[0].strip("`. ") or None)
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, module in COMMANDS.items():
        if only in (None, name):
            importlib.import_module(f"kaleidoscope.workflows.commands.{module}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((word for word in argv if not word.startswith("-")), None)
    args = build_parser(chosen if chosen in COMMANDS else None).parse_args(argv)
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
