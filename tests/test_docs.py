"""The README stays a five-minute read and the reference pages in docs/ stay reachable.

The README is at most 250 lines and links every ``docs/*.md`` page; every relative link in the
README and in docs/ points to a file that exists (and, into a Markdown file, to a heading that
exists). The generated tables in docs/ are checked where they are generated: the operations in
tests/test_cli.py, the workflow parameters in tests/test_builder.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
MAX_README_LINES = 250

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _prose(path: Path) -> str:
    """The file's text without code blocks and code spans, where a link is only text."""
    return CODE_SPAN.sub("", FENCE.sub("", path.read_text(encoding="utf-8")))


def _links(path: Path) -> list[str]:
    return LINK.findall(_prose(path))


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    anchors: set[str] = set()
    for heading in HEADING.findall(text):
        heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in anchors:
            n += 1
            candidate = f"{slug}-{n}"
        anchors.add(candidate)
    return anchors


def test_the_readme_is_short():
    lines = len(README.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move reference material to docs/"


def test_there_are_reference_pages():
    assert PAGES, "docs/ has no .md page"


def test_the_readme_links_every_docs_page():
    linked = {(README.parent / unquote(target.split("#")[0])).resolve() for target in _links(README)}
    unlinked = [page.relative_to(ROOT).as_posix() for page in PAGES if page.resolve() not in linked]
    assert not unlinked, f"README.md does not link: {', '.join(unlinked)}"


def test_the_readme_keeps_the_ci_test_command():
    """.ci/run runs the README's test command; the two lines are the same, character for character."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    command = next(line for line in ci if line.startswith('"$PYTHON" -m venv .venv'))
    readme_line = command.replace('"$PYTHON"', "python3.11", 1)
    assert readme_line in README.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("path", [README, *PAGES], ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_relative_link_points_to_something_that_exists(path):
    broken = []
    for target in _links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, ...
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and unquote(anchor) not in _anchors(destination):
            broken.append(f"{target}: no heading #{anchor} in {destination.relative_to(ROOT).as_posix()}")
    assert not broken, f"{path.relative_to(ROOT).as_posix()}: " + "; ".join(broken)


def test_the_layout_page_lists_every_module_as_its_docstring_says():
    from tools import layout

    assert layout.missing_docstrings() == [], "every module says what it is for in its docstring"
    assert (ROOT / "docs" / "layout.md").read_text(encoding="utf-8") == layout.markdown(), (
        "regenerate with: .venv/bin/python -m tools.layout > docs/layout.md"
    )
    # A module added anywhere in the code folders shows up on the page.
    listed = set(re.findall(r"^\| `([\w]+\.py)` \|", layout.markdown(), re.M))
    assert {path.name for path in (ROOT / "workflows" / "executor").glob("*.py")} - {"__init__.py"} <= listed
