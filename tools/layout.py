"""docs/layout.md: every module of the code folders, with the first sentence of its docstring.

    .venv/bin/python -m tools.layout > docs/layout.md

The docstring is the one place a module says what it is for; this page gathers them so a
newcomer finds where a thing lives. ``tests/test_docs.py`` fails when the page and the modules
differ, and when a module has no docstring.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The folders of code, in the order the page lists them.
FOLDERS = ("steps", "workflows", "tools")

HEADER = """# Layout

Every module of `steps/`, `workflows/` and `tools/`, with the first sentence of its docstring.
Generated: `.venv/bin/python -m tools.layout > docs/layout.md` (a test keeps this page equal to
the modules). How the layers may import one another is in [development.md](development.md#layout-and-layers).
"""


def summary(path: Path) -> str | None:
    """The first sentence of a module's docstring (its first paragraph when no sentence ends
    there), on one line; None when it has none."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    if not docstring:
        return None
    paragraph = " ".join(docstring.split("\n\n", 1)[0].split())
    sentence = re.match(r"(.+?(?<!e\.g)(?<!i\.e)\.)(\s|$)", paragraph)
    text = sentence.group(1) if sentence else paragraph
    # Sphinx's ``code`` and :mod:`x` read as Markdown code; a table cell holds no bar.
    return re.sub(r":\w+:`([^`]+)`", r"`\1`", text.replace("``", "`")).replace("|", "\\|")


def packages() -> list[Path]:
    """Every package folder under the code folders, parents first."""
    found = []
    for folder in FOLDERS:
        found += sorted(
            (path.parent for path in (ROOT / folder).rglob("__init__.py")),
            key=lambda path: path.relative_to(ROOT).parts,
        )
    return found


def modules(package: Path) -> list[Path]:
    return sorted(path for path in package.glob("*.py") if path.name != "__init__.py")


def missing_docstrings() -> list[str]:
    return [
        str(path.relative_to(ROOT))
        for package in packages()
        for path in [package / "__init__.py", *modules(package)]
        if path.stat().st_size and summary(path) is None
    ]


def markdown() -> str:
    parts = [HEADER]
    for package in packages():
        relative = package.relative_to(ROOT).as_posix()
        own = summary(package / "__init__.py")
        parts += ["", f"## `{relative}/`", ""]
        if own:
            parts += [own, ""]
        parts += ["| module | what it is |", "|---|---|"]
        parts += [f"| `{path.name}` | {summary(path) or ''} |" for path in modules(package)]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
