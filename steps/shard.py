"""Step 1: take the destination, list the source, and split the matching keys into shards.

Takes the destination's claim (one run at a time), streams the listing minus the sources already
recorded (incremental runs) into listing pages and writes the run's record with its shard plan
(where: :mod:`steps.run_layout`); returns the small list of shard references that Argo fans out
over (``withParam``). Keys never travel through parameters or stdout, and nothing grows on the
pod: memory holds one page, and the pages go to the destination, not to ``/tmp``.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from kaleidoscope.steps import claim, head, recorded, run_layout
from kaleidoscope.steps import spec as spec_module
from kaleidoscope.steps.errors import InvalidInput, KaleidoscopeError, PermanentFailure
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


def _pages(destination: Storage, run_id: str, keys: Iterator[str]) -> int:
    """Write ``keys`` as the run's listing pages; return how many.

    The pages live in the destination, not on the pod's disk: the listing of ten million keys
    is 600 MB, and a pod's ``/tmp`` must not grow with the dataset.
    """
    total, page = 0, []
    for key in keys:
        page.append(json.dumps(key, ensure_ascii=False))
        total += 1
        if len(page) == run_layout.LISTING_PAGE:
            _write_page(destination, run_id, (total - 1) // run_layout.LISTING_PAGE, page)
            page = []
    if page:
        _write_page(destination, run_id, (total - 1) // run_layout.LISTING_PAGE, page)
    return total


def _write_page(destination: Storage, run_id: str, number: int, lines: list[str]) -> None:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    destination.write(run_layout.listing_key(run_id, number), data, "application/x-ndjson")


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


def shard(
    spec: Spec, run_id: str, *, incremental: bool = False, started_at: str | None = None, wait: float = 0.0
) -> list[dict]:
    """Take the destination, list and filter the source, write the listing pages and run record.

    Args:
        incremental: Skip sources already recorded in the destination's current generation, so
            a scheduled run processes only new uploads (zero new images is then no error).
        wait: Seconds to wait for another run that holds the destination.

    Raises:
        DestinationBusy: another live run holds the destination (exit 4).
        InvalidInput: an incremental run whose spec makes other bytes than the recorded ones.
        PermanentFailure: the source has no matching image (a wrong prefix or pattern).
    """
    source: Storage = open_storage(spec.source)
    destination: Storage = open_storage(spec.destination)
    source.check()
    destination.check()
    claim.acquire(destination, run_id, wait=wait)
    try:
        return _plan_run(spec, run_id, source, destination, incremental=incremental, started_at=started_at)
    except (InvalidInput, PermanentFailure):
        # No retry can change these: the run is over, so it lets the destination go at once.
        claim.release(destination, run_id)
        raise


def _plan_run(
    spec: Spec, run_id: str, source: Storage, destination: Storage, *, incremental: bool, started_at: str | None
) -> list[dict]:
    current = head.read(destination)
    continuing = incremental and current is not None
    if continuing and current is not None and current.get("output_hash") != spec.output_hash:
        raise InvalidInput(
            f"{destination.url}: incremental run refused: its records were made with output hash "
            f"{current.get('output_hash')} (engine {current.get('engine')}), this spec gives {spec.output_hash} "
            f"(engine {spec_module.ENGINE_VERSION}); run it with incremental=false to replace them, "
            "or choose another destination"
        )
    matches = matcher(spec.include)
    recorded_keys = recorded.read(destination) if continuing else iter(())
    started_at = started_at or datetime.now(UTC).isoformat(timespec="seconds")
    counts = {"matched": 0}
    total = _pages(destination, run_id, _new_keys((k for k in source.list_keys() if matches(k)), recorded_keys, counts))
    if counts["matched"] == 0:
        raise PermanentFailure(f"{source.url}: no images match include {list(spec.include)} (wrong prefix or pattern?)")
    sizes = plan(total, spec.shards, spec.shard_size)
    record = {
        "run_id": run_id,
        "started_at": started_at,
        "spec_sha256": spec.sha256,
        "output_hash": spec.output_hash,
        "source": spec.source,
        "destination": spec.destination,
        "inputs": total,
        "already_done": counts["matched"] - total,
        "incremental": incremental,
        # Whether this run adds to the current generation (incremental, and one exists).
        "continuing": continuing,
        "generation": current["generation"] if continuing and current is not None else run_id,
        "shards": len(sizes),
        "sizes": sizes,
    }
    destination.write(run_layout.run_record_key(run_id), json.dumps(record, indent=2).encode(), "application/json")
    return [{"index": index, "of": len(sizes), "images": size} for index, size in enumerate(sizes)]
