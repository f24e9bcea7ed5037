"""docs/cli.md: every ``kaleidoscope`` command's help, as argparse prints it.

    .venv/bin/python -m tools.cli_reference > docs/cli.md

``tests/test_cli.py`` fails when the page and the parser differ, naming this command.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator

from kaleidoscope.workflows.cli import COMMANDS, build_parser

#: The width argparse wraps to: fixed, so the page does not depend on the terminal it was made in.
WIDTH = "100"

HEADER = """# Command line

Every command and its options, as `kaleidoscope <command> --help` prints them. Generated from the
parser: `.venv/bin/python -m tools.cli_reference > docs/cli.md` (a test keeps this page equal to it).
Exit codes: 0 done, 1 failed (worth retrying), 2 invalid input, 3 permanent, 4 destination busy,
128 + the signal when stopped ([spec.md](spec.md#failures-and-exit-codes)).
"""


@contextlib.contextmanager
def _columns(width: str) -> Iterator[None]:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = width
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _section(title: str, parser: argparse.ArgumentParser, level: str) -> list[str]:
    return ["", f"{level} `{title}`", "", "```text", parser.format_help().rstrip(), "```"]


def markdown() -> str:
    """The page: the top-level help, then one section a command, in COMMANDS' order."""
    with _columns(WIDTH):
        parser = build_parser()
        parts = [HEADER, "```text", parser.format_help().rstrip(), "```"]
        commands = _subcommands(parser)
        for name in COMMANDS:
            parts += _section(f"kaleidoscope {name}", commands[name], "##")
            for inner, command in _subcommands(commands[name]).items():  # kaleidoscope step shard, ...
                parts += _section(f"kaleidoscope {name} {inner}", command, "###")
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
