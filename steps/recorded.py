"""The index of recorded sources: which source keys already have records, for incremental runs.

Kept as a few sorted files under ``_kaleidoscope/sources/``, one JSON string a line, never as one
file rewritten by every run (whose cost would grow with the dataset each night). Each published
run adds one file of its own sources; files are compacted size-tiered, like an LSM tree: a file's
level is about log4 of its key count, and when four files share a level they are merged into one
of a higher level. So a run that adds 10 sources writes a 10-key file and now and then merges a
few small ones, the big file of the last full run is rewritten only when as many keys have been
added since, and the number of files stays logarithmic: a CronWorkflow that has run daily for
years reads about as much index as one that ran yesterday. Sources of different runs never
overlap (an incremental run only processes keys that are not recorded), so a merge is a
``heapq.merge`` with nothing to reconcile.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Iterable, Iterator

from kaleidoscope.steps import run_layout
from kaleidoscope.steps.errors import KaleidoscopeError
from kaleidoscope.steps.storage import Storage

#: Files of one level that trigger a merge.
FANOUT = 4


def level_for(count: int) -> int:
    """The level of a file of ``count`` keys: 0 up to 3 keys, then one more per factor of 4."""
    return 0 if count < FANOUT else min(99, int(math.log(count, FANOUT)))


def files(destination: Storage) -> list[tuple[int, str]]:
    """``(level, key)`` of every index file, by level then name."""
    found = []
    for key in destination.list_keys(run_layout.SOURCES_PREFIX):
        level = run_layout.level_of_sources(key)
        if level is not None:
            found.append((level, key))
    return sorted(found)


def _lines(destination: Storage, key: str) -> Iterator[str]:
    for line in destination.read_lines(key):
        try:
            yield json.loads(line)
        except ValueError as error:
            raise KaleidoscopeError(f"{destination.describe(key)}: a line is not JSON: {error}") from error


def read(destination: Storage) -> Iterator[str]:
    """Every recorded source key, sorted, streaming (one line per file in memory)."""
    return heapq.merge(*(_lines(destination, key) for _, key in files(destination)))


def _encode(keys: Iterable[str], counter: list[int]) -> Iterator[bytes]:
    batch = []
    for key in keys:
        batch.append(json.dumps(key, ensure_ascii=False))
        counter[0] += 1
        if len(batch) == 4096:
            yield ("\n".join(batch) + "\n").encode("utf-8")
            batch = []
    if batch:
        yield ("\n".join(batch) + "\n").encode("utf-8")


def _write(destination: Storage, run_id: str, sources: Iterable[str], count: int) -> None:
    if count:
        key = run_layout.sources_key(level_for(count), run_id)
        destination.write_stream(key, _encode(sources, [0]), "application/x-ndjson")


def add(destination: Storage, run_id: str, sources: Iterable[str], count: int) -> None:
    """Record the ``count`` sorted ``sources`` of incremental run ``run_id``, then compact.

    Idempotent: a retried publication rewrites the same file and finds the same merges done.
    """
    _write(destination, run_id, sources, count)
    compact(destination)


def write_run(destination: Storage, run_id: str, sources: Iterable[str], count: int) -> None:
    """A full run's own index file, written beside the earlier ones (see :func:`keep_only`)."""
    _write(destination, run_id, sources, count)


def keep_only(destination: Storage, run_id: str) -> None:
    """Remove every index file but the full run ``run_id``'s, once its generation is current.

    Until then the index is a superset (sources recorded in either generation), never one that
    forgets a source of the current generation.
    """
    for _, key in files(destination):
        if not key.endswith(f"-{run_id}.jsonl"):
            destination.delete(key)
    compact(destination)


def compact(destination: Storage) -> None:
    """Merge every level that holds :data:`FANOUT` or more files, lowest level first."""
    while True:
        by_level: dict[int, list[str]] = {}
        for level, key in files(destination):
            by_level.setdefault(level, []).append(key)
        full = [level for level, keys in sorted(by_level.items()) if len(keys) >= FANOUT]
        if not full:
            return
        keys = by_level[full[0]]
        counter = [0]
        merged = heapq.merge(*(_lines(destination, key) for key in keys))
        # Named after the last run merged in: unique, and the same again if a retry redoes it.
        name = keys[-1].rsplit("/", 1)[-1].split("-", 1)[1].removesuffix(".jsonl")
        # Written aside first (a name the index does not read), then moved in: a merge cut short
        # leaves the inputs whole.
        temporary = f"{run_layout.SOURCES_PREFIX}.merging-{name}.jsonl"
        destination.write_stream(temporary, _encode(merged, counter), "application/x-ndjson")
        target = run_layout.sources_key(max(full[0] + 1, level_for(counter[0])), name)
        destination.move(temporary, target)
        for key in keys:
            if key != target:
                destination.delete(key)


def replace_all(destination: Storage, run_id: str, sources: Iterable[str], count: int) -> None:
    """A full run's index in one call: its own file, then no other (what a benchmark or a repair
    wants; the manifest step splits the two around publishing the parts)."""
    write_run(destination, run_id, sources, count)
    keep_only(destination, run_id)
