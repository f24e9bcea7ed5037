"""Benchmark of ``kaleidoscope run`` S3 -> S3 against the same run local -> local: the client CPU
that S3 adds per output, measured side by side in one run (the server's CPU excluded).

Run from the repository root (the file is not named ``test_*``, so pytest never collects it)::

    .venv/bin/python -m tests.benchmarks.bench_s3                          # default, ~2.5 min on 2 cores
    .venv/bin/python -m tests.benchmarks.bench_s3 --photos 8 --repeat 1    # quick look
    .venv/bin/python -m tests.benchmarks.bench_s3 --json s3.json --check --profile

Targets (issue 17, item 4): S3 adds at most 0.6 ms of client CPU per output over the same run on
local folders with ``output.container: files`` (an object per output), and at most 0.15 ms with
``webdataset`` (outputs packed into archives), the server excluded: (CPU of the S3 run's process
tree - CPU of the local run's) / outputs, the median of the per-repetition differences.

Set-up, in a temporary folder (removed afterwards unless ``--keep``): ``--photos`` JPEGs of
``bench_run.build_photos`` (scikit-image's sample photographs, 1024x768, JPEG q92), written to a
local folder and uploaded to a source bucket of a SeaweedFS server (``tests.s3server``, ``weed
server -s3`` on loopback, authentication on) whose data folder is inside the temporary folder
(its path and file system type are printed; ``--workdir`` moves it). The spec is the job of the
issue: ``normalize: {size: 400}``, the six operations ``rotate_zoom, contrast, brightness,
saturation, flip_lr, noise`` -> 64 JPEG q90 outputs per photo, default shards and layout
(``spread`` on S3, ``mirror`` locally; the images are the same).

What is measured, each variant a fresh process tree whose CPU time is the ``getrusage
(RUSAGE_CHILDREN)`` delta around it (user + system of every descendant that was waited for):

* run (files) and wds (webdataset, unless ``--container files``):
  ``python -m kaleidoscope.workflows.cli run spec.json --destination D`` (what users run),
  S3 -> S3 (``--s3-endpoint`` the server, credentials in the environment, D a prefix of the
  destination bucket) and local -> local (D a folder), start-up, shard, augment steps and
  manifest included. D is the same for every run of a kind and emptied after each, so every run
  writes every output and, as a user's repeated runs, reuses its rendered Workflow (the render
  cache is a folder of its own, ``KALEIDOSCOPE_CACHE_DIR``, filled by the untimed warm-up).
* step (unless ``--no-step``): ``kaleidoscope step augment --threads <cores>`` alone on a
  one-shard plan of the same photos (planned untimed by ``kaleidoscope step shard``), S3 and
  local: the same difference without the workflow around it.

The SeaweedFS server is started before anything is measured and runs in its own session until
the end; it is never waited for while a delta is taken, so its CPU is not in any figure of the
target (it is read from ``/proc/<pid>/stat`` around each run and reported apart, as information:
on these 2 cores the server's work competes with the client's). Before each timed run, untimed:
the previous destination is deleted and ``os.sync()`` flushes dirty pages. The variants are
interleaved within each repetition (their order rotates); figures are medians of the
per-repetition figures. Untimed sanity check: the warm-up S3 and local runs publish the same
images (sha256 of every manifest record, by source and operations).

What the difference is made of (2026-11-29, 32 photos, per-process CPU read at exit): the run's
four S3 processes (shard, one augment step per core, manifest) each pay ~0.2 s that a local one
does not (importing botocore ~0.13 s, creating its S3 client ~0.07 s, freeing it at exit), about
0.4 ms per output at 2,048 outputs; the rest is botocore's ~1.1 ms of CPU per PUT (signing,
urllib3 and http.client, event handlers, endpoint rules) against a local file's write and rename.
CPU times grow when other work shares the cores (more so for the S3 run, whose server competes
too): the load average is printed at the start and the end.

``--profile`` adds a CPU profile of every thread of one S3 and one local in-process
``augment.augment_shard(threads=1)`` run, summed by part of the step and by botocore stage,
which shows where the S3 path spends its extra client CPU.

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
import subprocess
import sys
import time
from pathlib import Path

import boto3
import cv2
import numpy as np

from kaleidoscope.steps import augment, manifest
from kaleidoscope.steps import shard as shard_module
from kaleidoscope.steps import spec as spec_module
from tests.benchmarks import _common
from tests.benchmarks.bench_run import NORMALIZE_SIZE, OPERATIONS, QUALITY, build_photos, children_cpu, spec_document

ROOT = Path(__file__).resolve().parents[2]
#: Client CPU added by S3 per output, ms, by container (issue 17, item 4).
TARGETS_MS = {"run": 0.6, "wds": 0.15}
OUTPUTS_PER_PHOTO = 2 ** len(OPERATIONS)
SOURCE_BUCKET = "kaleidoscope-bench-src"
DESTINATION_BUCKET = "kaleidoscope-bench-dst"
SOURCE_PREFIX = "in"
ONE_PREFIX = "one"  # the first photo alone: a run of fixed costs
CLI = [sys.executable, "-m", "kaleidoscope.workflows.cli"]


class Bench:
    """The photos, the server, and a fresh destination per run."""

    def __init__(self, workdir: Path, server, photos: int):
        self.workdir, self.server, self.photos = workdir, server, photos
        self.client = server.client()
        self.runs = 0
        self.source = {"s3": f"s3://{SOURCE_BUCKET}/{SOURCE_PREFIX}", "local": str(workdir / "photos")}
        one = {"s3": f"s3://{SOURCE_BUCKET}/{ONE_PREFIX}", "local": str(workdir / "photos-one")}
        self.specs = {}
        for kind in ("s3", "local"):
            for container in ("files", "webdataset"):
                path = workdir / f"spec-{kind}-one-{container}.json"
                document = spec_document(one[kind], self.destination(kind, "unused"), container=container)
                path.write_text(json.dumps(document))
                self.specs[kind, "one", container] = path
            for shards in (None, 1):
                path = workdir / f"spec-{kind}{'-one-shard' if shards else ''}.json"  # JSON is YAML
                path.write_text(json.dumps(spec_document(self.source[kind], self.destination(kind, "unused"), shards)))
                self.specs[kind, shards] = path
            path = workdir / f"spec-{kind}-webdataset.json"
            document = spec_document(self.source[kind], self.destination(kind, "unused"), container="webdataset")
            path.write_text(json.dumps(document))
            self.specs[kind, "webdataset"] = path

    def destination(self, kind: str, name: str) -> str:
        if kind == "s3":
            return f"s3://{DESTINATION_BUCKET}/{name}"
        return str(self.workdir / "dst" / name)

    def fresh(self, kind: str, label: str) -> tuple[str, str]:
        self.runs += 1
        name = f"{label}-{self.runs:03d}"
        return name, self.destination(kind, name)

    def clean(self, kind: str, destination: str) -> None:
        if kind == "s3":
            _common.delete_prefix(self.client, DESTINATION_BUCKET, destination.split("/", 3)[3] + "/")
        else:
            shutil.rmtree(destination, ignore_errors=True)

    def endpoint(self, kind: str) -> list[str]:
        return ["--s3-endpoint", self.server.endpoint] if kind == "s3" else []

    def timed(self, command: list[str]) -> dict:
        """Run ``command`` to its end: wall seconds, CPU of its process tree, the server's CPU."""
        os.sync()
        weed_before = _common.cpu_seconds(self.server.process.pid)
        cpu_before, start = children_cpu(), time.perf_counter()
        process = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        seconds, cpu = time.perf_counter() - start, children_cpu() - cpu_before
        weed = _common.cpu_seconds(self.server.process.pid) - weed_before
        if process.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} exited {process.returncode}:\n{process.stdout.decode(errors='replace')[-4000:]}"
            )
        return {"seconds": seconds, "cpu": cpu, "weed_cpu": weed}

    def run(self, kind: str, keep: bool = False, container: str = "files", one: bool = False) -> dict:
        """``kaleidoscope run`` to a fresh destination; returns its figures (and records if ``keep``)."""
        # The same destination every time (emptied after each run): a run renders its Workflow
        # once per spec and destination and keeps it (workflows.render_cache), as a user's
        # repeated runs do, so the warm-up's render serves every timed run of its kind.
        packed = container == "webdataset"
        destination = self.destination(kind, f"run-{kind}-{container}{'-one' if one else ''}")
        spec = self.specs[kind, "one", container] if one else self.specs[kind, "webdataset" if packed else None]
        figures = self.timed([*CLI, "run", str(spec), "--destination", destination, *self.endpoint(kind)])
        records = list(manifest.records(destination))
        expected = (1 if one else self.photos) * OUTPUTS_PER_PHOTO
        if len(records) != expected:
            raise RuntimeError(f"{kind} run published {len(records)} records, not {expected}")
        figures["outputs"] = len(records)
        if keep:
            figures["records"] = records
        self.clean(kind, destination)
        return figures

    def step(self, kind: str, threads: int) -> dict:
        """``kaleidoscope step augment`` alone on shard 0 of a fresh one-shard plan."""
        name, destination = self.fresh(kind, f"step-{kind}")
        common = ["--spec", str(self.specs[kind, 1]), "--destination", destination, "--run-id", name]
        subprocess.run(
            [*CLI, "step", "shard", *common, *self.endpoint(kind)], cwd=ROOT, check=True, capture_output=True
        )
        result = self.workdir / "step-result.json"
        figures = self.timed(
            [
                *CLI,
                "step",
                "augment",
                *common,
                *self.endpoint(kind),
                "--shard",
                "0",
                "--threads",
                str(threads),
                "--output",
                str(result),
            ]
        )
        answer = json.loads(result.read_text())
        if answer["inputs"] != self.photos or answer["failed"] or answer["resumed"]:
            raise RuntimeError(f"{kind} step augment gave {answer}")
        figures["outputs"] = answer["outputs"]
        self.clean(kind, destination)
        return figures


def same_images(s3_records: list[dict], local_records: list[dict]) -> int:
    """The S3 and local runs published the same bytes for the same source and operations."""

    def by_input(records):
        return sorted((r["source"], tuple(r["ops"]), r["sha256"]) for r in records)

    a, b = by_input(s3_records), by_input(local_records)
    if a != b:
        raise RuntimeError("S3 and local runs published different images: they do not do the same work")
    return len(a)


def measure(bench: Bench, variants: list[str], repeat: int, cores: int) -> dict:
    samples: dict[str, list[dict]] = {name: [] for name in variants}
    print("warm-up (untimed): one run each, images compared", flush=True)
    warm = {kind: bench.run(kind, keep=True) for kind in ("s3", "local")}
    checked = same_images(warm["s3"]["records"], warm["local"]["records"])
    print(f"  S3 and local runs published the same {checked} images (sha256 per record)", flush=True)
    if "wds-s3" in variants:
        for kind in ("s3", "local"):
            same_images(bench.run(kind, keep=True, container="webdataset")["records"], warm["local"]["records"])
        print("  ... and so did the webdataset runs, S3 and local, packed in archives", flush=True)
    for name in variants:
        what, kind = name.split("-")
        if what.endswith("1"):  # each destination's first run renders the Workflow: not timed
            bench.run(kind, container="webdataset" if what.startswith("wds") else "files", one=True)
    for repetition in range(repeat):
        for name in _common.rotated(variants, repetition):
            what, kind = name.split("-")
            if what == "step":
                sample = bench.step(kind, cores)
            else:
                container = "webdataset" if what.startswith("wds") else "files"
                sample = bench.run(kind, container=container, one=what.endswith("1"))
            samples[name].append(sample)
            print(
                f"  rep {repetition + 1}/{repeat} {name:<10} {sample['seconds']:6.2f} s  "
                f"cpu {sample['cpu']:6.2f} s = {sample['cpu'] / sample['outputs'] * 1000:5.2f} ms/output  "
                f"+ weed {sample['weed_cpu']:5.2f} s  load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    result: dict = {"samples": samples, "checked_records": checked, "comparisons": {}}
    for what in ("run", "wds", "step"):
        if f"{what}-s3" not in samples:
            continue
        s3_runs, local_runs = samples[f"{what}-s3"], samples[f"{what}-local"]
        added = [(s["cpu"] - lo["cpu"]) / s["outputs"] * 1000 for s, lo in zip(s3_runs, local_runs, strict=True)]

        def med(key, runs):
            return statistics.median(r[key] / r["outputs"] * 1000 for r in runs)

        marginal = None
        if f"{what}1-s3" in samples:
            # The fixed costs (each process's start, the bookkeeping) cancel out: what S3 adds per
            # further output, which a pod's shard of 20,000 photos pays at scale.
            marginal = [
                ((s["cpu"] - lo["cpu"]) - (s1["cpu"] - lo1["cpu"])) / (s["outputs"] - s1["outputs"]) * 1000
                for s, lo, s1, lo1 in zip(
                    s3_runs, local_runs, samples[f"{what}1-s3"], samples[f"{what}1-local"], strict=True
                )
            ]
        result["comparisons"][what] = {
            "marginal_added_ms_per_output": marginal,
            "median_marginal_added_ms_per_output": statistics.median(marginal) if marginal else None,
            "fixed_added_cpu_s": statistics.median(
                s1["cpu"] - lo1["cpu"]
                for s1, lo1 in zip(samples[f"{what}1-s3"], samples[f"{what}1-local"], strict=True)
            )
            if marginal
            else None,
            "outputs": s3_runs[0]["outputs"],
            "added_ms_per_output": added,
            "median_added_ms_per_output": statistics.median(added),
            "s3_cpu_ms_per_output": med("cpu", s3_runs),
            "local_cpu_ms_per_output": med("cpu", local_runs),
            "weed_cpu_ms_per_output": med("weed_cpu", s3_runs),
            "s3_seconds": statistics.median(r["seconds"] for r in s3_runs),
            "local_seconds": statistics.median(r["seconds"] for r in local_runs),
        }
    return result


# --------------------------------------------------------------------------
# --profile: where the S3 client's CPU goes, in-process
# --------------------------------------------------------------------------

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


def profile_runs(bench: Bench, threads: int, container: str = "files") -> dict:
    """CPU profiles (every thread) of one S3 and one local in-process ``augment_shard``: ms of CPU
    per output by part of the step (inclusive), botocore's stages, the heaviest client functions."""
    result = {}
    for kind in ("s3", "local"):
        name, destination = bench.fresh(kind, f"profile-{kind}")
        document = spec_document(bench.source[kind], destination, shards=1, container=container)
        spec = spec_module.parse(document)
        shard_module.shard(spec, name)
        os.sync()
        stats = _common.profile_all_threads(
            lambda spec=spec, name=name: augment.augment_shard(spec, name, 0, threads=threads)
        )
        bench.clean(kind, destination)
        outputs = bench.photos * OUTPUTS_PER_PHOTO
        groups = _common.inclusive_cpu(stats, PROFILE_GROUPS[kind])
        total = _common.total_cpu(stats)
        per_output = {label: g["seconds"] / outputs * 1000 for label, g in groups.items()}
        per_output["rest (threads, run record, chunk commits, ...)"] = (
            (total - sum(g["seconds"] for g in groups.values())) / outputs * 1000
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
            "ms_per_output": per_output,
            "total_ms_per_output": total / outputs * 1000,
            "calls": {label: g["calls"] for label, g in groups.items()},
            "top": out.getvalue(),
        }
    return result


def print_profile(profile: dict) -> None:
    print()
    print("CPU profile of augment_shard(threads=1) in-process, every thread, each timed by its own CPU clock")
    print("(cProfile inflates Python-heavy code such as botocore more than OpenCV), ms of CPU per output, inclusive:")
    print(f"  {'part of the step':<58} {'S3':>8} {'local':>8} {'S3-local':>9}")
    for label in profile["s3"]["ms_per_output"]:
        a, b = profile["s3"]["ms_per_output"][label], profile["local"]["ms_per_output"][label]
        print(f"  {label:<58} {a:8.2f} {b:8.2f} {a - b:+9.2f}")
    a, b = profile["s3"]["total_ms_per_output"], profile["local"]["total_ms_per_output"]
    print(f"  {'total':<58} {a:8.2f} {b:8.2f} {a - b:+9.2f}")
    p3 = profile["s3"]
    print(
        f"  botocore _make_api_call: {p3['api_calls']} requests, {p3['api_ms_per_call']:.2f} ms profiled CPU each, "
        "shared out as:"
    )
    for label, share in p3["botocore_shares"].items():
        print(f"    {share * 100:5.1f} %  {label}")
    print()
    print("S3 run, client functions by cumulative CPU, then all functions by own CPU:")
    print(p3["top"])


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=32, help="source photos (default 32, 64 outputs each)")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved repetitions (default 5)")
    parser.add_argument("--no-step", action="store_true", help="skip the augment step alone")
    parser.add_argument(
        "--container",
        choices=("both", "files"),
        default="both",
        help="measure output.container files and webdataset (default), or files alone",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the CPU of one S3 and one local in-process augment_shard(threads=1)",
    )
    parser.add_argument(
        "--profile-container", choices=("files", "webdataset"), default="files", help="the container --profile runs"
    )
    _common.add_run_arguments(parser, check="exit 1 when the target is missed", server=True)
    args = parser.parse_args(argv)
    if args.photos < 1 or args.repeat < 1:
        parser.error("--photos and --repeat must be positive")
    _common.stop_on_sigterm()

    cv2.setNumThreads(1)
    cores = len(os.sched_getaffinity(0))
    env = _common.environment(
        cv2=cv2.__version__, numpy=np.__version__, boto3=boto3.__version__, weed=_common.weed_version()
    )
    env["started_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    print("Kaleidoscope S3 vs local benchmark (kaleidoscope run end to end, client CPU per output)")
    print(
        f"  {env['started_utc']} UTC, cpus {env['cpu_count']}, python {env['python']}, cv2 {env['cv2']}, "
        f"numpy {env['numpy']}, boto3 {env['boto3']}, {env['weed']}"
    )
    print(_common.platform_line(env))
    variants = ["run-s3", "run-local", "run1-s3", "run1-local"]
    variants += [] if args.container == "files" else ["wds-s3", "wds-local", "wds1-s3", "wds1-local"]
    variants += [] if args.no_step else ["step-s3", "step-local"]
    print(
        f"  {args.photos} photos 1024x768 -> normalize {NORMALIZE_SIZE}, {len(OPERATIONS)} ops "
        f"({OUTPUTS_PER_PHOTO} outputs each, {args.photos * OUTPUTS_PER_PHOTO} per run), variants {variants}, "
        f"repeat {args.repeat}, medians of per-repetition figures"
    )
    started = time.perf_counter()

    workdir = _common.make_workdir(args.workdir, "kaleidoscope-bench-s3-")
    profile = None
    try:
        server_folder = workdir / "seaweedfs"
        env["workdir"] = str(workdir)
        env["server_data"] = str(server_folder / "data")
        env["workdir_fs"] = _common.filesystem(workdir)
        keys = build_photos(workdir / "photos", args.photos)
        with _common.seaweed(server_folder) as server:
            print(
                f"  SeaweedFS {server.endpoint} (pid {server.process.pid}, its own session, never waited for "
                f"while measuring), data in {server_folder / 'data'} ({env['workdir_fs']}); local folders in {workdir}",
                flush=True,
            )
            client = server.client()
            for bucket in (SOURCE_BUCKET, DESTINATION_BUCKET):
                server.make_bucket(bucket)
            for key in keys:
                data = (workdir / "photos" / key).read_bytes()
                client.put_object(Bucket=SOURCE_BUCKET, Key=f"{SOURCE_PREFIX}/{key}", Body=data)
            (workdir / "photos-one").mkdir()
            shutil.copy(workdir / "photos" / keys[0], workdir / "photos-one" / keys[0])
            client.put_object(
                Bucket=SOURCE_BUCKET, Key=f"{ONE_PREFIX}/{keys[0]}", Body=(workdir / "photos" / keys[0]).read_bytes()
            )
            os.environ["KALEIDOSCOPE_CACHE_DIR"] = str(workdir / "render-cache")  # the runs' own, removed after
            bench = Bench(workdir, server, args.photos)
            print(f"  set-up {time.perf_counter() - started:.1f} s", flush=True)
            result = measure(bench, variants, args.repeat, cores)
            if args.profile:
                print("profiling one S3 and one local augment_shard(threads=1) in-process ...", flush=True)
                profile = profile_runs(bench, 1, args.profile_container)
    finally:
        if args.keep:
            print(f"  data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    env["loadavg_end"] = os.getloadavg()
    env["ended_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    labels = {"run": "files", "wds": "webdataset"}
    rows, verdicts = [], []
    for what, label in labels.items():
        if what not in result["comparisons"]:
            continue
        run = result["comparisons"][what]
        verdicts.append(run["median_marginal_added_ms_per_output"] <= TARGETS_MS[what])
        rows.append(
            (
                f"kaleidoscope run S3->S3 vs local->local, container {label}: client CPU S3 adds per further output",
                f"{run['median_marginal_added_ms_per_output']:+.3f} ms",
                f"<= {TARGETS_MS[what]} ms",
                _common.verdict(verdicts[-1]),
            )
        )
        rows.append(
            (
                f"  ... per output of the whole {run['outputs']}-output run, fixed costs included "
                f"(a one-photo run: S3 adds {run['fixed_added_cpu_s']:.2f} s)",
                f"{run['s3_cpu_ms_per_output']:.2f} - {run['local_cpu_ms_per_output']:.2f} = "
                f"{run['median_added_ms_per_output']:+.2f} ms",
                "(info)",
                "",
            )
        )
    passed = all(verdicts)
    if "step" in result["comparisons"]:
        step = result["comparisons"]["step"]
        rows.append(
            (
                f"step augment alone, --threads {cores}, one shard: client CPU added per output",
                f"{step['s3_cpu_ms_per_output']:.2f} - {step['local_cpu_ms_per_output']:.2f} = "
                f"{step['median_added_ms_per_output']:+.2f} ms",
                "(info)",
                "",
            )
        )
    print()
    print(_common.table(rows))
    print()
    print("Per repetition, client CPU added by S3 per output, ms (the median is reported):")
    for what, c in result["comparisons"].items():
        print(f"  {what:<5} {' '.join(f'{v:+.2f}' for v in c['added_ms_per_output'])}")
        if c["marginal_added_ms_per_output"]:
            print(f"  {what:<5} per further output: {' '.join(f'{v:+.3f}' for v in c['marginal_added_ms_per_output'])}")
    print()
    print("Medians per output: CPU ms of the kaleidoscope processes, of the weed server (not in the target), wall s:")
    for what, c in result["comparisons"].items():
        print(
            f"  {what:<5} S3 {c['s3_cpu_ms_per_output']:6.2f} ms + weed {c['weed_cpu_ms_per_output']:5.2f} ms "
            f"({c['s3_seconds']:5.2f} s wall);  local {c['local_cpu_ms_per_output']:6.2f} ms "
            f"({c['local_seconds']:5.2f} s wall)"
        )
    if profile:
        print_profile(profile)
    print(
        f"Server data was in {env['server_data']} ({env['workdir_fs']}), removed afterwards"
        + (" (kept)" if args.keep else "")
        + "."
    )
    print(
        f"Load average at start {' '.join(f'{v:.2f}' for v in env['loadavg_start'])}, at end "
        f"{' '.join(f'{v:.2f}' for v in env['loadavg_end'])} ({env['ended_utc']} UTC); "
        f"total time {time.perf_counter() - started:.0f} s"
    )

    report = {
        "environment": env,
        "settings": {
            **vars(args),
            "normalize": NORMALIZE_SIZE,
            "operations": list(OPERATIONS),
            "quality": QUALITY,
            "cores": cores,
            "targets_ms": TARGETS_MS,
        },
        "result": result,
        "profile": {
            kind: {key: value for key, value in figures.items() if key != "top"}
            for kind, figures in (profile or {}).items()
        },
        "all_pass": passed,
        "seconds": time.perf_counter() - started,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 1 if args.check and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
