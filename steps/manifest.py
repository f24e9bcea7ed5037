"""Step 3: merge the shards' manifest parts into ``manifest.jsonl`` and ``summary.json``.

``manifest.jsonl`` holds one record per generated image, in shard then key then tree order;
failed source images are listed in ``summary.json`` under ``failed``. Both files are written
atomically, and only once every shard's part is present: a run with a missing shard fails
here, naming the shard, instead of publishing a manifest that silently lacks images.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from steps.augment import part_key
from steps.errors import KaleidoscopeError
from steps.shard import run_prefix
from steps.spec import Spec
from steps.storage import Storage, open_storage

MANIFEST = "manifest.jsonl"
SUMMARY = "summary.json"


def read_run(destination: Storage, run_id: str) -> dict:
    """The record the shard step wrote for ``run_id``."""
    key = f"{run_prefix(run_id)}/run.json"
    if not destination.exists(key):
        raise KaleidoscopeError(f"{destination.describe(key)}: no such run (was the shard step run with this run id?)")
    return json.loads(destination.read(key))


def merge(spec: Spec, run_id: str, *, finished_at: str | None = None) -> dict:
    """Write manifest.jsonl and summary.json for run ``run_id``; return the step's result.

    Raises:
        KaleidoscopeError: naming every shard whose part is missing.
    """
    destination = open_storage(spec.destination)
    run = read_run(destination, run_id)
    missing = [index for index in range(run["shards"]) if not destination.exists(part_key(run_id, index))]
    if missing:
        raise KaleidoscopeError(
            f"{destination.describe(run_prefix(run_id))}: no manifest part for shard(s) "
            f"{', '.join(map(str, missing))} of {run['shards']}; rerun those augment steps"
        )

    outputs = 0
    failed: list[dict] = []
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as manifest:
        try:
            for index in range(run["shards"]):
                for line in destination.read(part_key(run_id, index)).splitlines():
                    record = json.loads(line)
                    if "error" in record:
                        failed.append(record)
                    else:
                        manifest.write(line + b"\n")
                        outputs += 1
            manifest.close()
            destination.write_file(MANIFEST, Path(manifest.name), "application/x-ndjson")
        finally:
            Path(manifest.name).unlink(missing_ok=True)

    summary = {
        "run_id": run_id,
        "source": spec.source,
        "destination": spec.destination,
        "inputs": run["inputs"],
        "outputs": outputs,
        "failed": failed,
        "seed": spec.seed,
        "spec_sha256": spec.sha256,
        "transforms": [{"label": t.label, "op": t.op, "options": dict(t.options)} for t in spec.transforms],
        "outputs_per_image": spec.outputs_per_image,
        "output_format": spec.output_format,
        "shards": run["shards"],
        "started_at": run["started_at"],
        "finished_at": finished_at or datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    destination.write(SUMMARY, json.dumps(summary, indent=2, ensure_ascii=False).encode("utf-8"), "application/json")
    return {
        "inputs": run["inputs"],
        "outputs": outputs,
        "failed": len(failed),
        "manifest": destination.describe(MANIFEST),
        "summary": destination.describe(SUMMARY),
    }
