"""What a clean checkout holds, and what ``docker build`` would send of it as the build context.

The repository's files are its git-tracked files (what CI and a fresh clone have; a working
copy's .venv, build/ and caches are not part of the project). The build context is that set
filtered by ``.dockerignore`` with Docker's own rules (moby's patternmatcher, used by the classic
builder and BuildKit alike):

- each line is a pattern, cleaned like a path (``steps/`` is ``steps``, a leading ``/`` dropped);
  ``#`` starts a comment line, ``!`` re-includes what an earlier pattern excluded;
- ``*`` and ``?`` never cross a ``/``; ``**`` crosses any number of folders; ``\\`` escapes;
- a pattern matches a path when it matches the path itself or any of its parent folders;
- the last pattern that matches decides.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from tests.prerequisites import missing

ROOT = Path(__file__).resolve().parents[1]
DOCKERIGNORE = ROOT / ".dockerignore"


def tracked_files() -> list[str]:
    """The repository's git-tracked files that exist in this working copy, as posix paths from the root."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        missing(f"the repository's file list needs git and a git checkout at {ROOT}: {error}")
    names = [name for name in listed.decode().split("\0") if name]
    return sorted(name for name in names if (ROOT / name).is_file())  # a deletion not yet committed


def copy_files(names: Iterable[str], target: Path) -> None:
    """Copy the repository files ``names`` under ``target``, keeping their relative paths."""
    for name in names:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name)


def pattern_regex(pattern: str) -> re.Pattern:
    """A cleaned .dockerignore pattern as a regular expression over slash-separated paths."""
    out, i = "^", 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
            out += ".*" if i >= len(pattern) else "(.*/)?"
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        elif char in "[]":
            out += char  # a character class, as in Go's filepath.Match
        else:
            out += re.escape(char)
        i += 1
    return re.compile(out + "$")


def ignore_rules(text: str) -> list[tuple[re.Pattern, bool]]:
    """``.dockerignore`` text as (pattern, excludes) rules, in order; ``excludes`` is False for ``!``."""
    rules = []
    for line in text.splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        excludes = not pattern.startswith("!")
        if not excludes:
            pattern = pattern[1:].strip()
        pattern = posixpath.normpath(pattern)
        if len(pattern) > 1 and pattern.startswith("/"):
            pattern = pattern.lstrip("/")
        rules.append((pattern_regex(pattern), excludes))
    return rules


def matches_or_a_parent_matches(regex: re.Pattern, path: str) -> bool:
    parts = path.split("/")
    return any(regex.match("/".join(parts[:count])) for count in range(len(parts), 0, -1))


def ignored(path: str, rules: list[tuple[re.Pattern, bool]]) -> bool:
    """Whether Docker leaves ``path`` (relative, slash-separated) out of the build context."""
    excluded = False
    for regex, excludes in rules:
        if matches_or_a_parent_matches(regex, path):
            excluded = excludes
    return excluded


def build_context(files: Iterable[str] | None = None) -> set[str]:
    """The files of ``files`` (default: the repository's) that ``docker build .`` sends."""
    rules = ignore_rules(DOCKERIGNORE.read_text(encoding="utf-8"))
    return {name for name in (tracked_files() if files is None else files) if not ignored(name, rules)}
