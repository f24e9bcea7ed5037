"""Benchmark of the shard step against a real S3 server: its time and peak memory for 100,000
keys, the same for 10,000 keys (memory must not grow with the key count), the same for
incremental mode (merging the sorted recorded-sources index against the listing; memory must not
grow with the index either), and the extrapolation of each to 10 million keys.

Run from the repository root (the file is not named ``test_*``, so pytest never collects it)::

    .venv/bin/python -m tests.benchmarks.bench_shard                        # default, ~1.5 min on 2 cores, mostly set-up
    .venv/bin/python -m tests.benchmarks.bench_shard --keys 20000 --small-keys 2000 --wide-shard 5000  # quick look
    .venv/bin/python -m tests.benchmarks.bench_shard --json shard.json --check

Set-up, in a temporary folder (removed afterwards unless ``--keep``), timed and reported but
not part of any figure: a SeaweedFS server (``tests.s3server``, ``weed server -s3`` on loopback,
authentication on) with its data folder inside the temporary folder, on disk; ``--keys`` tiny
objects (3 bytes each) uploaded to a source bucket under ``set/a/`` (the first ``--small-keys``)
and ``set/b/``, as ``set/<a|b>/d<NN>/s<N>/img_<NNNNNNN>.jpg``, by ``--upload-threads`` threads
(``_common.upload_keys``; ``--uploader signed``, the default: PUT requests signed by botocore's
SigV4 signer and sent on one keep-alive ``http.client`` connection per thread; ``--uploader
boto3``: ``put_object`` on a shared boto3 client, the same requests at about 3x the client CPU
(~2.5 ms per PUT), which on 2 cores makes the upload GIL-bound at ~300 PUT/s instead of 550-950
depending on the load). And, in one destination, what earlier runs leave for an incremental run
to read: a recorded-sources index (``steps.recorded``: sorted files under
``_kaleidoscope/sources/`` named by ``run_layout.sources_key(level, run)``) holding all but
``--new-fraction`` of the source's keys (the highest-numbered ones, spread over the listing, are
the new ones), relative to the source prefix, written by ``recorded.replace_all`` as a full run's
file and then ``recorded.add`` as ``--index-runs`` incremental runs' files of ``--index-run-keys``
keys each (so the merge reads several files, as it does on a destination that has seen nightly
runs); and a ``head.json`` (``steps.head.write``) naming that generation with the spec's
``output_hash``, without which an incremental run is a full one.

What is measured, each in a fresh ``python -c`` subprocess running
``steps.shard.shard(spec, run_id)`` (a fresh run id and destination prefix each time):

1. small: ``s3://<src>/set/a`` (``--small-keys`` keys), ``shard_size: --shard-size`` (500);
2. large: ``s3://<src>/set`` (``--keys`` keys), the same shard size;
3. wide: the large source with ``shard_size: --wide-shard`` (20,000: the shard size the 500-shard
   cap gives at 10 million keys); the step's memory no longer depends on the shard size (it
   writes the listing in pages of ``run_layout.LISTING_PAGE`` keys whatever the plan), which
   this run shows;
4. incremental: the large source, ``shard(..., incremental=True)``, the same shard size, into the
   destination holding the synthetic index: the step streams the index files (a ``heapq.merge``)
   against the listing, so only the new keys go into the listing pages. After each incremental
   run, untimed, the benchmark releases the run's claim and removes its work folder, as the
   manifest step would, so the next repetition can take the destination.

Every run takes the destination's claim (``steps.claim``: three requests) and writes its
listing pages (``_kaleidoscope/work/<run>/listing/NNNNN.jsonl``, 10,000 keys a page) and
``run.json`` into the destination; nothing goes to the pod's disk.

The child notes its RSS after its imports and after creating the boto3 client (a fixed cost,
mostly the S3 service model), then resets its high-water mark (writing "5" to
``/proc/self/clear_refs`` sets ``VmHWM`` to the current RSS) and reads ``VmHWM`` from
``/proc/self/status`` after the step: the step's own peak above that baseline. ``ru_maxrss`` is
recorded in the JSON but not used: Linux copies the launching process's high-water mark into the
child's at exec, so every child would report at least the benchmark's own peak. The child also
times the listing (time spent inside ``S3Storage.list_keys``) and, in incremental mode, the
reading of the index (time spent producing ``recorded.read``'s stream: the listing of the index
files, their GETs, streaming and parsing, and how many sources the merge read), and counts its
S3 requests by operation. The server's CPU time is read from /proc for each run.

The machine is shared and noisy: the four runs are interleaved within each repetition (their
order rotates), and the reported figures are medians over ``--repeat`` repetitions.

Extrapolation to ``--target-keys`` (10 million): the listing is paged at 1000 keys per
ListObjectsV2 request and written in pages of 10,000 keys, so requests grow linearly (10,000
list pages, 1,000 page PUTs); time is extrapolated linearly from the wide run (the shard size of
a 10-million-key run), and memory is bounded by one listing page, which every run here reaches.
Incremental mode with 10 million recorded sources: time linear in the listed keys (the
incremental run's time per key), memory constant (besides what the non-incremental step holds,
the merge holds one read buffer per index file, whatever their size: the incremental run's
peak), and the index's size from its bytes per source.

``--profile`` adds a CPU profile of listing the small source in this process: where the
listing's time per key goes.

Targets (``--check``): the large run's peak above its baseline is within the small run's plus
``--memory-slack-mb`` (2 MB; keeping even 24 bytes per extra key would exceed it with the default
90,000 extra keys, and a Python string per key costs ~75 bytes); and the incremental run's peak
is within the large run's plus the same slack (holding the 95,000 recorded sources of the default
in memory, at ~75 bytes a string, would exceed it several times over).
Exit status is 0 whatever the figures, unless something errs; with ``--check`` it is 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import botocore

from kaleidoscope.steps import claim, head, recorded, run_layout
from kaleidoscope.steps import spec as spec_module
from kaleidoscope.steps.locations import open_storage
from tests.benchmarks import _common

ROOT = Path(__file__).resolve().parents[2]
SOURCE_BUCKET = "kaleidoscope-keys-src"
DESTINATION_BUCKET = "kaleidoscope-keys-dst"
BODY = b"jpg"
LIST_PAGE = 1000  # ListObjectsV2's maximum page, steps.s3.Settings.page_size
MAX_SHARDS = spec_module.MAX_SHARDS
TRANSFORMS = ["rotate_zoom", "contrast", "brightness", "saturation", "flip_lr", "noise"]


def source_key(index: int, small: int) -> str:
    return f"set/{'a' if index < small else 'b'}/d{index % 100:02d}/s{(index // 100) % 10}/img_{index:07d}.jpg"


# --------------------------------------------------------------------------
# Set-up
# --------------------------------------------------------------------------


def write_index(
    destination_url: str, spec: spec_module.Spec, recorded_keys: list[str], runs: int, run_keys: int
) -> dict:
    """What earlier runs leave for an incremental run: the recorded-sources index and the head.

    The index is written by ``steps.recorded`` itself, as the manifest step writes it: a full
    run's file (``replace_all``), then ``runs`` incremental runs' files of ``run_keys`` keys each
    (``add``, compacting as it goes); the head names that generation with the spec's output hash.
    """
    destination = open_storage(destination_url)
    ordered = sorted(recorded_keys)  # Python's string order is S3's UTF-8 byte order
    later = min(runs * run_keys, len(ordered) - 1) if runs else 0
    # The later runs' keys are every few keys of the listing, as uploads into many folders are.
    chosen = set(range(0, later * (len(ordered) // later), len(ordered) // later)) if later else set()
    picked = [ordered[number] for number in sorted(chosen)]
    groups = [[key for number, key in enumerate(ordered) if number not in chosen]]
    groups += [picked[i::runs] for i in range(runs) if picked[i::runs]]
    recorded.replace_all(destination, "run-000", iter(groups[0]), len(groups[0]))
    for number, group in enumerate(groups[1:], start=1):
        recorded.add(destination, f"run-{number:03d}", iter(group), len(group))
    files = recorded.files(destination)
    client = destination.client
    sizes = {
        item["Key"][len(destination.prefix) :]: item["Size"]
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=destination.bucket, Prefix=destination.prefix + run_layout.SOURCES_PREFIX
        )
        for item in page.get("Contents", ())
    }
    size = sum(sizes[key] for _, key in files)
    head.write(
        destination,
        {
            "generation": "run-000",
            "output_hash": spec.output_hash,
            "engine": spec_module.ENGINE_VERSION,
            "records": len(ordered) * spec.outputs_per_image,
            "sources": len(ordered),
            "last_run": f"run-{len(groups) - 1:03d}",
            "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    return {
        "sources": len(ordered),
        "bytes": size,
        "bytes_per_source": size / max(len(ordered), 1),
        "files": [{"key": key, "level": level, "bytes": sizes[key]} for level, key in files],
    }


# --------------------------------------------------------------------------
# The measured child
# --------------------------------------------------------------------------

CHILD = r"""
import json, os, re, resource, sys, time
from kaleidoscope.steps import recorded as recorded_module
from kaleidoscope.steps import s3, shard, spec
from kaleidoscope.steps.s3 import S3Storage

from tests.benchmarks._memory import reset_peak, status


parsed = spec.parse(json.loads(sys.argv[1]))
run_id, incremental = sys.argv[2], sys.argv[3] == "1"
after_imports = status()
client = s3.client()  # boto3's client (the S3 service model): a fixed cost, created before the reset
requests = {}


def count(model=None, **_):  # must return None
    requests[model.name] = requests.get(model.name, 0) + 1


client.meta.events.register("before-call.s3", count)
after_client = status()

listing = {"seconds": 0.0, "keys": 0}
original_list_keys = S3Storage.list_keys


def timed_list_keys(self, prefix=""):
    # Time spent producing the source's keys: ListObjectsV2 requests and the parsing of their
    # pages. The destination's listings (of the index files) name a prefix: not counted here.
    if prefix:
        yield from original_list_keys(self, prefix)
        return
    keys = original_list_keys(self, prefix)
    while True:
        start = time.perf_counter()
        try:
            key = next(keys)
        except StopIteration:
            listing["seconds"] += time.perf_counter() - start
            return
        listing["seconds"] += time.perf_counter() - start
        listing["keys"] += 1
        yield key


S3Storage.list_keys = timed_list_keys
recorded = {"seconds": 0.0, "sources": 0}
original_read = recorded_module.read


def timed_read(destination):
    # Time spent producing recorded sources (listing the index files, their GETs, streaming,
    # parsing) and how many the merge read; lazy like the step's own stream, so its memory is
    # unchanged.
    start = time.perf_counter()
    sources = original_read(destination)
    recorded["seconds"] += time.perf_counter() - start
    while True:
        start = time.perf_counter()
        try:
            source = next(sources)
        except StopIteration:
            recorded["seconds"] += time.perf_counter() - start
            return
        recorded["seconds"] += time.perf_counter() - start
        recorded["sources"] += 1
        yield source


recorded_module.read = timed_read

reset = reset_peak()  # the peak below is step's alone
baseline = status()
maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start, cpu = time.perf_counter(), time.process_time()
references = shard.shard(parsed, run_id, incremental=incremental)
seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
after = status()
print(json.dumps({
    "seconds": seconds,
    "cpu_seconds": cpu_seconds,
    "after_imports_kb": after_imports.get("VmRSS", 0),
    "after_client_kb": after_client.get("VmRSS", 0),
    "baseline_kb": baseline.get("VmRSS", after_client.get("VmRSS", 0)),
    "peak_kb": after.get("VmHWM", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
    "end_rss_kb": after.get("VmRSS", 0),
    "method": ("VmHWM" + (" reset after imports and client" if reset else "")) if after else "ru_maxrss",
    "ru_maxrss_kb": [maxrss_before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss],
    "listing": listing,
    "recorded": recorded if incremental else None,
    "requests": requests,
    "shards": len(references),
    "shard_sizes": sorted({r["images"] for r in references}),
    "inputs": sum(r["images"] for r in references),
}))
"""


def run_child(document: dict, run_id: str, incremental: bool, weed_pid: int) -> dict:
    weed_before = _common.cpu_seconds(weed_pid)
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(document), run_id, "1" if incremental else "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"shard child failed:\n{completed.stderr}")
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    report["weed_cpu_seconds"] = _common.cpu_seconds(weed_pid) - weed_before
    return report


def spec_document(source: str, destination: str, shard_size: int) -> dict:
    return {
        "source": source,
        "destination": destination,
        "seed": 0,
        "normalize": {"size": 400},
        "transforms": TRANSFORMS,
        "output": {"format": "jpg", "quality": 90},
        "shard_size": shard_size,
    }


def profile_listing(url: str, count: int) -> dict:
    """CPU profile of listing ``url`` through ``S3Storage.list_keys``: where a key's time goes."""
    storage = open_storage(url)
    listed = []
    seconds = time.process_time()
    stats = _common.profile_all_threads(lambda: listed.append(sum(1 for _ in storage.list_keys())))
    seconds = time.process_time() - seconds
    if listed != [count]:
        raise RuntimeError(f"listing {url} gave {listed} keys, expected {count}")
    api, shares = _common.botocore_shares(stats)
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("tottime").print_stats(15)
    return {
        "keys": count,
        "requests": api["calls"],
        "profiled_cpu_seconds": _common.total_cpu(stats),
        "botocore_shares": shares,
        "top": out.getvalue(),
    }


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def summarize(runs: list[dict], keys: int) -> dict:
    def median(values):
        return statistics.median(list(values))

    seconds = median(r["seconds"] for r in runs)
    return {
        "keys": keys,
        "runs": len(runs),
        "seconds": seconds,
        "us_per_key": seconds / keys * 1e6,
        "cpu_us_per_key": median(r["cpu_seconds"] for r in runs) / keys * 1e6,
        "weed_cpu_us_per_key": median(r["weed_cpu_seconds"] for r in runs) / keys * 1e6,
        "listing_seconds": median(r["listing"]["seconds"] for r in runs),
        "listing_us_per_key": median(r["listing"]["seconds"] for r in runs) / keys * 1e6,
        "after_imports_mb": median(r["after_imports_kb"] for r in runs) / 1024,
        "after_client_mb": median(r["after_client_kb"] for r in runs) / 1024,
        "baseline_mb": median(r["baseline_kb"] for r in runs) / 1024,
        "peak_mb": median(r["peak_kb"] for r in runs) / 1024,
        "above_baseline_mb": median(r["peak_kb"] - r["baseline_kb"] for r in runs) / 1024,
        "above_baseline_all_mb": [(r["peak_kb"] - r["baseline_kb"]) / 1024 for r in runs],
        "seconds_all": [r["seconds"] for r in runs],
        "requests": runs[0]["requests"],
        "shards": runs[0]["shards"],
        "shard_sizes": runs[0]["shard_sizes"],
        "inputs": runs[0]["inputs"],
        "method": runs[0]["method"],
        "recorded": (
            {
                "sources_read": runs[0]["recorded"]["sources"],
                "seconds": median(r["recorded"]["seconds"] for r in runs),
            }
            if runs[0]["recorded"]
            else None
        ),
        "ru_maxrss_mb": median(r["ru_maxrss_kb"][1] for r in runs) / 1024,
    }


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=100_000, help="keys in the large source (default 100000)")
    parser.add_argument("--small-keys", type=int, default=10_000, help="keys in the small source (default 10000)")
    parser.add_argument(
        "--shard-size", type=int, default=500, help="shard_size of the small, large and incremental runs (default 500)"
    )
    parser.add_argument(
        "--wide-shard",
        type=int,
        default=20_000,
        help="shard_size of the wide run (default 20000, the shard size at 10 million keys)",
    )
    parser.add_argument(
        "--new-fraction",
        type=float,
        default=0.05,
        help="share of the source the recorded-sources index does not hold yet (default 0.05)",
    )
    parser.add_argument(
        "--index-runs",
        type=int,
        default=3,
        help="earlier incremental runs whose files the index holds besides the full run's (default 3)",
    )
    parser.add_argument(
        "--index-run-keys", type=int, default=1000, help="sources each of those runs recorded (default 1000)"
    )
    parser.add_argument("--target-keys", type=int, default=10_000_000, help="extrapolate to this many keys")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="interleaved repetitions (default 1: the set-up, not the runs, takes most of the time)",
    )
    parser.add_argument("--upload-threads", type=int, default=32, help="threads uploading the keys (default 32)")
    parser.add_argument(
        "--uploader",
        choices=("signed", "boto3"),
        default="signed",
        help="signed: botocore-signed PUTs on http.client (default); boto3: put_object",
    )
    parser.add_argument(
        "--memory-slack-mb",
        type=float,
        default=2.0,
        help="--check: large peak <= small peak + this, and incremental peak <= large peak + this (default 2 MB)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile the CPU of listing the small source in this process"
    )
    _common.add_run_arguments(parser, check="exit 1 when a memory target is missed", server=True)
    args = parser.parse_args(argv)
    if not 0 < args.small_keys < args.keys:
        parser.error("--small-keys must be positive and below --keys")
    if min(args.repeat, args.upload_threads, args.shard_size, args.wide_shard) < 1:
        parser.error("--repeat, --upload-threads, --shard-size and --wide-shard must be positive")
    if not 0 < args.new_fraction < 1:
        parser.error("--new-fraction must be between 0 and 1")
    if args.index_runs < 0 or args.index_run_keys < 1:
        parser.error("--index-runs must be 0 or more and --index-run-keys positive")
    _common.stop_on_sigterm()

    env = _common.environment(boto3=boto3.__version__, botocore=botocore.__version__, weed=_common.weed_version())
    new = max(1, round(args.keys * args.new_fraction))
    print("Kaleidoscope shard-step benchmark (real S3 server)")
    print(
        f"  cpus {env['cpu_count']}, python {env['python']}, boto3 {env['boto3']}, botocore {env['botocore']}, "
        f"{env['weed']}"
    )
    print(_common.platform_line(env))
    print(
        f"  keys {args.keys} (small {args.small_keys}), shard_size {args.shard_size} (wide {args.wide_shard}), "
        f"index {args.keys - new} recorded sources, {new} new; repeat {args.repeat}, "
        "medians"
    )
    started = time.perf_counter()

    workdir = _common.make_workdir(args.workdir, "kaleidoscope-bench-shard-")
    env["workdir"], env["workdir_fs"] = str(workdir), _common.filesystem(workdir)
    env["server_data"] = str(workdir / "seaweedfs" / "data")
    try:
        with _common.seaweed(workdir / "seaweedfs") as server:
            print(f"  SeaweedFS {server.endpoint}, data in {env['server_data']} ({env['workdir_fs']})", flush=True)
            for bucket in (SOURCE_BUCKET, DESTINATION_BUCKET):
                server.make_bucket(bucket)
            keys = [source_key(index, args.small_keys) for index in range(args.keys)]
            print(
                f"set-up: uploading {args.keys} objects ({args.uploader}, {args.upload_threads} threads) ...",
                flush=True,
            )
            upload = _common.upload_keys(server, SOURCE_BUCKET, keys, args.upload_threads, args.uploader)
            print(
                f"  {upload['seconds']:.1f} s, {upload['puts_per_s']:.0f} PUT/s; CPU per PUT: client "
                f"{upload['client_cpu_ms_per_put']:.2f} ms, weed {upload['weed_cpu_ms_per_put']:.2f} ms",
                flush=True,
            )

            # The index earlier runs' manifest steps left: all but the newest keys, relative to
            # the source prefix (as the manifest records them), and the head naming them.
            relative = [key[len("set/") :] for key in keys]
            index_start = time.perf_counter()
            incremental_destination = f"s3://{DESTINATION_BUCKET}/incremental"
            incremental_spec = spec_module.parse(
                spec_document(f"s3://{SOURCE_BUCKET}/set", incremental_destination, args.shard_size)
            )
            index = write_index(
                incremental_destination,
                incremental_spec,
                relative[: args.keys - new],
                args.index_runs,
                args.index_run_keys,
            )
            index["seconds"] = time.perf_counter() - index_start
            files = ", ".join(f"L{f['level']} {f['bytes'] / 1e3:.0f} kB" for f in index["files"])
            print(
                f"  index: {index['sources']} recorded sources in {len(index['files'])} files "
                f"({files}; "
                f"{index['bytes'] / 1e6:.2f} MB, {index['bytes_per_source']:.1f} B/source) and head.json "
                f"written in {index['seconds']:.1f} s",
                flush=True,
            )
            page_bytes_per_key = statistics.fmean(len(json.dumps(key, ensure_ascii=False)) + 1 for key in relative)
            env["setup_seconds"] = time.perf_counter() - started

            variants = {
                "small": (f"s3://{SOURCE_BUCKET}/set/a", args.small_keys, args.shard_size, False),
                "large": (f"s3://{SOURCE_BUCKET}/set", args.keys, args.shard_size, False),
                "wide": (f"s3://{SOURCE_BUCKET}/set", args.keys, args.wide_shard, False),
                "incremental": (f"s3://{SOURCE_BUCKET}/set", args.keys, args.shard_size, True),
            }
            runs: dict[str, list[dict]] = {name: [] for name in variants}
            print("timed runs (each a fresh subprocess):", flush=True)
            for repetition in range(args.repeat):
                for name in _common.rotated(list(variants), repetition):
                    source, count, shard_size, incremental = variants[name]
                    run_id = f"{name}-{repetition + 1}"
                    destination = incremental_destination if incremental else f"s3://{DESTINATION_BUCKET}/{run_id}"
                    report = run_child(
                        spec_document(source, destination, shard_size), run_id, incremental, server.process.pid
                    )
                    expected = new if incremental else count
                    if report["inputs"] != expected or report["listing"]["keys"] != count:
                        raise RuntimeError(f"{name}: expected {expected} inputs of {count} listed, got {report}")
                    if incremental and report["recorded"]["sources"] != index["sources"]:
                        raise RuntimeError(
                            f"{name}: the merge read {report['recorded']['sources']} of the index's "
                            f"{index['sources']} sources"
                        )
                    runs[name].append(report)
                    if incremental:
                        # What the manifest step would do at the end: the next repetition takes
                        # the same destination, and its index is unchanged.
                        storage = open_storage(destination)
                        storage.delete_prefix(run_layout.work_prefix(run_id))
                        claim.release(storage, run_id)
                    print(
                        f"  rep {repetition + 1}/{args.repeat} {name:<12} {report['seconds']:6.1f} s "
                        f"(listing {report['listing']['seconds']:5.1f} s)  peak +"
                        f"{(report['peak_kb'] - report['baseline_kb']) / 1024:5.1f} MB  "
                        f"load {os.getloadavg()[0]:.2f}",
                        flush=True,
                    )
            profile = profile_listing(f"s3://{SOURCE_BUCKET}/set/a", args.small_keys) if args.profile else None
    finally:
        if args.keep:
            print(f"  data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    env["loadavg_end"] = os.getloadavg()
    figures = {name: summarize(runs[name], variants[name][1]) for name in variants}
    small, large, wide, incr = (figures[name] for name in ("small", "large", "wide", "incremental"))
    growth = large["above_baseline_mb"] - small["above_baseline_mb"]
    memory_pass = growth <= args.memory_slack_mb
    incremental_growth = incr["above_baseline_mb"] - large["above_baseline_mb"]
    incremental_pass = incremental_growth <= args.memory_slack_mb
    all_pass = memory_pass and incremental_pass

    target = args.target_keys
    pages = math.ceil(target / LIST_PAGE)
    target_shards = min(MAX_SHARDS, math.ceil(target / args.shard_size))
    target_shard_size = math.ceil(target / target_shards)
    listing_pages = math.ceil(target / run_layout.LISTING_PAGE)
    time_target = wide["us_per_key"] * 1e-6 * target
    listing_target = wide["listing_us_per_key"] * 1e-6 * target
    recorded_info = incr["recorded"]
    index_us_per_source = recorded_info["seconds"] / index["sources"] * 1e6
    incremental_time_target = incr["us_per_key"] * 1e-6 * target
    index_bytes_target = index["bytes_per_source"] * target

    def request_text(requests: dict) -> str:
        return ", ".join(f"{op} {count}" for op, count in sorted(requests.items(), key=lambda x: -x[1]))

    rows = [
        (
            f"small: {small['keys']} keys, shards of {args.shard_size}",
            f"{small['seconds']:.1f} s = {small['us_per_key']:.0f} us/key; peak +{small['above_baseline_mb']:.1f} MB",
            "-",
            "info",
        ),
        (
            f"large: {large['keys']} keys, shards of {args.shard_size}",
            f"{large['seconds']:.1f} s = {large['us_per_key']:.0f} us/key; peak +{large['above_baseline_mb']:.1f} MB",
            "-",
            "info",
        ),
        (
            "memory growth large vs small",
            f"{growth:+.2f} MB for {large['keys'] - small['keys']} more keys "
            f"({growth * 1024 * 1024 / (large['keys'] - small['keys']):+.1f} B/key)",
            f"<= +{args.memory_slack_mb:g} MB",
            _common.verdict(memory_pass),
        ),
        (
            f"wide: {wide['keys']} keys, shards of {args.wide_shard}",
            f"{wide['seconds']:.1f} s = {wide['us_per_key']:.0f} us/key; peak +{wide['above_baseline_mb']:.1f} MB",
            "-",
            "info",
        ),
        (
            f"incremental: {incr['keys']} keys, {index['sources']} recorded",
            f"{incr['seconds']:.1f} s = {incr['us_per_key']:.0f} us/key (index read {recorded_info['seconds']:.2f} s); "
            f"peak +{incr['above_baseline_mb']:.1f} MB",
            "-",
            "info",
        ),
        (
            "memory growth incremental vs large",
            f"{incremental_growth:+.2f} MB with {index['sources']} recorded sources "
            f"({incremental_growth * 1024 * 1024 / index['sources']:+.1f} B/source)",
            f"<= +{args.memory_slack_mb:g} MB",
            _common.verdict(incremental_pass),
        ),
        (
            "recorded-sources index",
            f"{index['bytes'] / 1e6:.2f} MB = {index['bytes_per_source']:.1f} B/source; "
            f"read at {index_us_per_source:.1f} us/source",
            "-",
            "info",
        ),
        (
            f"extrapolated to {target:,} keys",
            f"{duration(time_target)} ({wide['us_per_key']:.0f} us/key); peak ~+{wide['above_baseline_mb']:.1f} MB",
            "-",
            "estimate",
        ),
        (
            f"incremental, {target:,} recorded sources",
            f"{duration(incremental_time_target)} ({incr['us_per_key']:.0f} us/key); peak ~+"
            f"{incr['above_baseline_mb']:.1f} MB; index ~{index_bytes_target / 1e6:.0f} MB",
            "-",
            "estimate",
        ),
    ]

    print()
    print(_common.table(rows))
    print()
    print(
        f"Time ({'/'.join(str(len(figures[n]['seconds_all'])) for n in figures)} runs, medians; "
        "listing = time inside list_keys: ListObjectsV2 requests and parsing):"
    )
    print(
        f"  {'run':<12} {'keys':>7} {'shards':>6} {'seconds':>8} {'us/key':>7} {'listing':>8} {'list us/key':>11} "
        f"{'CPU us/key':>10} {'weed CPU us/key':>15}"
    )
    for name, f in figures.items():
        print(
            f"  {name:<12} {f['keys']:7d} {f['shards']:6d} {f['seconds']:8.1f} {f['us_per_key']:7.0f} "
            f"{f['listing_seconds']:8.1f} {f['listing_us_per_key']:11.0f} {f['cpu_us_per_key']:10.0f} "
            f"{f['weed_cpu_us_per_key']:15.0f}"
        )
    for name, f in figures.items():
        print(f"  {name:<12} requests: {request_text(f['requests'])}")
    print()
    print(
        f"Memory ({large['method']}): RSS after imports {large['after_imports_mb']:.0f} MB, after creating the "
        f"boto3 client {large['after_client_mb']:.0f} MB (the baseline); peak above it, per run:"
    )
    for name, f in figures.items():
        print(
            f"  {name:<12} +{f['above_baseline_mb']:5.1f} MB  (runs: "
            f"{' '.join(f'{v:+.1f}' for v in f['above_baseline_all_mb'])}; peak {f['peak_mb']:.0f} MB)"
        )
    print(
        f"  ru_maxrss in the children, {small['ru_maxrss_mb']:.0f} / {large['ru_maxrss_mb']:.0f} MB, is not used: "
        "at exec a child inherits its launcher's high-water mark."
    )
    print(
        f"  Incremental: the merge streamed all {recorded_info['sources_read']} sources of the index "
        f"({index['bytes'] / 1e6:.2f} MB) in {recorded_info['seconds']:.2f} s = {index_us_per_source:.1f} us/source; "
        f"peak +{incr['above_baseline_mb']:.1f} MB against the large run's +{large['above_baseline_mb']:.1f} MB "
        f"(same listing; its pages hold only the new keys): {incremental_growth:+.2f} MB."
    )
    print()
    print(f"Extrapolation to {target:,} keys (linear in keys; the wide run has the shard size of that run):")
    print(
        f"  requests: {pages:,} ListObjectsV2 pages of {LIST_PAGE} keys + {listing_pages:,} listing-page PUTs of "
        f"{run_layout.LISTING_PAGE:,} keys + run.json + the claim (3) + head.json + 2 one-key check listings; "
        f"{target_shards} shards of ~{target_shard_size:,} keys "
        f"(measured at {large['keys']:,} keys: {request_text(large['requests'])})"
    )
    print(
        f"  time: {target:,} x {wide['us_per_key']:.0f} us/key = {duration(time_target)}, of which listing "
        f"{duration(listing_target)} ({wide['listing_us_per_key']:.0f} us/key = "
        f"{wide['listing_us_per_key'] * LIST_PAGE / 1000:.0f} ms per page of {LIST_PAGE}); the rest is filtering "
        "and the listing-page PUTs"
    )
    print(
        f"  memory: bounded by one page of {run_layout.LISTING_PAGE:,} keys being written, whatever the shard size: "
        f"the wide run's peak, +{wide['above_baseline_mb']:.1f} MB above the baseline ({wide['peak_mb']:.0f} MB "
        f"in all), against +{large['above_baseline_mb']:.1f} MB with shards of {args.shard_size}"
    )
    print(
        f"  storage: the listing pages hold every key to augment, {page_bytes_per_key:.0f} B/key here: "
        f"~{page_bytes_per_key * target / 1e6:.0f} MB at {target:,} keys, in the destination's work folder "
        "(removed by the manifest step); nothing on the pod's disk"
    )
    print(
        f"  incremental with {target:,} recorded sources: time {target:,} x {incr['us_per_key']:.0f} us/key = "
        f"{duration(incremental_time_target)}, of which reading the index ~"
        f"{duration(index_us_per_source * 1e-6 * target)} ({index_us_per_source:.1f} us/source); memory constant: "
        f"the incremental run's peak, +{incr['above_baseline_mb']:.1f} MB above the baseline (the merge holds one "
        f"line and read buffer per index file, however long the files); the index: "
        f"{index['bytes_per_source']:.1f} B/source = ~{index_bytes_target / 1e6:.0f} MB in a logarithmic number "
        f"of files (here {len(index['files'])}), one GET each, streamed"
    )
    if profile:
        print()
        print(
            f"CPU profile of listing {profile['keys']} keys through S3Storage.list_keys ({profile['requests']} "
            f"requests, {profile['profiled_cpu_seconds'] / profile['keys'] * 1e6:.0f} us/key profiled CPU), "
            "botocore's share by stage:"
        )
        for label, share in profile["botocore_shares"].items():
            print(f"    {share * 100:5.1f} %  {label}")
        print(profile["top"])
    print()
    print(
        f"Set-up (not measured): upload {upload['keys']} keys in {upload['seconds']:.1f} s "
        f"({upload['puts_per_s']:.0f} PUT/s, {upload['uploader']}, {upload['threads']} threads), index "
        f"{index['seconds']:.1f} s. Server data was in {env['server_data']} ({env['workdir_fs']}), "
        + ("kept." if args.keep else "removed afterwards.")
    )
    print(
        f"Load average at end: {' '.join(f'{v:.2f}' for v in env['loadavg_end'])}; "
        f"total time {time.perf_counter() - started:.0f} s"
    )

    report = {
        "environment": env,
        "settings": vars(args),
        "upload": upload,
        "index": index,
        "figures": figures,
        "memory": {
            "growth_mb": growth,
            "slack_mb": args.memory_slack_mb,
            "pass": memory_pass,
            "incremental_growth_mb": incremental_growth,
            "incremental_pass": incremental_pass,
        },
        "extrapolation": {
            "keys": target,
            "list_requests": pages,
            "shard_puts": target_shards,
            "shard_size": target_shard_size,
            "seconds": time_target,
            "listing_seconds": listing_target,
            "peak_above_baseline_mb": wide["above_baseline_mb"],
            "listing_page_bytes": page_bytes_per_key * target,
            "incremental_seconds": incremental_time_target,
            "incremental_index_seconds": index_us_per_source * 1e-6 * target,
            "incremental_peak_above_baseline_mb": incr["above_baseline_mb"],
            "incremental_index_bytes": index_bytes_target,
        },
        "runs": runs,
        "profile": {k: v for k, v in profile.items() if k != "top"} if profile else None,
        "all_pass": all_pass,
        "seconds": time.perf_counter() - started,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 1 if args.check and not all_pass else 0


if __name__ == "__main__":
    sys.exit(main())
