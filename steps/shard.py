"""Step 1: list the source, split the matching keys into shards, and write the shard lists.

Writes the run's record and one key list per shard (where: :mod:`steps.run_layout`) and returns
the small list of shard references that Argo fans out over (``withParam``). Keys never travel
through parameters or stdout. The listing is streamed to a local spool file, so memory holds
one shard at a time however many keys the source has.
"""

from __future__ import annotations

import fnmatch
import json
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from kaleidoscope.steps import run_layout
from kaleidoscope.steps import spec as spec_module
from kaleidoscope.steps.errors import KaleidoscopeError
from kaleidoscope.steps.locations import open_storage
from kaleidoscope.steps.spec import Spec
from kaleidoscope.steps.storage import Storage


def matcher(patterns: Iterable[str]):
    """A predicate for keys: case-insensitive globs on the file name, or on the key with '/'."""
    lowered = [pattern.lower() for pattern in patterns]

    def matches(key: str) -> bool:
        lowered_key = key.lower()
        name = lowered_key.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatchcase(lowered_key if "/" in p else name, p) for p in lowered)

    return matches


def plan(total: int, shards: int | None, shard_size: int | None) -> list[int]:
    """Shard sizes for ``total`` keys: ``shards`` even parts, or parts of ``shard_size``.

    Never more shards than keys nor than ``MAX_SHARDS``; sizes differ by at most one.
    """
    if total == 0:
        return []
    if shards is None:
        if shard_size is None:
            raise ValueError("plan: give shards or shard_size")
        shards = -(-total // shard_size)
    count = max(1, min(shards, total, spec_module.MAX_SHARDS))
    base, extra = divmod(total, count)
    return [base + (1 if index < extra else 0) for index in range(count)]


def _spool(keys: Iterator[str], spool) -> int:
    count = 0
    for key in keys:
        spool.write(json.dumps(key, ensure_ascii=False) + "\n")
        count += 1
    return count


def recorded_sources(destination: Storage) -> Iterator[str]:
    """The sorted source keys that already have records in the destination's manifest.

    Read from the index the manifest step keeps beside the manifest, streaming: with the
    listing equally sorted, skipping them is a merge in constant memory, however many millions
    of images earlier runs recorded.
    """
    if not destination.exists(run_layout.RECORDED):
        return iter(())
    return (json.loads(line) for line in destination.read_lines(run_layout.RECORDED))


def _new_keys(keys: Iterator[str], recorded: Iterator[str], counts: dict) -> Iterator[str]:
    """``keys`` minus ``recorded``; both sorted (S3 lists keys in UTF-8 byte order, which is
    Python's string order, and local listings follow it)."""
    pending = next(recorded, None)
    previous = None
    for key in keys:
        if previous is not None and key <= previous:
            raise KaleidoscopeError(f"listing returned {key!r} after {previous!r}: not in lexicographic order")
        previous = key
        counts["matched"] += 1
        while pending is not None and pending < key:
            pending = next(recorded, None)
        if pending != key:
            yield key


def shard(spec: Spec, run_id: str, *, incremental: bool = False, started_at: str | None = None) -> list[dict]:
    """List, filter and split the source; write the shard lists; return the shard references.

    Args:
        incremental: Skip sources already recorded in the destination's manifest, so a
            scheduled run processes only new uploads (zero new images is then no error).

    Raises:
        KaleidoscopeError: when the source has no matching image (nothing to do is a mistake
            worth stopping for: a wrong prefix or include pattern).
    """
    source: Storage = open_storage(spec.source)
    destination: Storage = open_storage(spec.destination)
    source.check()
    destination.check()
    matches = matcher(spec.include)
    recorded = recorded_sources(destination) if incremental else iter(())
    started_at = started_at or datetime.now(UTC).isoformat(timespec="seconds")
    counts = {"matched": 0}

    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        total = _spool(_new_keys((key for key in source.list_keys() if matches(key)), recorded, counts), spool)
        matched = counts["matched"]
        if matched == 0:
            raise KaleidoscopeError(
                f"{source.url}: no images match include {list(spec.include)} (wrong prefix or pattern?)"
            )
        sizes = plan(total, spec.shards, spec.shard_size)
        spool.seek(0)
        references = []
        for index, size in enumerate(sizes):
            lines = "".join(spool.readline() for _ in range(size))
            destination.write(run_layout.shard_key(run_id, index), lines.encode("utf-8"), "application/x-ndjson")
            references.append({"index": index, "of": len(sizes), "images": size})

    record = {
        "run_id": run_id,
        "started_at": started_at,
        "spec_sha256": spec.sha256,
        "source": spec.source,
        "destination": spec.destination,
        "inputs": total,
        "already_done": matched - total,
        "incremental": incremental,
        "shards": len(sizes),
    }
    destination.write(run_layout.run_record_key(run_id), json.dumps(record, indent=2).encode(), "application/json")
    return references


def read_shard(destination: Storage, run_id: str, index: int) -> list[str]:
    """The source keys of one shard."""
    text = destination.read(run_layout.shard_key(run_id, index)).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line]


def write_output(path: str | None, value) -> None:
    """Write a step's small JSON result where Argo reads output parameters from."""
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value, separators=(",", ":")) + "\n", encoding="utf-8")
