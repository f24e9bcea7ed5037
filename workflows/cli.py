"""The ``kaleidoscope`` command line.

Exit codes (a contract, docs/spec.md#failures-and-exit-codes; Argo retries by them):
0 done (per-image failures within the spec's limits are recorded, not fatal); 1 failed (an
outage or a bug: worth retrying); 2 invalid input (spec, options, manifest) found before any
work started; 3 permanent (missing bucket, access denied, no image, too many failed images: no
retry can change it); 4 destination busy (another run holds it: retry later). A command stopped
by a signal exits 128 + the signal.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

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
    "manifest": "destination",
    "failures": "destination",
    "unlock": "destination",
    "gc": "destination",
}


class _Parser(argparse.ArgumentParser):
    # argparse exits 2 on bad options already; keep its message but make it one clear line.
    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with ``only`` that one (faster to import)."""
    parser = _Parser(prog="kaleidoscope", description=__doc__.splitlines()[0].strip("`. ") or None)
    # Read (and removed from the line) by main; declared so that --help lists it.
    parser.add_argument("--debug", action="store_true", help=f"print full tracebacks (pods: {DEBUG_ENV}=1)")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # One module may hold several subcommands (manifest, unlock, gc): each module is added once.
    for module in dict.fromkeys(module for name, module in COMMANDS.items() if only in (None, name)):
        importlib.import_module(f"kaleidoscope.workflows.commands.{module}").add_parser(subparsers)
    return parser


#: Set to 1 (how a pod is told) for what ``--debug`` does: full tracebacks of every error.
DEBUG_ENV = "KALEIDOSCOPE_DEBUG"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # --debug is accepted anywhere on the line, so it can be added to any command as typed.
    debug = "--debug" in argv or os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes")
    argv = [word for word in argv if word != "--debug"]
    chosen = next((word for word in argv if not word.startswith("-")), None)
    args = build_parser(chosen if chosen in COMMANDS else None).parse_args(argv)
    try:
        return args.handler(args)
    except KaleidoscopeError as error:
        # An expected failure: one line a user can act on; its cause chain on request.
        for line in str(error).splitlines():
            print(f"kaleidoscope: {line}", file=sys.stderr)
        if debug:
            traceback.print_exception(error, file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        # Not a failure Kaleidoscope knows: a bug, reported loudly with where it happened.
        print(f"kaleidoscope: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        traceback.print_exception(error, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
