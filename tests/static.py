"""The static checks CI makes before the tests: lint, format, types, import contracts.

Run from the repository root: ``.venv/bin/python -m tests.static`` (part of the README's test
command). Each tool runs even when an earlier one failed, so one CI run shows every problem;
the exit status is non-zero when any failed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent

CHECKS = {
    "ruff check": [str(BIN / "ruff"), "check", "."],
    "ruff format": [str(BIN / "ruff"), "format", "--check", "."],
    # mypy reads the installed package (the editable link tree), so module names are kaleidoscope.*.
    "mypy": [str(BIN / "mypy"), "-p", "kaleidoscope.steps", "-p", "kaleidoscope.workflows", "-p", "tools"],
    "import contracts": [str(BIN / "lint-imports")],
}


def main() -> int:
    failed = []
    for name, command in CHECKS.items():
        print(
            f"--- {name}: {' '.join(Path(command[0]).name if i == 0 else w for i, w in enumerate(command))}", flush=True
        )
        if subprocess.run(command, cwd=ROOT).returncode != 0:
            failed.append(name)
    if failed:
        print(f"static checks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("static checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
