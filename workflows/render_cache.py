"""Rendered manifests kept between local runs.

Rendering a Workflow takes ~10 ms, but importing Hera to do it takes ~0.5 s: most of a small
``kaleidoscope run``'s start-up. The render is a pure function of its inputs (the spec document,
the build options) and of the code that renders it (this package and Hera), so a run looks its
manifest up by a digest of all of them and imports the builder only on a miss. A change to any
of them is a new key, never a stale hit: the key hashes every ``.py`` file of
``kaleidoscope.steps`` and ``kaleidoscope.workflows`` (~0.65 MB, ~5 ms) and the size and time of
Hera's installed files.

The folder is ``$KALEIDOSCOPE_CACHE_DIR``, else ``$XDG_CACHE_HOME/kaleidoscope/manifests``, else
``~/.cache/kaleidoscope/manifests``. It holds at most :data:`KEPT` manifests (the newest used);
an entry is written atomically (a temporary file renamed), so two runs at once never read half
of one; an unreadable or corrupt entry is rendered again. Setting the variable to an empty value
turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import kaleidoscope.steps
import kaleidoscope.workflows

#: The cache's folder; empty: no cache.
CACHE_ENV = "KALEIDOSCOPE_CACHE_DIR"
#: Entries kept; older ones (by last use) are removed when a new one is written.
KEPT = 32
#: Bumped when an entry's format changes.
_FORMAT = 1


def folder() -> Path | None:
    """Where the manifests are kept, or None when the cache is off."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return Path(configured).expanduser() if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kaleidoscope" / "manifests"


def code_digest() -> str:
    """A digest of the code a render depends on: the project's sources and Hera's install."""
    digest = hashlib.sha256()
    for package in (kaleidoscope.steps, kaleidoscope.workflows):
        for root in package.__path__:
            for path in sorted(Path(root).rglob("*.py")):
                digest.update(path.relative_to(root).as_posix().encode())
                digest.update(path.read_bytes())
    hera = importlib.util.find_spec("hera")
    # Hera is installed, not edited: an upgrade rewrites its files, which changes their times.
    for location in (hera.submodule_search_locations or []) if hera else []:
        for name in ("__init__.py", "_version.py"):
            stat = (Path(location) / name).stat()
            digest.update(f"{location}/{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def key(inputs: Mapping[str, Any]) -> str:
    """The entry's name for a render of ``inputs`` (JSON-serialisable) by the current code."""
    text = json.dumps({"format": _FORMAT, "code": code_digest(), "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def manifest(inputs: Mapping[str, Any], render: Callable[[], dict]) -> dict:
    """The manifest ``render()`` gives for ``inputs``: the kept one, else rendered and kept.

    ``inputs`` must hold everything ``render`` depends on besides the code.
    """
    where = folder()
    if where is None:
        return render()
    entry = where / f"{key(inputs)}.json"
    try:
        kept = json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kept = None
    if isinstance(kept, dict):
        with contextlib.suppress(OSError):  # a read-only cache still serves its entries
            os.utime(entry)  # last use, for pruning
        return kept
    rendered = render()
    try:
        where.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=where, prefix=".", suffix=".tmp")
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(rendered, file)
        os.replace(temporary, entry)
        _prune(where)
    except OSError:
        # A cache that cannot be written (read-only home, full disk) only costs the next run
        # the render again.
        pass
    return rendered


def _prune(where: Path) -> None:
    entries = sorted(where.glob("*.json"), key=lambda path: path.stat().st_mtime_ns, reverse=True)
    for stale in entries[KEPT:]:
        stale.unlink(missing_ok=True)
