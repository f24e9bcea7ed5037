"""Benchmark of one augment shard on a local S3 server against the same shard on local folders:
a throughput ratio measured side by side in one run, never absolute times.

Run from the repository root (the file is not named ``test_*``, so pytest never collects it)::

    .venv/bin/python -m tests.benchmarks.bench_s3                          # default, ~3-5 min on 2 cores
    .venv/bin/python -m tests.benchmarks.bench_s3 --images 4 --repeat 2    # quick look
    .venv/bin/python -m tests.benchmarks.bench_s3 --json s3.json --check --profile

Target: on a local S3 server a shard's throughput is at least 0.8 of the same shard's
throughput on local folders, with the step's default threads (``os.cpu_count()``).

Set-up, in a temporary folder (removed afterwards unless ``--keep``): the inputs of
``bench_augment`` (``--images`` distinct 1024x768 JPEGs q90, ``normalize: {size: 400}``, the six
operations ``rotate_zoom, contrast, brightness, saturation, flip_lr, noise`` -> 64 outputs per
input, JPEG q90 output, ``shards: 1``), written to a local folder and uploaded to a source
bucket of a SeaweedFS server (``tests.s3server``, ``weed server -s3`` on loopback,
authentication on) whose data folder is inside the temporary folder, on disk (its path and
file system type are printed; ``--workdir`` moves it).

What is measured: ``steps.augment.augment_shard(spec, run_id, 0, threads=T)`` for S3 -> S3
(``s3://src/in`` -> ``s3://dst/<fresh prefix>``) and local -> local (folder -> fresh folder),
for T = ``os.cpu_count()`` (the target) and T = 1 (reported). Every timed run gets a fresh run
id and destination and its own ``steps.shard.shard`` beforehand (untimed: it takes the
destination's claim and writes the listing page and ``run.json``), so no committed chunk
(``_kaleidoscope/work/<run>/chunks/...``) exists and nothing resumes: every output is written.
The timed step includes its bookkeeping: renewing the claim, reading the run record and the
listing page, and committing its chunk of records and the shard's report. Before each run, untimed: the previous destination is deleted and ``os.sync()``
flushes the page cache's dirty pages (the server's included). The four variants are interleaved
within each repetition (their order rotates), and each reported ratio is the median of the
per-repetition ratios (local seconds / S3 seconds = S3 throughput / local throughput).

Each run's CPU time is recorded too, for the benchmark process (all its threads) and for the
``weed`` process: both run on the same cores, so on a 2-core machine the server's work per
image comes straight out of the step's budget. ``--profile`` adds a CPU profile of every thread
of one S3 and one local ``augment_shard(threads=1)`` run, summed by library, which shows where
the S3 path spends its extra CPU. Output keys follow the spec's default layout, ``spread`` on S3
(a two-hex-digit prefix) and ``mirror`` locally; the images are the same. Untimed sanity
checks: both layouts write the same images (the sha256 lists of the committed chunks' records
are equal), and nothing was resumed.

Exit status is 0 whatever the figures, unless something errs; with ``--check`` it is 1 when the
target is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import boto3
import cv2
import numpy as np

from kaleidoscope.steps import augment, run_layout
from kaleidoscope.steps import s3 as s3_module
from kaleidoscope.steps import shard as shard_module
from kaleidoscope.steps import spec as spec_module
from kaleidoscope.steps.locations import open_storage
from tests.benchmarks import _common
from tests.benchmarks.bench_augment import (
    HEIGHT,
    NORMALIZE_SIZE,
    OPERATIONS,
    QUALITY,
    WIDTH,
    synthetic_photo,
    write_jpeg,
)

TARGET = 0.8
SOURCE_BUCKET = "kaleidoscope-bench-src"
DESTINATION_BUCKET = "kaleidoscope-bench-dst"
SOURCE_PREFIX = "in"
OUTPUTS_PER_IMAGE = 2 ** len(OPERATIONS)


def spec_document(source: str, destination: str) -> dict:
    return {
        "source": source,
        "destination": destination,
        "seed": 0,
        "normalize": {"size": NORMALIZE_SIZE},
        "transforms": list(OPERATIONS),
        "output": {"format": "jpg", "quality": QUALITY},  # layout auto: spread on S3, mirror locally
        "shards": 1,
    }


class Layouts:
    """Where each variant reads and writes; a fresh destination per run."""

    def __init__(self, workdir: Path, server, images: int):
        self.workdir, self.server, self.images = workdir, server, images
        self.client = server.client()
        self.runs = 0

    def document(self, kind: str, name: str) -> dict:
        if kind == "s3":
            return spec_document(f"s3://{SOURCE_BUCKET}/{SOURCE_PREFIX}", f"s3://{DESTINATION_BUCKET}/{name}")
        return spec_document(str(self.workdir / "src"), str(self.workdir / "dst" / name))

    def clean(self, kind: str, document: dict) -> None:
        if kind == "s3":
            prefix = document["destination"].split("/", 3)[3] + "/"
            _common.delete_prefix(self.client, DESTINATION_BUCKET, prefix)
        else:
            shutil.rmtree(document["destination"], ignore_errors=True)

    def prepare(self, kind: str, label: str) -> tuple[spec_module.Spec, str, dict]:
        """A fresh run: new run id and destination, sharded (one shard)."""
        self.runs += 1
        name = f"{label}-{self.runs:03d}"
        document = self.document(kind, name)
        spec = spec_module.parse(document)
        references = shard_module.shard(spec, name)
        if len(references) != 1 or references[0]["images"] != self.images:
            raise RuntimeError(f"expected one shard of {self.images} images, got {references}")
        return spec, name, document


def run_once(layouts: Layouts, kind: str, threads: int, counter: _common.RequestCounter, weed_pid: int) -> dict:
    """One timed ``augment_shard``; set-up and clean-up untimed."""
    spec, run_id, document = layouts.prepare(kind, f"{kind}-t{threads}")
    os.sync()
    requests_before = counter.snapshot()
    weed_before, cpu_before = _common.cpu_seconds(weed_pid), time.process_time()
    start = time.perf_counter()
    result = augment.augment_shard(spec, run_id, 0, threads=threads)
    seconds = time.perf_counter() - start
    own_cpu, weed_cpu = time.process_time() - cpu_before, _common.cpu_seconds(weed_pid) - weed_before
    requests = counter.snapshot()
    requests.subtract(requests_before)
    if (
        result["inputs"] != layouts.images
        or result["failed"]
        or result["outputs"] != layouts.images * OUTPUTS_PER_IMAGE
    ):
        raise RuntimeError(f"{kind} augment_shard(threads={threads}) gave {result}")
    if result["resumed"]:
        raise RuntimeError(f"{kind}: {result['resumed']} images resumed: the destination was not fresh")
    part = committed_records(spec, run_id)
    layouts.clean(kind, document)
    return {
        "seconds": seconds,
        "own_cpu": own_cpu,
        "weed_cpu": weed_cpu,
        "requests": {k: v for k, v in requests.items() if v},
        "part": part,
    }


def committed_records(spec: spec_module.Spec, run_id: str) -> bytes:
    """The records shard 0 committed, chunk after chunk (what the manifest step would publish)."""
    destination = open_storage(spec.destination)
    report = json.loads(destination.read(run_layout.shard_done_key(run_id, 0)))
    return b"".join(destination.read(run_layout.chunk_records_key(run_id, 0, c)) for c in report["record_chunks"])


def digests(part: bytes) -> list[str]:
    return [json.loads(line)["sha256"] for line in part.splitlines() if line]


def measure(layouts: Layouts, threads_list: list[int], repeat: int, counter, weed_pid: int) -> dict:
    names = [f"{kind}-t{threads}" for threads in threads_list for kind in ("s3", "local")]
    runs: dict[str, list[dict]] = {name: [] for name in names}

    # Warm-up, untimed: codecs, the connection pool, the destination bucket's first volumes.
    warm = {kind: run_once(layouts, kind, threads_list[0], counter, weed_pid) for kind in ("s3", "local")}
    if digests(warm["s3"]["part"]) != digests(warm["local"]["part"]):
        raise RuntimeError("S3 and local runs wrote different images: they do not do the same work")

    for repetition in range(repeat):
        for name in _common.rotated(names, repetition):
            kind, threads = name.split("-t")
            run = run_once(layouts, kind, int(threads), counter, weed_pid)
            run.pop("part")
            runs[name].append(run)
            print(
                f"  rep {repetition + 1}/{repeat} {name:<9} {run['seconds']:6.2f} s  "
                f"cpu {run['own_cpu']:5.1f} s + weed {run['weed_cpu']:5.1f} s  load {os.getloadavg()[0]:.2f}",
                flush=True,
            )

    n = layouts.images
    result = {"images": n, "variants": {}, "comparisons": {}}
    for name in names:
        r = runs[name]
        result["variants"][name] = {
            "images_per_s": n / statistics.median(x["seconds"] for x in r),
            "ms_per_image": statistics.median(x["seconds"] for x in r) / n * 1000,
            "own_cpu_ms_per_image": statistics.median(x["own_cpu"] for x in r) / n * 1000,
            "weed_cpu_ms_per_image": statistics.median(x["weed_cpu"] for x in r) / n * 1000,
            "requests_per_run": r[0]["requests"],
            "seconds": [x["seconds"] for x in r],
        }
    for threads in threads_list:
        s3_runs, local_runs = runs[f"s3-t{threads}"], runs[f"local-t{threads}"]
        ratios = [local["seconds"] / s3["seconds"] for s3, local in zip(s3_runs, local_runs, strict=False)]
        result["comparisons"][threads] = {
            "threads": threads,
            "s3_images_per_s": result["variants"][f"s3-t{threads}"]["images_per_s"],
            "local_images_per_s": result["variants"][f"local-t{threads}"]["images_per_s"],
            "ratios": ratios,
            "ratio": statistics.median(ratios),
            "target": TARGET,
            "pass": statistics.median(ratios) >= TARGET,
        }
    return result


#: Inclusive-CPU groups of the profile: (file name suffix, function names).
PROFILE_GROUPS = {
    "s3": {
        "image work (augment.variants: decode, ops, encode, sha256)": ("steps/augment.py", ("variants",)),
        "output and chunk writes (Storage.write, write_file)": ("steps/s3.py", ("write", "write_file")),
        "source and listing-page reads (Storage.read)": ("steps/s3.py", ("read",)),
        "claim and commits (read_tagged, replace, list_keys)": ("steps/s3.py", ("read_tagged", "replace", "list_keys")),
    },
    "local": {
        "image work (augment.variants: decode, ops, encode, sha256)": ("steps/augment.py", ("variants",)),
        "output and chunk writes (Storage.write, write_file)": ("steps/storage.py", ("write", "write_file")),
        "source and listing-page reads (Storage.read)": ("steps/storage.py", ("read",)),
        "claim and commits (read_tagged, replace, list_keys)": (
            "steps/storage.py",
            ("read_tagged", "replace", "list_keys"),
        ),
    },
}


def profile_runs(layouts: Layouts, threads: int) -> dict:
    """CPU profiles (every thread) of one S3 and one local run: ms of CPU per image by part of the
    step (inclusive), and the S3 run's heaviest client functions."""
    result = {}
    for kind in ("s3", "local"):
        spec, run_id, document = layouts.prepare(kind, f"profile-{kind}")
        os.sync()
        stats = _common.profile_all_threads(
            lambda spec=spec, run_id=run_id: augment.augment_shard(spec, run_id, 0, threads=threads)
        )
        layouts.clean(kind, document)
        groups = _common.inclusive_cpu(stats, PROFILE_GROUPS[kind])
        total = _common.total_cpu(stats)
        per_image = {label: g["seconds"] / layouts.images * 1000 for label, g in groups.items()}
        per_image["rest (threads, run record, chunk commits, ...)"] = (
            (total - sum(g["seconds"] for g in groups.values())) / layouts.images * 1000
        )
        out = io.StringIO()
        stats.stream = out
        stats.sort_stats("cumulative").print_stats(r"botocore|urllib3|http/client|s3transfer|steps/s3", 22)
        stats.sort_stats("tottime").print_stats(15)
        api, shares = _common.botocore_shares(stats)
        result[kind] = {
            "api_calls": api["calls"],
            "api_ms_per_call": api["seconds"] / api["calls"] * 1000 if api["calls"] else 0.0,
            "botocore_shares": shares,
            "ms_per_image": per_image,
            "total_ms_per_image": total / layouts.images * 1000,
            "calls": {label: g["calls"] for label, g in groups.items()},
            "top": out.getvalue(),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=16, help="inputs in the shard (default 16)")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved repetitions (default 5)")
    parser.add_argument("--no-single", action="store_true", help="skip the threads=1 comparison")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the CPU of one S3 and one local augment_shard(threads=1), by library",
    )
    _common.add_run_arguments(parser, check="exit 1 when the target is missed", server=True)
    args = parser.parse_args(argv)
    if args.images < 1 or args.repeat < 1:
        parser.error("--images and --repeat must be positive")
    _common.stop_on_sigterm()

    cv2.setNumThreads(1)
    cores = os.cpu_count() or 1
    threads_list = [cores] + ([1] if cores > 1 and not args.no_single else [])
    env = _common.environment(
        cv2=cv2.__version__, numpy=np.__version__, boto3=boto3.__version__, weed=_common.weed_version()
    )
    print("Kaleidoscope S3 vs local benchmark (augment_shard, one shard)")
    print(
        f"  cpus {env['cpu_count']}, python {env['python']}, cv2 {env['cv2']}, numpy {env['numpy']}, "
        f"boto3 {env['boto3']}, {env['weed']}"
    )
    print(_common.platform_line(env))
    print(
        f"  {args.images} inputs {WIDTH}x{HEIGHT} JPEG q{QUALITY} -> normalize {NORMALIZE_SIZE}, "
        f"{len(OPERATIONS)} ops ({OUTPUTS_PER_IMAGE} outputs each), threads {threads_list}, "
        f"repeat {args.repeat}, medians of per-repetition ratios"
    )
    started = time.perf_counter()

    workdir = _common.make_workdir(args.workdir, "kaleidoscope-bench-s3-")
    profile = None
    try:
        server_folder = workdir / "seaweedfs"
        env["workdir"] = str(workdir)
        env["server_data"] = str(server_folder / "data")
        env["workdir_fs"] = _common.filesystem(workdir)
        with _common.seaweed(server_folder) as server:
            print(
                f"  SeaweedFS {server.endpoint}, data in {server_folder / 'data'} ({env['workdir_fs']}); "
                f"local folders in {workdir}",
                flush=True,
            )
            client = server.client()
            for bucket in (SOURCE_BUCKET, DESTINATION_BUCKET):
                server.make_bucket(bucket)
            for number in range(args.images):
                path = workdir / "src" / f"img_{number:04d}.jpg"
                data = write_jpeg(path, synthetic_photo(1000 + number))
                client.put_object(Bucket=SOURCE_BUCKET, Key=f"{SOURCE_PREFIX}/{path.name}", Body=data)
            counter = _common.RequestCounter(s3_module.client())
            layouts = Layouts(workdir, server, args.images)
            print(f"  set-up {time.perf_counter() - started:.1f} s", flush=True)
            print("timed runs (seconds for the shard; CPU of this process and of the weed server):", flush=True)
            result = measure(layouts, threads_list, args.repeat, counter, server.process.pid)
            if args.profile:
                print("profiling one S3 and one local run, threads=1 ...", flush=True)
                profile = profile_runs(layouts, 1)
    finally:
        if args.keep:
            print(f"  data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    env["loadavg_end"] = os.getloadavg()
    n = result["images"]
    rows = []
    for threads, c in result["comparisons"].items():
        main_row = threads == cores
        rows.append(
            (
                f"S3->S3 vs local->local, threads={threads} ({n} img)",
                f"{c['s3_images_per_s']:.2f} vs {c['local_images_per_s']:.2f} img/s = {c['ratio']:.3f}",
                f">= {TARGET}" + ("" if main_row else " (info)"),
                _common.verdict(c["pass"]) + ("" if main_row else " (info)"),
            )
        )
    print()
    print(_common.table(rows))
    print()
    print("Per-repetition ratios, S3 throughput / local throughput (median is reported):")
    for threads, c in result["comparisons"].items():
        print(f"  threads={threads}: {' '.join(f'{r:.3f}' for r in c['ratios'])}")
    print()
    print("Per image (medians): wall ms; CPU ms of this process (all threads) and of the weed server; cores each")
    print(f"kept busy (CPU / wall); the CPU-bound ceiling = {cores} cores / (process + weed CPU):")
    print(
        f"  {'variant':<10} {'img/s':>6} {'wall':>7} {'process':>8} {'weed':>7} {'total':>7} "
        f"{'cores: process':>15} {'weed':>5} {'ceiling img/s':>14}"
    )
    for name, v in result["variants"].items():
        total = v["own_cpu_ms_per_image"] + v["weed_cpu_ms_per_image"]
        print(
            f"  {name:<10} {v['images_per_s']:6.2f} {v['ms_per_image']:7.1f} {v['own_cpu_ms_per_image']:8.1f} "
            f"{v['weed_cpu_ms_per_image']:7.1f} {total:7.1f} {v['own_cpu_ms_per_image'] / v['ms_per_image']:15.2f} "
            f"{v['weed_cpu_ms_per_image'] / v['ms_per_image']:5.2f} {cores * 1000 / total if total else 0:14.2f}"
        )
    s3v, lov = result["variants"][f"s3-t{cores}"], result["variants"][f"local-t{cores}"]
    print(
        f"  S3 costs {s3v['own_cpu_ms_per_image'] - lov['own_cpu_ms_per_image']:+.1f} ms of CPU per image in "
        f"this process ({(s3v['own_cpu_ms_per_image'] - lov['own_cpu_ms_per_image']) / OUTPUTS_PER_IMAGE:.2f} ms "
        f"per output) and {s3v['weed_cpu_ms_per_image']:.1f} ms in the server "
        f"({s3v['weed_cpu_ms_per_image'] / OUTPUTS_PER_IMAGE:.2f} ms per output), on the same {cores} cores."
    )
    print(
        f"  Bound on the ratio when CPU-bound with the server on these cores, even with no client-side S3 cost: "
        f"local CPU / (local CPU + weed CPU) = {lov['own_cpu_ms_per_image'] / (lov['own_cpu_ms_per_image'] + s3v['weed_cpu_ms_per_image']):.2f}; "
        f"with this run's client cost: {(lov['own_cpu_ms_per_image'] + lov['weed_cpu_ms_per_image']) / (s3v['own_cpu_ms_per_image'] + s3v['weed_cpu_ms_per_image']):.2f}."
    )
    s3_requests = s3v["requests_per_run"]
    print(
        f"  S3 requests per run of {n} images: "
        + ", ".join(f"{op} {count}" for op, count in sorted(s3_requests.items(), key=lambda x: -x[1]))
        + f" ({sum(s3_requests.values()) / n:.1f} per image)"
    )
    if profile:
        print()
        print(
            "CPU profile of augment_shard(threads=1), every thread, each timed by its own CPU clock "
            "(cProfile overhead inflates"
        )
        print("Python-heavy code such as botocore more than OpenCV), ms of CPU per image, inclusive:")
        print(f"  {'part of the step':<58} {'S3':>8} {'local':>8} {'S3-local':>9}")
        for label in profile["s3"]["ms_per_image"]:
            a, b = profile["s3"]["ms_per_image"][label], profile["local"]["ms_per_image"][label]
            print(f"  {label:<58} {a:8.1f} {b:8.1f} {a - b:+9.1f}")
        a, b = profile["s3"]["total_ms_per_image"], profile["local"]["total_ms_per_image"]
        print(f"  {'total':<58} {a:8.1f} {b:8.1f} {a - b:+9.1f}")
        writes = "output and chunk writes (Storage.write, write_file)"
        calls = profile["s3"]["calls"][writes]
        if calls:
            print(
                f"  per S3 write: {profile['s3']['ms_per_image'][writes] * n / calls:.2f} ms CPU in this process "
                f"({calls} writes; unprofiled estimate from the timed runs: "
                f"{(s3v['own_cpu_ms_per_image'] - lov['own_cpu_ms_per_image']) / OUTPUTS_PER_IMAGE:.2f} ms)"
            )
        p3 = profile["s3"]
        print(
            f"  botocore _make_api_call: {p3['api_calls']} requests, {p3['api_ms_per_call']:.2f} ms profiled CPU "
            "each, shared out as:"
        )
        for label, share in p3["botocore_shares"].items():
            print(f"    {share * 100:5.1f} %  {label}")
        print()
        print("S3 run, client functions by cumulative CPU, then all functions by own CPU:")
        print(profile["s3"]["top"])
    print(
        f"Server data was in {env['server_data']} ({env['workdir_fs']}), removed afterwards"
        + (" (kept)" if args.keep else "")
        + "."
    )
    print(
        f"Load average at end: {' '.join(f'{v:.2f}' for v in env['loadavg_end'])}; "
        f"total time {time.perf_counter() - started:.0f} s"
    )

    main_comparison = result["comparisons"][cores]
    report = {
        "environment": env,
        "settings": {
            **vars(args),
            "width": WIDTH,
            "height": HEIGHT,
            "normalize": NORMALIZE_SIZE,
            "operations": list(OPERATIONS),
            "quality": QUALITY,
            "threads": threads_list,
        },
        "result": result,
        "profile": {
            k: {
                key: v[key]
                for key in (
                    "ms_per_image",
                    "total_ms_per_image",
                    "calls",
                    "api_calls",
                    "api_ms_per_call",
                    "botocore_shares",
                )
            }
            for k, v in (profile or {}).items()
        },
        "all_pass": main_comparison["pass"],
        "seconds": time.perf_counter() - started,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 1 if args.check and not main_comparison["pass"] else 0


if __name__ == "__main__":
    sys.exit(main())
