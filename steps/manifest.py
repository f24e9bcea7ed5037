"""Step 3: publish the run's manifest parts, update the index, write ``summary.json``, clean up.

The augment steps wrote each shard's records in chunks outside the published prefix. This step
checks that every shard finished, applies the failure limits, and then publishes without reading
or rewriting a single earlier record: each chunk is moved (a server-side copy on S3) to
``manifest/<generation>/<run-id>/``, the run's sources join the recorded-sources index, the head
names the run, and a full run removes the generation it replaces. What it reads is this run's
bookkeeping (one small object per shard) and a bounded part of the index, however many runs and
records came before. Every step of publication is idempotent, so a retried manifest step finishes
what a killed one started.

Also here: :func:`records`, which streams every current record in constant memory (what
``kaleidoscope manifest DEST`` prints).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from kaleidoscope.steps import claim, head, recorded, run_layout
from kaleidoscope.steps.errors import InvalidInput, KaleidoscopeError, PermanentFailure
from kaleidoscope.steps.locations import open_storage
from kaleidoscope.steps.runs import listed_keys, read_run
from kaleidoscope.steps.spec import ENGINE_VERSION, Spec
from kaleidoscope.steps.storage import Storage, read_json

#: Failures listed in summary.json itself; all of them are in the published failure parts.
FAILURE_SAMPLE = 20
#: Concurrent moves while publishing (each a server-side copy and a delete on S3).
PUBLISH_THREADS = 16


class TooManyFailed(PermanentFailure):
    """More inputs failed than the spec's limits allow: the run is red (exit 3, not retried:
    another try reads the same images)."""


def _shard_reports(destination: Storage, run: dict) -> list[dict]:
    reports, missing = [], []
    for index in range(run["shards"]):
        report = read_json(destination, run_layout.shard_done_key(run["run_id"], index))
        if report is None:
            missing.append(index)
        else:
            # Held for the whole step: the staged archives' tokens (upload ids, part tags: a few
            # hundred bytes an archive) are read again shard by shard when they are published.
            report["archive_chunks"] = [[c, len(tokens)] for c, tokens in report.get("archive_chunks", ())]
            reports.append(report)
    if missing:
        raise KaleidoscopeError(
            f"{destination.describe(run_layout.work_prefix(run['run_id']))}: shard(s) "
            f"{', '.join(map(str, missing))} of {run['shards']} did not finish; rerun those augment steps"
        )
    return reports


def _too_many(spec: Spec, inputs: int, failed: int) -> str | None:
    if spec.max_failed is not None and failed > spec.max_failed:
        return f"{failed} of {inputs} inputs failed, more than limits.max_failed ({spec.max_failed})"
    if inputs and failed / inputs > spec.max_failed_fraction:
        return (
            f"{failed} of {inputs} inputs failed ({failed / inputs:.1%}), more than "
            f"limits.max_failed_fraction ({spec.max_failed_fraction:g})"
        )
    return None


def _failure_sample(destination: Storage, run_id: str, reports: list[dict]) -> list[dict]:
    sample: list[dict] = []
    for report in reports:
        for chunk in report["failure_chunks"]:
            key = run_layout.chunk_failures_key(run_id, report["index"], chunk)
            for line in destination.read_lines(key):
                sample.append(json.loads(line))
                if len(sample) == FAILURE_SAMPLE:
                    return sample
    return sample


def _publish_parts(destination: Storage, run: dict, reports: list[dict]) -> None:
    run_id, generation = run["run_id"], run["generation"]
    moves = [
        (
            run_layout.chunk_records_key(run_id, r["index"], c),
            run_layout.published_part_key(generation, run_id, r["index"], c),
        )
        for r in reports
        for c in r["record_chunks"]
    ] + [
        (
            run_layout.chunk_failures_key(run_id, r["index"], c),
            run_layout.published_failures_key(generation, run_id, r["index"], c),
        )
        for r in reports
        for c in r["failure_chunks"]
    ]
    with ThreadPoolExecutor(max_workers=PUBLISH_THREADS, thread_name_prefix="publish") as pool:
        for future in [pool.submit(destination.move, source, target) for source, target in moves]:
            future.result()
        # Each committed chunk's staged archives, a shard's at a time (memory holds one shard's
        # tokens): what publishing one takes is the storage's business (a multipart upload's
        # completion on S3, a rename on a disk).
        for report in reports:
            if report["archive_chunks"]:
                done = json.loads(destination.read(run_layout.shard_done_key(run_id, report["index"])))
                tokens = done["archive_chunks"]
                for future in [pool.submit(destination.publish_staged, t) for _, chunk in tokens for t in chunk]:
                    future.result()
    # What killed attempts staged and no chunk committed: never to be published.
    destination.abort_staged(run_layout.archives_run_prefix(generation, run_id))
    keys = (
        f"{run_layout.published_archive_key(generation, run_id, r['index'], c, piece)}\n".encode()
        for r in reports
        for c, pieces in r["archive_chunks"]
        for piece in range(pieces)
    )
    if any(r["archive_chunks"] for r in reports):
        # After the archives, so a loader given the list never meets a key that is not there yet;
        # streamed, in key order (shard, chunk, piece), as the records name them.
        destination.write_stream(run_layout.archive_list_key(generation, run_id), keys, "text/plain")


def _remove_superseded(destination: Storage, run: dict) -> None:
    """After a full run, the records and failures of the generations it replaces.

    Only a full run lists ``manifest/`` and ``failures/``: its cost grows with the dataset as its
    own work does. An incremental run removes nothing and lists nothing here.
    """
    if run.get("continuing"):
        return
    keep = (
        run_layout.generation_prefix(run["generation"]),
        run_layout.failures_generation_prefix(run["generation"]),
        run_layout.archives_generation_prefix(run["generation"]),
    )
    stale = [
        key
        for prefix in (run_layout.MANIFEST_PREFIX, run_layout.FAILURES_PREFIX, run_layout.ARCHIVES_PREFIX)
        for key in destination.list_keys(prefix)
        if not key.startswith(keep)
    ]
    with ThreadPoolExecutor(max_workers=PUBLISH_THREADS, thread_name_prefix="supersede") as pool:
        for future in [pool.submit(destination.delete, key) for key in stale]:
            future.result()


def merge(
    spec: Spec,
    run_id: str,
    *,
    incremental: bool | None = None,
    finished_at: str | None = None,
    run_record: dict | None = None,
) -> dict:
    """Publish run ``run_id``: parts, index, head, ``summary.json``; then clean its work files.

    ``run_record`` is the run's record when the caller has read it already (else it is read here).

    Raises:
        ClaimLost: another run holds the destination (nothing is published).
        KaleidoscopeError: naming every shard that did not finish.
        TooManyFailed: the failure limits are exceeded; ``summary.json`` is written first.
    """
    destination = open_storage(spec.destination)
    entry = read_json(destination, run_layout.run_entry_key(run_id))
    if entry is not None:
        # Published already (a retry of a step killed after it finished): nothing left to do.
        return {
            "inputs": entry["inputs"],
            "outputs": entry["outputs"],
            "failed": entry["failed"],
            "manifest": destination.describe(run_layout.generation_prefix(entry["generation"])),
            "summary": destination.describe(run_layout.SUMMARY),
        }
    claim.renew(destination, run_id)  # fencing: publish only while this run holds the destination
    run = run_record or read_run(destination, run_id)
    if incremental is not None and incremental != bool(run.get("incremental")):
        raise InvalidInput(
            f"--incremental: bad value {str(incremental).lower()}: the shard step of run {run_id} ran with "
            f"incremental={str(bool(run.get('incremental'))).lower()}; both steps must agree"
        )
    reports = _shard_reports(destination, run)
    inputs = run["inputs"]
    outputs = sum(r["outputs"] for r in reports)
    failed = sum(r["failed"] for r in reports)
    finished_at = finished_at or datetime.now(UTC).isoformat(timespec="seconds")
    current = head.read(destination)
    continuing = bool(run.get("continuing")) and current is not None
    summary: dict[str, Any] = {
        "run_id": run_id,
        "status": "succeeded",
        "source": spec.source,
        "destination": spec.destination,
        "inputs": inputs,
        "outputs": outputs,
        "failed": failed,
        "failures": destination.describe(run_layout.failures_generation_prefix(run["generation"])),
        "failures_sample": _failure_sample(destination, run_id, reports),
        "incremental": bool(run.get("continuing")),
        "already_done": run.get("already_done", 0),
        "generation": run["generation"],
        "manifest": destination.describe(run_layout.generation_prefix(run["generation"])),
        "manifest_records": (current["records"] if continuing and current else 0) + outputs,
        "seed": spec.seed,
        "spec_sha256": spec.sha256,
        "output_hash": spec.output_hash,
        "engine": ENGINE_VERSION,
        "transforms": [{"label": t.label, "op": t.op, "options": dict(t.options)} for t in spec.transforms],
        "outputs_per_image": spec.outputs_per_image,
        "output_format": spec.output_format,
        "container": spec.container,
        "archives": destination.describe(run_layout.archives_generation_prefix(run["generation"]))
        if spec.container == "webdataset"
        else None,
        "archive_list": destination.describe(run_layout.archive_list_key(run["generation"], run_id))
        if spec.container == "webdataset" and outputs
        else None,
        "shards": run["shards"],
        "started_at": run["started_at"],
        "finished_at": finished_at,
    }
    too_many = _too_many(spec, inputs, failed)
    if too_many:
        # Nothing is published: the run is red. Its work files stay for a look (and for
        # `kaleidoscope gc`); the claim goes, since no retry can change the images.
        summary.update(status="failed", reason=too_many, manifest=None, manifest_records=None)
        _write_summary(destination, summary)
        claim.release(destination, run_id)
        raise TooManyFailed(f"{destination.describe(run_layout.SUMMARY)}: run {run_id} failed: {too_many}")

    # The order makes a publication cut short harmless and a retry finish it: the index first
    # (reading and merging the earlier index files, so a corrupt one stops the step before
    # anything is published), then the parts, then the head that makes them current, then the
    # removal of what a full run replaces.
    # Every input of the run is recorded, failed ones too: an incremental run adds what is new
    # and does not retry, night after night, an image that is broken (a full run retries them).
    sources = listed_keys(destination, run)
    count = inputs
    if continuing:
        recorded.add(destination, run_id, sources, count)
    else:
        recorded.write_run(destination, run_id, sources, count)
    _publish_parts(destination, run, reports)
    entry = {key: summary[key] for key in ("run_id", "generation", "inputs", "outputs", "failed", "started_at")}
    entry |= {"finished_at": finished_at, "incremental": summary["incremental"], "output_hash": spec.output_hash}
    destination.write(run_layout.run_entry_key(run_id), json.dumps(entry, indent=2).encode(), "application/json")
    head.write(
        destination,
        {
            "generation": run["generation"],
            "output_hash": spec.output_hash,
            "engine": ENGINE_VERSION,
            "records": summary["manifest_records"],
            "sources": (current["sources"] if continuing and current else 0) + count,
            "last_run": run_id,
            "updated_at": finished_at,
        },
    )
    _remove_superseded(destination, run)
    if not continuing:
        recorded.keep_only(destination, run_id)
    _write_summary(destination, summary)
    destination.delete_prefix(run_layout.work_prefix(run_id))
    claim.release(destination, run_id)
    return {
        "inputs": inputs,
        "outputs": outputs,
        "failed": failed,
        "manifest": summary["manifest"],
        "summary": destination.describe(run_layout.SUMMARY),
    }


def _write_summary(destination: Storage, summary: dict) -> None:
    data = json.dumps(summary, indent=2, ensure_ascii=False).encode("utf-8")
    destination.write(run_layout.SUMMARY, data, "application/json")


def part_keys(destination: Storage) -> list[str]:
    """The keys of the current generation's parts, in order (empty before the first run)."""
    current = head.read(destination)
    if current is None:
        return []
    return list(destination.list_keys(run_layout.generation_prefix(current["generation"])))


def failure_lines(destination: Storage) -> Iterator[bytes]:
    """Every failure the current generation recorded, as JSON lines, streaming: ``summary.json``
    keeps a sample of them only."""
    current = head.read(destination)
    if current is None:
        return
    for key in destination.list_keys(run_layout.failures_generation_prefix(current["generation"])):
        yield from destination.read_lines(key)


def record_lines(destination: Storage) -> Iterator[bytes]:
    """Every current record as a JSON line, streaming: one part's line in memory at a time."""
    for key in part_keys(destination):
        yield from destination.read_lines(key)


def records(location: str) -> Iterator[dict]:
    """Every current manifest record of the destination at ``location``, in constant memory.

    >>> for record in records("s3://bucket/augmented"):  # doctest: +SKIP
    ...     print(record["output"], record["ops"])
    """
    for line in record_lines(open_storage(location)):
        yield json.loads(line)
