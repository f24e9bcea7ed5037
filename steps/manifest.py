"""Step 3: merge the shards' manifest parts into ``manifest.jsonl`` and ``summary.json``.

``manifest.jsonl`` holds one record per generated image, in shard then key then tree order;
failed source images are listed in ``summary.json`` under ``failed``. Both files are written
atomically, and only once every shard's part is present: a run with a missing shard fails
here, naming the shard, instead of publishing a manifest that silently lacks images.
"""

from __future__ import annotations

import heapq
import json
import tempfile
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from kaleidoscope.steps.errors import InvalidInput, KaleidoscopeError
from kaleidoscope.steps.locations import open_storage
from kaleidoscope.steps.run_layout import MANIFEST, RECORDED, SUMMARY, part_key, run_prefix, run_record_key
from kaleidoscope.steps.shard import read_shard, recorded_sources
from kaleidoscope.steps.spec import Spec
from kaleidoscope.steps.storage import Storage


@contextmanager
def _scratch():
    """A local temporary file, deleted afterwards, for streaming a large object together."""
    handle = tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False)  # noqa: SIM115 - closed below
    try:
        yield handle
    finally:
        handle.close()
        Path(handle.name).unlink(missing_ok=True)


def read_run(destination: Storage, run_id: str) -> dict:
    """The record the shard step wrote for ``run_id``."""
    key = run_record_key(run_id)
    if not destination.exists(key):
        raise KaleidoscopeError(f"{destination.describe(key)}: no such run (was the shard step run with this run id?)")
    return json.loads(destination.read(key))


def merge(spec: Spec, run_id: str, *, incremental: bool | None = None, finished_at: str | None = None) -> dict:
    """Write manifest.jsonl and summary.json for run ``run_id``; return the step's result.

    An incremental run (see :func:`steps.shard.shard`) appends to the existing manifest.

    Raises:
        KaleidoscopeError: naming every shard whose part is missing.
    """
    destination = open_storage(spec.destination)
    run = read_run(destination, run_id)
    if incremental is not None and incremental != bool(run.get("incremental")):
        raise InvalidInput(
            f"--incremental: bad value {str(incremental).lower()}: the shard step of run {run_id} ran with "
            f"incremental={str(bool(run.get('incremental'))).lower()}; both steps must agree"
        )
    missing = [index for index in range(run["shards"]) if not destination.exists(part_key(run_id, index))]
    if missing:
        raise KaleidoscopeError(
            f"{destination.describe(run_prefix(run_id))}: no manifest part for shard(s) "
            f"{', '.join(map(str, missing))} of {run['shards']}; rerun those augment steps"
        )

    outputs = kept = 0
    failed: list[dict] = []
    incremental_run = bool(run.get("incremental"))
    with ExitStack() as cleanup:
        manifest = cleanup.enter_context(_scratch())
        sources = cleanup.enter_context(_scratch())
        if incremental_run and destination.exists(MANIFEST):
            # Earlier runs' records stay, except for sources this run processed again; that
            # also makes a retried manifest step rewrite the same file instead of appending twice.
            redone = {key for index in range(run["shards"]) for key in read_shard(destination, run_id, index)}
            for line in destination.read_lines(MANIFEST):
                if json.loads(line)["source"] not in redone:
                    manifest.write(line + b"\n")
                    kept += 1
        last_source = None
        for index in range(run["shards"]):
            for line in destination.read_lines(part_key(run_id, index)):
                record = json.loads(line)
                if "error" in record:
                    failed.append(record)
                    continue
                manifest.write(line + b"\n")
                outputs += 1
                if record["source"] != last_source:  # parts come in key order, tree after tree
                    sources.write(json.dumps(record["source"], ensure_ascii=False).encode("utf-8") + b"\n")
                    last_source = record["source"]
        manifest.close()
        sources.close()
        index = cleanup.enter_context(_scratch())
        earlier = recorded_sources(destination) if incremental_run else iter(())
        this_run = (json.loads(line) for line in cleanup.enter_context(open(sources.name, "rb")))
        previous = None
        for source in heapq.merge(earlier, this_run):
            if source != previous:
                index.write(json.dumps(source, ensure_ascii=False).encode("utf-8") + b"\n")
                previous = source
        index.close()
        destination.write_file(MANIFEST, Path(manifest.name), "application/x-ndjson")
        destination.write_file(RECORDED, Path(index.name), "application/x-ndjson")

    summary = {
        "run_id": run_id,
        "source": spec.source,
        "destination": spec.destination,
        "inputs": run["inputs"],
        "outputs": outputs,
        "failed": failed,
        "incremental": bool(run.get("incremental")),
        "already_done": run.get("already_done", 0),
        "manifest_records": kept + outputs,
        "seed": spec.seed,
        "spec_sha256": spec.sha256,
        "transforms": [{"label": t.label, "op": t.op, "options": dict(t.options)} for t in spec.transforms],
        "outputs_per_image": spec.outputs_per_image,
        "output_format": spec.output_format,
        "shards": run["shards"],
        "started_at": run["started_at"],
        "finished_at": finished_at or datetime.now(UTC).isoformat(timespec="seconds"),
    }
    destination.write(SUMMARY, json.dumps(summary, indent=2, ensure_ascii=False).encode("utf-8"), "application/json")
    return {
        "inputs": run["inputs"],
        "outputs": outputs,
        "failed": len(failed),
        "manifest": destination.describe(MANIFEST),
        "summary": destination.describe(SUMMARY),
    }
