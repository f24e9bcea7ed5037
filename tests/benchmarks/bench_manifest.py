"""Benchmark of what an incremental run reads from a destination that already holds many records:
the bookkeeping earlier runs left (manifest parts, recorded-sources index, head, run entries,
summary) against what the shard, augment and manifest steps read of it, at 10,000 and at
1,000,000 recorded records, on a real S3 server.

Run from the repository root (the file is not named ``test_*``, so pytest never collects it)::

    .venv/bin/python -m tests.benchmarks.bench_manifest                    # 10,000 and 1,000,000 records, ~1 min
    .venv/bin/python -m tests.benchmarks.bench_manifest --sizes 10000,100000   # quick look
    .venv/bin/python -m tests.benchmarks.bench_manifest --json manifest.json --check

What it proves (the two targets, printed with the measured figures and PASS/FAIL):

(a) bounded: the manifest step reads this run's own work files and a bounded part of the index,
    whatever the number of earlier records: its bytes read at the largest size are at most
    1.5x those at the smallest;
(b) an incremental run that adds ``--new-images`` (10) images reads from storage a small
    fraction of the bookkeeping the earlier runs left behind, the source listing aside: at the
    largest size, the bookkeeping bytes the three steps read over the bookkeeping bytes present
    is at most 0.01.

Set-up, per size N (``--sizes``), in a SeaweedFS server (``tests.s3server``, ``weed server -s3``
on loopback, authentication on) whose data folder is in a temporary folder (removed afterwards
unless ``--keep``), timed but not measured: a destination ``s3://<dst>/nNNNNNNNN`` (fixed-width,
so every key has the same length at every size) holding what a full run and ``--history-runs``
(7) incremental runs of ``--history-images`` (4) images each would have left, N/64 sources in all
with 64 records each (6 operations, every subset):

- published parts ``manifest/run-000/<run>/part-SSSSS-CCCCC.jsonl``, cut as the augment step cuts
  its chunks (``augment.chunk_images``: 250 images, 16,000 records, ~7.5 MB a part) over shards
  of 2,000 images. Their records are synthetic but real-sized (~490 bytes): the 64 records the
  augment step makes for one real 192x144 JPEG, with its source key replaced by each synthetic
  source's (all keys have one length; outputs keep the template's spread prefix and digests,
  which nothing reads here). Written with ``put_object``, several parts at a time;
- the recorded-sources index, written by ``steps.recorded`` itself (``replace_all`` for the full
  run, ``add`` for each incremental run, compacting as the manifest step does), so its files
  and levels are what that history gives: the full run's file and a few small ones;
- ``head.json`` (``steps.head.write``) naming generation ``run-000`` with the spec's
  ``output_hash``, one ``_kaleidoscope/runs/<run>.json`` entry per run, and ``summary.json``;
- no image outputs for the old records (no step reads them), no claim;
- the source ``s3://<src>/nNNNNNNNN``: the N/64 old keys as 1-byte objects (they are only listed:
  an incremental run skips them) and ``--new-images`` real 192x144 JPEGs under a new folder.

Measured: one real incremental run, in this process, through the steps' own code:
``shard.shard(spec, run, incremental=True)``, ``augment.augment_shard`` for each shard, then
``manifest.merge(spec, run, incremental=True)``. Every S3 request is counted on the steps' boto3
client through botocore's event system (``before-parameter-build`` notes the bucket and key or
prefix, ``after-call`` the response): bytes received are the response bodies (a GetObject's
``Content-Length``, the XML of a listing or an error; a HEAD receives none), bytes sent are
request bodies. Each request is put in one category by its key (a CopyObject by the key it
copies, a listing by its prefix): source listing, source objects, and in the destination:
earlier runs' bookkeeping (manifest parts, index, head, run entries, summary), this run's own
work files (``_kaleidoscope/work/<run>/``), the claim, the outputs, and the one-key check
listing. "Bookkeeping present" is the size of the earlier runs' bookkeeping
objects, listed before the run.

The old design, for contrast (computed, not run): its manifest step read the whole
``manifest.jsonl`` (the same records as the parts) and the whole single index file, and its
shard step the whole index again; so its bookkeeping read is parts + 2 x index.

Byte counts, not times, are the figures (time on this shared 2-core machine is reported for
information only). Exit status is 0 whatever the figures, unless something errs; with
``--check`` it is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import boto3
import cv2

from kaleidoscope.steps import augment, head, manifest, recorded, run_layout, shard
from kaleidoscope.steps import s3 as s3_module
from kaleidoscope.steps import spec as spec_module
from kaleidoscope.steps.locations import open_storage
from tests.benchmarks import _common
from tests.benchmarks.bench_augment import synthetic_photo

SOURCE_BUCKET = "kaleidoscope-manifest-src"
DESTINATION_BUCKET = "kaleidoscope-manifest-dst"
OPERATIONS = ("rotate_zoom", "contrast", "brightness", "saturation", "flip_lr", "noise")
OUTPUTS_PER_SOURCE = 2 ** len(OPERATIONS)
NORMALIZE_SIZE = 128
NEW_WIDTH, NEW_HEIGHT = 192, 144
QUALITY = 90
#: Images per shard of the synthetic full run (its parts: 8 chunks of 250 images a shard).
FULL_SHARD_SIZE = 2000
PART_THREADS = 4

BOUNDED_TARGET = 1.5  # (a): manifest step bytes read, largest size / smallest size
FRACTION_TARGET = 0.01  # (b): bookkeeping read / bookkeeping present, at the largest size

#: The categories of destination objects that earlier runs leave behind.
BOOKKEEPING = ("manifest parts", "index", "head", "run entries", "summary")
CATEGORIES = (
    "source listing",
    "source objects",
    *BOOKKEEPING,
    "this run's work files",
    "claim",
    "outputs",
    "destination check",
)
STEPS = ("shard", "augment", "manifest")


def source_key(batch: int, number: int) -> str:
    """Source keys of one length: the full run's are batch 0, each later run has its own batch."""
    return f"batch-{batch:02d}/img_{number:07d}.jpg"


def run_name(number: int) -> str:
    return f"run-{number:03d}"


def location(size: int) -> str:
    return f"n{size:08d}"


def spec_document(size: int) -> dict:
    return {
        "source": f"s3://{SOURCE_BUCKET}/{location(size)}",
        "destination": f"s3://{DESTINATION_BUCKET}/{location(size)}",
        "seed": 0,
        "normalize": {"size": NORMALIZE_SIZE},
        "transforms": list(OPERATIONS),
        "output": {"format": "jpg", "quality": QUALITY},
        "shard_size": 500,
    }


def jpeg(seed: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", synthetic_photo(seed, NEW_WIDTH, NEW_HEIGHT), [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    if not ok:
        raise RuntimeError("cannot encode a synthetic input")
    return buffer.tobytes()


# --------------------------------------------------------------------------
# What is counted
# --------------------------------------------------------------------------


def category(relative: str) -> str:
    """What a destination key is, relative to the destination."""
    if relative == "":
        return "destination check"
    if relative.startswith(run_layout.WORK_RUNS_PREFIX):
        return "this run's work files"
    if relative == run_layout.CLAIM:
        return "claim"
    if relative.startswith(run_layout.SOURCES_PREFIX):
        return "index"
    if relative == run_layout.HEAD:
        return "head"
    if relative.startswith(run_layout.RUNS_PREFIX):
        return "run entries"
    if relative.startswith((run_layout.MANIFEST_PREFIX, run_layout.FAILURES_PREFIX)):
        return "manifest parts"
    if relative == run_layout.SUMMARY:
        return "summary"
    return "outputs"


class Traffic:
    """Every request of a boto3 client: count, bytes received and sent, by operation and category.

    Registered on the client the steps share (``steps.s3.client()``); ``snapshot`` and ``since``
    cut the totals by step.
    """

    def __init__(self, client, prefixes: dict[str, str]):
        self.prefixes = prefixes  # bucket -> the location's prefix, "" for none
        self.totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        self._lock = threading.Lock()
        client.meta.events.register("before-parameter-build.s3", self._before)
        client.meta.events.register("after-call.s3", self._after)

    def _before(self, params=None, context=None, **_) -> None:  # must return None
        if params is None or context is None:
            return
        body = params.get("Body")
        # A copy (publishing a chunk) is put with what it copies: this run's work file. By now
        # botocore may have turned CopySource into "bucket/quoted-key".
        copied = params.get("CopySource")
        if isinstance(copied, dict):
            key = copied.get("Key")
        elif isinstance(copied, str):
            key = unquote(copied.split("?", 1)[0]).split("/", 1)[-1]
        else:
            key = params.get("Key")
        context["bench_request"] = (
            params.get("Bucket", ""),
            key if key is not None else params.get("Prefix", ""),
            _length(body),
        )

    def _after(self, http_response=None, model=None, context=None, **_) -> None:
        bucket, key, sent = (context or {}).get("bench_request", ("", "", 0))
        status = http_response.status_code if http_response is not None else 0
        if http_response is None:
            received = 0
        elif model is not None and model.has_streaming_output and status < 300:
            # A GetObject's body is still unread (the step streams it): its length is the header's.
            received = int(http_response.headers.get("content-length", 0))
        else:
            received = len(http_response.content or b"")
        operation = (model.name if model is not None else "?") + (f" ({status})" if status >= 300 else "")
        if bucket == SOURCE_BUCKET:
            kind = "source listing" if operation.startswith("ListObjectsV2") else "source objects"
        else:
            prefix = self.prefixes.get(bucket, "")
            kind = category(key[len(prefix) :] if key.startswith(prefix) else key)
        with self._lock:
            row = self.totals[(operation, kind)]
            row[0] += 1
            row[1] += received
            row[2] += sent

    def snapshot(self) -> dict[tuple[str, str], list[int]]:
        with self._lock:
            return {k: list(v) for k, v in self.totals.items()}

    def since(self, snapshot: dict) -> dict[tuple[str, str], list[int]]:
        now = self.snapshot()
        delta = {}
        for k, v in now.items():
            before = snapshot.get(k, [0, 0, 0])
            diff = [a - b for a, b in zip(v, before, strict=True)]
            if any(diff):
                delta[k] = diff
        return delta


def _length(body) -> int:
    """A request body's length: bytes, or the BytesIO botocore has already wrapped them in."""
    if isinstance(body, bytes | bytearray):
        return len(body)
    if isinstance(body, io.BytesIO):
        return body.getbuffer().nbytes
    return 0


def by_category(traffic: dict) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {c: {"requests": 0, "received": 0, "sent": 0} for c in CATEGORIES}
    for (_, kind), (requests, received, sent) in traffic.items():
        result[kind]["requests"] += requests
        result[kind]["received"] += received
        result[kind]["sent"] += sent
    return result


def by_operation(traffic: dict) -> dict[str, int]:
    result: dict[str, int] = defaultdict(int)
    for (operation, _), (requests, _, _) in traffic.items():
        result[operation] += requests
    return dict(sorted(result.items(), key=lambda item: -item[1]))


def present(admin, size: int) -> dict[str, dict[str, int]]:
    """Objects and bytes under the destination by category (an uncounted listing)."""
    prefix = location(size) + "/"
    result: dict[str, dict[str, int]] = {c: {"objects": 0, "bytes": 0} for c in CATEGORIES}
    for page in admin.get_paginator("list_objects_v2").paginate(Bucket=DESTINATION_BUCKET, Prefix=prefix):
        for item in page.get("Contents", ()):
            kind = category(item["Key"][len(prefix) :])
            result[kind]["objects"] += 1
            result[kind]["bytes"] += item["Size"]
    return result


# --------------------------------------------------------------------------
# Set-up: what earlier runs left
# --------------------------------------------------------------------------


class Template:
    """The records of one real image, ready to be stamped with another source key of one length."""

    def __init__(self, spec: spec_module.Spec):
        self.key = source_key(0, 0)
        variants = list(augment.variants(spec, self.key, jpeg(0)))
        if len(variants) != OUTPUTS_PER_SOURCE:
            raise RuntimeError(f"the template image gave {len(variants)} records, expected {OUTPUTS_PER_SOURCE}")
        block = "".join(json.dumps(v.record, ensure_ascii=False, separators=(",", ":")) + "\n" for v in variants)
        self.pieces = block.split(self.key)
        self.bytes_per_source = len(block.encode("utf-8"))

    def records(self, keys: list[str]) -> bytes:
        return "".join(key.join(self.pieces) for key in keys).encode("utf-8")


def build(server, admin, size: int, spec: spec_module.Spec, template: Template, args) -> dict:
    """Fill the source and the destination of size ``size`` as a history of runs would have."""
    started = time.perf_counter()
    sources = max(1, round(size / OUTPUTS_PER_SOURCE))
    full = sources - args.history_runs * args.history_images
    if full < 1:
        raise SystemExit(f"--sizes {size}: too few sources ({sources}) for the history runs")
    runs = {0: [source_key(0, n) for n in range(full)]}
    for number in range(1, args.history_runs + 1):
        runs[number] = [source_key(number, n) for n in range(args.history_images)]
    prefix = location(size) + "/"

    # The source: the old keys as 1-byte objects, the new images real.
    old_keys = [prefix + key for keys in runs.values() for key in keys]
    upload = _common.upload_keys(server, SOURCE_BUCKET, old_keys, args.upload_threads, body=b"x")
    new_batch = args.history_runs + 1
    for number in range(args.new_images):
        admin.put_object(Bucket=SOURCE_BUCKET, Key=prefix + source_key(new_batch, number), Body=jpeg(1000 + number))
    upload_seconds = time.perf_counter() - started

    # The published parts, cut as the augment step cuts its chunks.
    generation = run_name(0)
    per_chunk = augment.chunk_images(spec)
    jobs: list[tuple[str, list[str]]] = []
    for number, keys in runs.items():
        sizes = shard.plan(len(keys), None, FULL_SHARD_SIZE)
        start = 0
        for index, count in enumerate(sizes):
            shard_keys = keys[start : start + count]
            start += count
            for chunk, first in enumerate(range(0, count, per_chunk)):
                part = run_layout.published_part_key(generation, run_name(number), index, chunk)
                jobs.append((part, shard_keys[first : first + per_chunk]))

    def put_part(job: tuple[str, list[str]]) -> int:
        key, keys = job
        body = template.records(keys)
        admin.put_object(Bucket=DESTINATION_BUCKET, Key=prefix + key, Body=body, ContentType="application/x-ndjson")
        return len(body)

    parts_started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=PART_THREADS, thread_name_prefix="parts") as pool:
        part_bytes = sum(pool.map(put_part, jobs))
    parts_seconds = time.perf_counter() - parts_started

    # The index, the head, the run entries and the summary, by the steps' own code.
    destination = open_storage(spec.destination)
    recorded.replace_all(destination, run_name(0), iter(runs[0]), len(runs[0]))
    for number in range(1, args.history_runs + 1):
        recorded.add(destination, run_name(number), iter(runs[number]), len(runs[number]))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for number, keys in runs.items():
        entry = {
            "run_id": run_name(number),
            "generation": generation,
            "inputs": len(keys),
            "outputs": len(keys) * OUTPUTS_PER_SOURCE,
            "failed": 0,
            "started_at": now,
            "finished_at": now,
            "incremental": number > 0,
            "output_hash": spec.output_hash,
        }
        destination.write(run_layout.run_entry_key(run_name(number)), json.dumps(entry, indent=2).encode())
    last = run_name(args.history_runs)
    summary = {
        "run_id": last,
        "status": "succeeded",
        "source": spec.source,
        "destination": spec.destination,
        "inputs": len(runs[args.history_runs]),
        "outputs": len(runs[args.history_runs]) * OUTPUTS_PER_SOURCE,
        "failed": 0,
        "failures": destination.describe(run_layout.failures_generation_prefix(generation)),
        "failures_sample": [],
        "incremental": args.history_runs > 0,
        "already_done": sources - len(runs[args.history_runs]),
        "generation": generation,
        "manifest": destination.describe(run_layout.generation_prefix(generation)),
        "manifest_records": sources * OUTPUTS_PER_SOURCE,
        "seed": spec.seed,
        "spec_sha256": spec.sha256,
        "output_hash": spec.output_hash,
        "engine": spec_module.ENGINE_VERSION,
        "transforms": [{"label": t.label, "op": t.op, "options": dict(t.options)} for t in spec.transforms],
        "outputs_per_image": spec.outputs_per_image,
        "output_format": spec.output_format,
        "shards": 1,
        "started_at": now,
        "finished_at": now,
    }
    destination.write(run_layout.SUMMARY, json.dumps(summary, indent=2).encode(), "application/json")
    head.write(
        destination,
        {
            "generation": generation,
            "output_hash": spec.output_hash,
            "engine": spec_module.ENGINE_VERSION,
            "records": sources * OUTPUTS_PER_SOURCE,
            "sources": sources,
            "last_run": last,
            "updated_at": now,
        },
    )
    return {
        "size": size,
        "sources": sources,
        "records": sources * OUTPUTS_PER_SOURCE,
        "full_run_sources": full,
        "parts": len(jobs),
        "part_bytes": part_bytes,
        "record_bytes": template.bytes_per_source / OUTPUTS_PER_SOURCE,
        "index_files": [{"level": level, "key": key} for level, key in recorded.files(destination)],
        "upload": upload,
        "seconds": {
            "source": upload_seconds,
            "parts": parts_seconds,
            "total": time.perf_counter() - started,
        },
    }


# --------------------------------------------------------------------------
# The measured run
# --------------------------------------------------------------------------


def incremental_run(spec: spec_module.Spec, run_id: str, traffic: Traffic, new_images: int) -> dict:
    steps = {}
    mark, start = traffic.snapshot(), time.perf_counter()
    references = shard.shard(spec, run_id, incremental=True)
    steps["shard"] = {"seconds": time.perf_counter() - start, "traffic": traffic.since(mark)}
    if sum(r["images"] for r in references) != new_images:
        raise RuntimeError(f"the shard step planned {references}, expected {new_images} new images")

    mark, start = traffic.snapshot(), time.perf_counter()
    results = [augment.augment_shard(spec, run_id, r["index"]) for r in references]
    steps["augment"] = {"seconds": time.perf_counter() - start, "traffic": traffic.since(mark)}
    if sum(r["outputs"] for r in results) != new_images * OUTPUTS_PER_SOURCE or any(r["failed"] for r in results):
        raise RuntimeError(f"the augment steps gave {results}")

    mark, start = traffic.snapshot(), time.perf_counter()
    merged = manifest.merge(spec, run_id, incremental=True)
    steps["manifest"] = {"seconds": time.perf_counter() - start, "traffic": traffic.since(mark)}
    if merged["outputs"] != new_images * OUTPUTS_PER_SOURCE:
        raise RuntimeError(f"the manifest step gave {merged}")
    return {"shards": len(references), "steps": steps}


def verify(spec: spec_module.Spec, built: dict, run_id: str, new_images: int) -> dict:
    """After the run (uncounted by the figures): the head, the index and the published parts agree."""
    destination = open_storage(spec.destination)
    current = head.read(destination)
    expected_records = built["records"] + new_images * OUTPUTS_PER_SOURCE
    if current is None or current["records"] != expected_records or current["last_run"] != run_id:
        raise RuntimeError(f"head after the run: {current}, expected {expected_records} records by {run_id}")
    indexed = sum(1 for _ in recorded.read(destination))
    if indexed != built["sources"] + new_images:
        raise RuntimeError(f"the index holds {indexed} sources, expected {built['sources'] + new_images}")
    published = list(destination.list_keys(f"{run_layout.generation_prefix(current['generation'])}{run_id}/"))
    if not published or destination.exists(run_layout.CLAIM):
        raise RuntimeError(f"published parts {published}; claim left: {destination.exists(run_layout.CLAIM)}")
    return {"published_parts": len(published), "index_files": [key for _, key in recorded.files(destination)]}


def figures(built: dict, before: dict, after: dict, run: dict, new_images: int) -> dict:
    steps = run["steps"]
    categories = {name: by_category(steps[name]["traffic"]) for name in STEPS}
    bookkeeping_present = sum(before[c]["bytes"] for c in BOOKKEEPING)
    read = {name: sum(categories[name][c]["received"] for c in BOOKKEEPING) for name in STEPS}
    total_read = {name: sum(v["received"] for v in categories[name].values()) for name in STEPS}
    listing = categories["shard"]["source listing"]
    all_read = sum(total_read.values())
    old_read = before["manifest parts"]["bytes"] + 2 * before["index"]["bytes"]
    written = {name: sum(categories[name][c]["sent"] for c in BOOKKEEPING) for name in STEPS}
    new_records = after["manifest parts"]["bytes"] - before["manifest parts"]["bytes"]
    new_index = max(after["index"]["bytes"] - before["index"]["bytes"], 0)
    return {
        "size": built["size"],
        "records": built["records"],
        "sources": built["sources"],
        "new_images": new_images,
        "record_bytes": built["record_bytes"],
        "present": before,
        "present_after": after,
        "bookkeeping_present": bookkeeping_present,
        "bookkeeping_read": read,
        "bookkeeping_read_total": sum(read.values()),
        "fraction": sum(read.values()) / bookkeeping_present,
        "bytes_read": total_read,
        "bytes_read_total": all_read,
        "manifest_read": total_read["manifest"],
        "manifest_requests": sum(v["requests"] for v in categories["manifest"].values()),
        "listing": listing,
        "listing_share": listing["received"] / all_read if all_read else 0.0,
        "source_objects": categories["augment"]["source objects"],
        "own_work_read": sum(categories[name]["this run's work files"]["received"] for name in STEPS),
        "categories": categories,
        "operations": {name: by_operation(steps[name]["traffic"]) for name in STEPS},
        "seconds": {name: steps[name]["seconds"] for name in STEPS},
        "old_design_read": old_read,
        "bookkeeping_written": written,
        "new_record_bytes": new_records,
        # The old manifest step rewrote manifest.jsonl and the index whole, with this run's additions.
        "old_design_written": before["manifest parts"]["bytes"] + new_records + before["index"]["bytes"] + new_index,
        "old_design_fraction": old_read / bookkeeping_present,
        "shards": run["shards"],
    }


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def size_text(count: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.{1 if count < 100 * scale else 0}f} {unit}"
    return f"{count:.0f} B"


def report_table(results: list[dict]) -> str:
    headers = ("", *(f"N = {r['records']:,}" for r in results))

    def row(label: str, value) -> tuple[str, ...]:
        return (label, *(value(r) for r in results))

    def step_read(name: str):
        def cell(r: dict) -> str:
            c = r["categories"][name]
            parts = [f"{kind} {size_text(c[kind]['received'])}" for kind in BOOKKEEPING if c[kind]["received"]]
            return f"{size_text(r['bookkeeping_read'][name])}" + (f" ({', '.join(parts)})" if parts else "")

        return cell

    rows = [
        row("recorded sources (64 records each)", lambda r: f"{r['sources']:,}"),
        row(
            "bookkeeping present",
            lambda r: f"{size_text(r['bookkeeping_present'])} = {r['bookkeeping_present']:,} B",
        ),
        row(
            "  manifest parts",
            lambda r: (
                f"{size_text(r['present']['manifest parts']['bytes'])} in "
                f"{r['present']['manifest parts']['objects']} parts ({r['record_bytes']:.0f} B/record)"
            ),
        ),
        row(
            "  recorded-sources index",
            lambda r: f"{size_text(r['present']['index']['bytes'])} in {r['present']['index']['objects']} files",
        ),
        row(
            "  head + run entries + summary",
            lambda r: (
                size_text(sum(r["present"][c]["bytes"] for c in ("head", "run entries", "summary")))
                + f" ({r['present']['run entries']['objects']} entries)"
            ),
        ),
        row("bookkeeping read: shard step", step_read("shard")),
        row("bookkeeping read: augment step", step_read("augment")),
        row("bookkeeping read: manifest step", step_read("manifest")),
        row(
            "bookkeeping read / present",
            lambda r: (
                f"{size_text(r['bookkeeping_read_total'])} / {size_text(r['bookkeeping_present'])} = "
                f"{r['fraction']:.5f}"
            ),
        ),
        row(
            "manifest step: all bytes read",
            lambda r: (
                f"{size_text(r['manifest_read'])} = {r['manifest_read']:,} B in {r['manifest_requests']} requests"
            ),
        ),
        row(
            "source listing (share of all bytes read)",
            lambda r: (
                f"{size_text(r['listing']['received'])} in {r['listing']['requests']} requests "
                f"({r['listing_share']:.0%} of {size_text(r['bytes_read_total'])})"
            ),
        ),
        row(
            f"source objects read ({results[0]['new_images']} new images)",
            lambda r: f"{size_text(r['source_objects']['received'])} in {r['source_objects']['requests']} GETs",
        ),
        row("this run's own work files read", lambda r: size_text(r["own_work_read"])),
        row(
            "old design: bookkeeping read / present",
            lambda r: (
                f"{size_text(r['old_design_read'])} / {size_text(r['bookkeeping_present'])} = "
                f"{r['old_design_fraction']:.2f}"
            ),
        ),
        row(
            "bookkeeping written: manifest step",
            lambda r: (
                f"{size_text(r['bookkeeping_written']['manifest'])} (+ {size_text(r['new_record_bytes'])} of "
                "this run's records moved server-side)"
            ),
        ),
        row("old design: bookkeeping written", lambda r: size_text(r["old_design_written"])),
        row(
            "time: shard / augment / manifest (info)",
            lambda r: " / ".join(f"{r['seconds'][name]:.1f} s" for name in STEPS),
        ),
    ]
    return _common.table(rows, headers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default="10000,1000000",
        help="recorded records of the destinations, comma-separated (default 10000,1000000)",
    )
    parser.add_argument("--new-images", type=int, default=10, help="images the incremental run adds (default 10)")
    parser.add_argument(
        "--history-runs", type=int, default=7, help="incremental runs after the full run, before (default 7)"
    )
    parser.add_argument("--history-images", type=int, default=4, help="images each of those runs added (default 4)")
    parser.add_argument(
        "--upload-threads", type=int, default=32, help="threads uploading the old source objects (default 32)"
    )
    _common.add_run_arguments(parser, check="exit 1 when a target is missed", server=True)
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(text) for text in args.sizes.split(",") if text.strip()})
    except ValueError:
        parser.error("--sizes: comma-separated numbers of records")
    if not sizes or sizes[0] < OUTPUTS_PER_SOURCE:
        parser.error(f"--sizes: at least {OUTPUTS_PER_SOURCE} records each")
    if args.new_images < 1 or args.history_runs < 0 or args.history_images < 1 or args.upload_threads < 1:
        parser.error("--new-images, --history-images and --upload-threads must be positive, --history-runs >= 0")
    _common.stop_on_sigterm()

    cv2.setNumThreads(1)
    env = _common.environment(boto3=boto3.__version__, cv2=cv2.__version__, weed=_common.weed_version())
    print("Kaleidoscope manifest benchmark: what an incremental run reads (real S3 server)")
    print(f"  cpus {env['cpu_count']}, python {env['python']}, boto3 {env['boto3']}, {env['weed']}")
    print(_common.platform_line(env))
    print(
        f"  sizes {', '.join(f'{s:,}' for s in sizes)} records ({OUTPUTS_PER_SOURCE} per source); history: a full "
        f"run and {args.history_runs} incremental runs of {args.history_images} images; the measured run adds "
        f"{args.new_images} images"
    )
    started = time.perf_counter()
    workdir = _common.make_workdir(args.workdir, "kaleidoscope-bench-manifest-")
    env["workdir"], env["workdir_fs"] = str(workdir), _common.filesystem(workdir)
    results, builds = [], []
    try:
        with _common.seaweed(workdir / "seaweedfs") as server:
            print(f"  SeaweedFS {server.endpoint}, data in {workdir / 'seaweedfs'} ({env['workdir_fs']})", flush=True)
            admin = server.client()
            for bucket in (SOURCE_BUCKET, DESTINATION_BUCKET):
                server.make_bucket(bucket)
            traffic = Traffic(s3_module.client(), {SOURCE_BUCKET: "", DESTINATION_BUCKET: ""})
            for size in sizes:
                spec = spec_module.parse(spec_document(size))
                template = Template(spec)
                print(f"N = {size:,}: set-up ...", flush=True)
                built = build(server, admin, size, spec, template, args)
                builds.append(built)
                print(
                    f"  {built['sources']:,} sources ({built['records']:,} records) uploaded in "
                    f"{built['seconds']['source']:.1f} s; {built['parts']} parts, {size_text(built['part_bytes'])}, "
                    f"in {built['seconds']['parts']:.1f} s; index files "
                    f"{', '.join(f['key'].rsplit('/', 1)[-1] for f in built['index_files'])}",
                    flush=True,
                )
                traffic.prefixes[DESTINATION_BUCKET] = location(size) + "/"
                before = present(admin, size)
                run_id = run_name(args.history_runs + 1)
                run = incremental_run(spec, run_id, traffic, args.new_images)
                after = present(admin, size)
                checked = verify(spec, built, run_id, args.new_images)
                result = figures(built, before, after, run, args.new_images)
                result["verified"] = checked
                results.append(result)
                timings = " / ".join(f"{name} {result['seconds'][name]:.1f} s" for name in STEPS)
                print(
                    f"  incremental run {run_id}: {timings}; "
                    f"bookkeeping read {size_text(result['bookkeeping_read_total'])} of "
                    f"{size_text(result['bookkeeping_present'])}; index now "
                    f"{', '.join(k.rsplit('/', 1)[-1] for k in checked['index_files'])}",
                    flush=True,
                )
    finally:
        if args.keep:
            print(f"  data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    env["loadavg_end"] = os.getloadavg()
    smallest, largest = results[0], results[-1]
    bounded = largest["manifest_read"] / smallest["manifest_read"] if len(results) > 1 else None
    bounded_pass = None if bounded is None else bounded <= BOUNDED_TARGET
    fraction_pass = largest["fraction"] <= FRACTION_TARGET

    print()
    print(report_table(results))
    print()
    targets = [
        (
            f"(a) manifest step bytes read, N = {largest['records']:,} vs {smallest['records']:,}",
            (
                f"{largest['manifest_read']:,} vs {smallest['manifest_read']:,} B = {bounded:.3f}x"
                if bounded is not None
                else "one size only"
            ),
            f"<= {BOUNDED_TARGET}x",
            _common.verdict(bounded_pass),
        ),
        (
            f"(b) bookkeeping read / present, N = {largest['records']:,}",
            f"{largest['bookkeeping_read_total']:,} / {largest['bookkeeping_present']:,} B = {largest['fraction']:.5f}",
            f"<= {FRACTION_TARGET}",
            _common.verdict(fraction_pass),
        ),
    ]
    print(_common.table(targets))
    print()
    print("Requests by step and operation (status shown when not 2xx), and bytes received by category:")
    for result in results:
        print(f"  N = {result['records']:,}:")
        for name in STEPS:
            operations = ", ".join(f"{op} {count}" for op, count in result["operations"][name].items())
            received = ", ".join(
                f"{kind} {size_text(c['received'])}"
                for kind, c in result["categories"][name].items()
                if c["received"] or c["requests"]
            )
            print(f"    {name:<9} {operations}")
            print(f"    {'':<9} received: {received}")
    print()
    print(
        "The shard step reads the whole index (it merges it against the listing): its bytes grow with the "
        "number of sources,\nlike the listing's but ~"
        f"{largest['listing']['received'] / max(largest['categories']['shard']['index']['received'], 1):.0f}x "
        "smaller. The manifest step reads this run's work files and the index files it compacts (small ones)."
    )
    setups = ", ".join(f"N = {b['records']:,} {b['seconds']['total']:.0f} s" for b in builds)
    print(
        f"Set-up (not measured): {setups}. "
        f"Load average at end: {' '.join(f'{v:.2f}' for v in env['loadavg_end'])}; total time "
        f"{time.perf_counter() - started:.0f} s"
    )

    report = {
        "environment": env,
        "settings": {**vars(args), "sizes": sizes},
        "builds": builds,
        "results": results,
        "targets": {
            "bounded": {"ratio": bounded, "target": BOUNDED_TARGET, "pass": bounded_pass},
            "fraction": {"value": largest["fraction"], "target": FRACTION_TARGET, "pass": fraction_pass},
        },
        "seconds": time.perf_counter() - started,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 1 if args.check and not (fraction_pass and bounded_pass is not False) else 0


if __name__ == "__main__":
    sys.exit(main())
