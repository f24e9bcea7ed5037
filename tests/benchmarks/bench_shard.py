"""Benchmark of the shard step against a real S3 server: its time and peak memory for 100,000
keys, the same for 10,000 keys (memory must not grow with the key count), the same for
incremental mode (merging the sorted recorded-sources index against the listing; memory must not
grow with the index either), and the extrapolation of each to 10 million keys.

Run from the repository root (the file is not named ``test_*``, so pytest never collects it)::

    .venv/bin/python -m tests.benchmarks.bench_shard                        # default, ~5 min on 2 cores, mostly set-up
    .venv/bin/python -m tests.benchmarks.bench_shard --keys 20000 --small-keys 2000 --wide-shard 5000  # quick look
    .venv/bin/python -m tests.benchmarks.bench_shard --json shard.json --check

Set-up, in a temporary folder (removed afterwards unless ``--keep``), timed and reported but
not part of any figure: a SeaweedFS server (``tests.s3server``, ``weed server -s3`` on loopback,
authentication on) with its data folder inside the temporary folder, on disk; ``--keys`` tiny
objects (3 bytes each) uploaded to a source bucket under ``set/a/`` (the first ``--small-keys``)
and ``set/b/``, as ``set/<a|b>/d<NN>/s<N>/img_<NNNNNNN>.jpg``, by ``--upload-threads`` threads
(``--uploader signed``, the default: PUT requests signed by botocore's SigV4 signer and sent on
one keep-alive ``http.client`` connection per thread; ``--uploader boto3``: ``put_object`` on a
shared boto3 client, the same requests at about 3x the client CPU (~2.5 ms per PUT), which on 2
cores makes the upload GIL-bound at ~300 PUT/s instead of 550-950 depending on the load). And a
synthetic recorded-sources index (``steps.run_layout.RECORDED``, what the manifest step keeps) in one
destination: all but ``--new-fraction`` of the source's keys (the highest-numbered ones, spread
over the listing, are the new ones), relative to the source prefix, one JSON string a line,
sorted in Python's string order (S3's UTF-8 byte order), uploaded with ``write_file``.

What is measured, each in a fresh ``python -c`` subprocess running
``steps.shard.shard(spec, run_id)`` (a fresh run id and destination prefix each time):

1. small: ``s3://<src>/set/a`` (``--small-keys`` keys), ``shard_size: --shard-size`` (500);
2. large: ``s3://<src>/set`` (``--keys`` keys), the same shard size;
3. wide: the large source with ``shard_size: --wide-shard`` (20,000: the shard size the 500-shard
   cap gives at 10 million keys), so its peak memory is the 10-million-key peak;
4. incremental: the large source, ``shard(..., incremental=True)``, the same shard size, into the
   destination holding the synthetic index: the step streams the index and merges it against the
   listing, so only the new keys go into shard lists.

The child notes its RSS after its imports and after creating the boto3 client (a fixed cost,
mostly the S3 service model), then resets its high-water mark (writing "5" to
``/proc/self/clear_refs`` sets ``VmHWM`` to the current RSS) and reads ``VmHWM`` from
``/proc/self/status`` after the step: the step's own peak above that baseline. ``ru_maxrss`` is
recorded in the JSON but not used: Linux copies the launching process's high-water mark into the
child's at exec, so every child would report at least the benchmark's own peak. The child also
times the listing (time spent inside ``S3Storage.list_keys``) and, in incremental mode, the
reading of the index (time spent producing ``recorded_sources``: its GET, streaming and parsing,
and how many sources the merge read), and counts its S3 requests by operation. The server's CPU
time is read from /proc for each run.

The machine is shared and noisy: the four runs are interleaved within each repetition (their
order rotates), and the reported figures are medians over ``--repeat`` repetitions.

Extrapolation to ``--target-keys`` (10 million): the listing is paged at 1000 keys per
ListObjectsV2 request, so requests grow linearly (10,000 pages) while the shard lists are capped
at 500 PUTs; time is extrapolated linearly from the wide run (same shard size as at 10 million),
and memory is bounded by the larger of one listing page (while listing) and one shard list (while
writing the lists), which the wide run measures directly. Incremental mode with 10 million
recorded sources: time linear in the listed keys (the incremental run's time per key), memory
constant (besides what the non-incremental step holds, the merge holds one read buffer of the
index, whatever its size: the incremental run's peak), and the index's size from its bytes per
source.

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
import hashlib
import http.client
import io
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlparse

import boto3
import botocore
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from kaleidoscope.steps.locations import open_storage
from kaleidoscope.steps.run_layout import RECORDED
from tests import s3server
from tests.benchmarks import _common

ROOT = Path(__file__).resolve().parents[2]
SOURCE_BUCKET = "kaleidoscope-keys-src"
DESTINATION_BUCKET = "kaleidoscope-keys-dst"
BODY = b"jpg"
LIST_PAGE = 1000  # ListObjectsV2's maximum page, steps.s3.Settings.page_size
MAX_SHARDS = 500
TRANSFORMS = ["rotate_zoom", "contrast", "brightness", "saturation", "flip_lr", "noise"]


def source_key(index: int, small: int) -> str:
    return f"set/{'a' if index < small else 'b'}/d{index % 100:02d}/s{(index // 100) % 10}/img_{index:07d}.jpg"


# --------------------------------------------------------------------------
# Set-up
# --------------------------------------------------------------------------


def upload_keys(server, keys: list[str], threads: int, uploader: str) -> dict:
    """PUT a tiny object under every key, ``threads`` at a time; returns time and CPU figures."""
    weed_before, cpu_before, start = _common.cpu_seconds(server.process.pid), time.process_time(), time.perf_counter()
    if uploader == "boto3":
        client = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            aws_access_key_id=s3server.ADMIN[0],
            aws_secret_access_key=s3server.ADMIN[1],
            region_name=s3server.REGION,
            config=Config(
                s3={"addressing_style": "path"},
                max_pool_connections=threads,
                retries={"mode": "standard", "max_attempts": 8},
            ),
        )

        def put(key: str) -> None:
            client.put_object(Bucket=SOURCE_BUCKET, Key=key, Body=BODY)
    else:
        endpoint = urlparse(server.endpoint)
        credentials = Credentials(*s3server.ADMIN)
        local = threading.local()
        payload_hash = hashlib.sha256(BODY).hexdigest()

        def put(key: str) -> None:
            path = f"/{SOURCE_BUCKET}/{quote(key, safe='/')}"
            if getattr(local, "signer", None) is None:
                local.signer, local.connection = S3SigV4Auth(credentials, "s3", s3server.REGION), None
            for attempt in range(6):
                try:
                    if local.connection is None:
                        local.connection = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=60)
                    request = AWSRequest(
                        method="PUT",
                        url=server.endpoint + path,
                        data=BODY,
                        headers={"x-amz-content-sha256": payload_hash},
                    )
                    local.signer.add_auth(request)
                    local.connection.request("PUT", path, body=BODY, headers=dict(request.headers.items()))
                    response = local.connection.getresponse()
                    text = response.read()
                    if response.status == 200:
                        return
                    error: Exception = RuntimeError(f"PUT {key}: HTTP {response.status}: {text[:200]!r}")
                except (OSError, http.client.HTTPException) as problem:
                    error = problem
                    if local.connection is not None:
                        local.connection.close()
                    local.connection = None
                if attempt == 5:
                    raise error
                time.sleep(0.1 * 2**attempt)

    def put_batch(batch: list[str]) -> None:
        for key in batch:
            put(key)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="upload") as pool:
        # Batches of 50 keys: a future per key would cost more memory than the keys.
        for _ in pool.map(put_batch, [keys[i : i + 50] for i in range(0, len(keys), 50)]):
            pass
    seconds = time.perf_counter() - start
    return {
        "keys": len(keys),
        "uploader": uploader,
        "threads": threads,
        "seconds": seconds,
        "puts_per_s": len(keys) / seconds,
        "client_cpu_ms_per_put": (time.process_time() - cpu_before) / len(keys) * 1000,
        "weed_cpu_ms_per_put": (_common.cpu_seconds(server.process.pid) - weed_before) / len(keys) * 1000,
    }


def write_index(path: Path, recorded: list[str]) -> dict:
    """The recorded-sources index as the manifest step writes it: sorted, one JSON string a line."""
    lines = size = 0
    with open(path, "w", encoding="utf-8") as handle:
        for key in sorted(recorded):
            text = json.dumps(key, ensure_ascii=False) + "\n"
            handle.write(text)
            lines += 1
            size += len(text.encode("utf-8"))
    return {"sources": lines, "bytes": size, "bytes_per_source": size / max(lines, 1)}


# --------------------------------------------------------------------------
# The measured child
# --------------------------------------------------------------------------

CHILD = r"""
import json, os, re, resource, sys, time
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
    # Time spent producing keys: ListObjectsV2 requests and the parsing of their pages.
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
original_recorded_sources = shard.recorded_sources


def timed_recorded_sources(destination):
    # Time spent producing recorded sources (the index's HEAD and GET, streaming, parsing) and
    # how many the merge read; lazy like the step's own stream, so its memory is unchanged.
    start = time.perf_counter()
    sources = original_recorded_sources(destination)
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


shard.recorded_sources = timed_recorded_sources

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
    parser.add_argument("--target-keys", type=int, default=10_000_000, help="extrapolate to this many keys")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="interleaved repetitions (default 1: a 100,000-key listing takes ~45 s here)",
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
    parser.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    parser.add_argument("--check", action="store_true", help="exit 1 when a memory target is missed")
    parser.add_argument(
        "--workdir",
        help="where to make the temporary folder, server data included (default: the system's temporary folder)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary data")
    args = parser.parse_args(argv)
    if not 0 < args.small_keys < args.keys:
        parser.error("--small-keys must be positive and below --keys")
    if min(args.repeat, args.upload_threads, args.shard_size, args.wide_shard) < 1:
        parser.error("--repeat, --upload-threads, --shard-size and --wide-shard must be positive")
    if not 0 < args.new_fraction < 1:
        parser.error("--new-fraction must be between 0 and 1")
    _common.stop_on_sigterm()

    env = _common.environment(boto3=boto3.__version__, botocore=botocore.__version__, weed=_common.weed_version())
    new = max(1, round(args.keys * args.new_fraction))
    print("Kaleidoscope shard-step benchmark (real S3 server)")
    print(
        f"  cpus {env['cpu_count']}, python {env['python']}, boto3 {env['boto3']}, botocore {env['botocore']}, "
        f"{env['weed']}"
    )
    print(f"  {env['platform']}, load average {' '.join(f'{v:.2f}' for v in env['loadavg_start'])}")
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
            upload = upload_keys(server, keys, args.upload_threads, args.uploader)
            print(
                f"  {upload['seconds']:.1f} s, {upload['puts_per_s']:.0f} PUT/s; CPU per PUT: client "
                f"{upload['client_cpu_ms_per_put']:.2f} ms, weed {upload['weed_cpu_ms_per_put']:.2f} ms",
                flush=True,
            )

            # The index an earlier run's manifest step left: all but the newest keys, relative to
            # the source prefix (as the manifest records them), sorted.
            relative = [key[len("set/") :] for key in keys]
            index_start = time.perf_counter()
            index_path = workdir / "recorded-sources.jsonl"
            index = write_index(index_path, relative[: args.keys - new])
            incremental_destination = f"s3://{DESTINATION_BUCKET}/incremental"
            open_storage(incremental_destination).write_file(RECORDED, index_path, "application/x-ndjson")
            index_path.unlink()
            index["seconds"] = time.perf_counter() - index_start
            print(
                f"  index: {index['sources']} recorded sources ({index['bytes'] / 1e6:.2f} MB, "
                f"{index['bytes_per_source']:.1f} B/source) written and uploaded in {index['seconds']:.1f} s",
                flush=True,
            )
            spool_bytes_per_key = statistics.fmean(len(json.dumps(key, ensure_ascii=False)) + 1 for key in relative)
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
        f"(same listing and shard size): {incremental_growth:+.2f} MB."
    )
    print()
    print(f"Extrapolation to {target:,} keys (linear in keys; the wide run has the shard size of that run):")
    print(
        f"  requests: {pages:,} ListObjectsV2 pages of {LIST_PAGE} keys + {target_shards} shard-list PUTs of "
        f"~{target_shard_size:,} keys + run.json + 2 one-key check listings "
        f"(measured at {large['keys']:,} keys: {request_text(large['requests'])})"
    )
    print(
        f"  time: {target:,} x {wide['us_per_key']:.0f} us/key = {duration(time_target)}, of which listing "
        f"{duration(listing_target)} ({wide['listing_us_per_key']:.0f} us/key = "
        f"{wide['listing_us_per_key'] * LIST_PAGE / 1000:.0f} ms per page of {LIST_PAGE}); the rest is filtering, "
        "spooling and the shard-list PUTs"
    )
    print(
        f"  memory: bounded by one listing page (while listing) or one shard list (while writing), whichever "
        f"is larger: the wide run's peak, "
        f"+{wide['above_baseline_mb']:.1f} MB above the baseline ({wide['peak_mb']:.0f} MB in all), against "
        f"+{large['above_baseline_mb']:.1f} MB with shards of {args.shard_size}"
    )
    print(
        f"  local disk: the spool file holds every matching key, {spool_bytes_per_key:.0f} B/key here: "
        f"~{spool_bytes_per_key * target / 1e6:.0f} MB at {target:,} keys (temporary folder)"
    )
    print(
        f"  incremental with {target:,} recorded sources: time {target:,} x {incr['us_per_key']:.0f} us/key = "
        f"{duration(incremental_time_target)}, of which reading the index ~"
        f"{duration(index_us_per_source * 1e-6 * target)} ({index_us_per_source:.1f} us/source); memory constant: "
        f"the incremental run's peak, +{incr['above_baseline_mb']:.1f} MB above the baseline (the merge holds one "
        f"index line and its read buffer, however long the index); the index: {index['bytes_per_source']:.1f} "
        f"B/source = ~{index_bytes_target / 1e6:.0f} MB, one GET, streamed"
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
            "spool_bytes": spool_bytes_per_key * target,
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
