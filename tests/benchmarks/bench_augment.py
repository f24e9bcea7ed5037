"""Benchmark of the augment step: ratios measured side by side in one run, never absolute times.

Run from the repository root (the file is not named ``test_*``, so pytest never collects it)::

    .venv/bin/python -m tests.benchmarks.bench_augment                       # default, ~2-4 min on 2 cores
    .venv/bin/python -m tests.benchmarks.bench_augment --images 4 --repeat 3  # quick look
    .venv/bin/python -m tests.benchmarks.bench_augment --json bench.json --check

Set-up, in a temporary folder (removed afterwards unless ``--keep``): ``--images`` distinct
1024x768 JPEGs (quality 90) drawn with OpenCV (smooth gradients, shapes, mild noise), the spec
``normalize: {size: 400}`` with the six operations ``rotate_zoom, contrast, brightness,
saturation, flip_lr, noise`` (2^6 = 64 outputs per input), JPEG q90 output, one shard made once
by ``steps.shard.shard``. Everything goes through the project's real code paths.

What is measured (each line of the table states its target and PASS/FAIL):

1. Tree vs naive transform work, on the same decoded and normalised images with the same
   sampled parameters: (a) operation calls counted through ``steps.tree.walk`` (63) against
   recomputing each of the 64 subsets from the normalised original (192); (b) the time of that
   operation work alone (no encoding). Target: tree <= 1/3 of naive, counted and timed.
   The per-operation cost table under it shows where the time goes: the tree calls the
   operation at position i (0-based) 2^i times, the naive way 2^(N-1) times each.
2. One-thread step vs bare floor: the floor decodes in-memory bytes, normalises, walks the tree
   (63 operations) and encodes the 64 outputs, in a tight loop with no naming, hashing,
   manifest or I/O; the step is ``augment_shard(threads=1)`` on the same shard, reading from and
   writing to local folders (outputs deleted between repetitions, untimed). Both run with
   ``cv2.setNumThreads(1)``. Target: step throughput >= 0.85 x floor.
3. Scaling: ``augment_shard(threads=os.cpu_count())`` vs ``threads=1`` on the same shard.
   Target: >= 0.85 x cores (1.7x on 2 cores). Skipped on a single core.
4. Peak memory vs shard size: ``augment_shard`` (default threads) in a fresh ``python -c``
   subprocess for a shard of K and of 4K images (the same few JPEG files copied under many
   keys). The child notes its RSS after its imports, resets its high-water mark
   (``/proc/self/clear_refs``) and reads ``VmHWM`` after the run. ``ru_maxrss`` is recorded in
   the JSON but not used: Linux copies the launching process's high-water mark into the child's
   at exec, so every child would report at least the benchmark's own peak. Target: the larger
   shard's peak above that baseline <= 1.15 x the smaller's, or within +20 MB of it.

The machine is shared and noisy, so the compared variants are interleaved within each
repetition (their order rotates from one repetition to the next) and every reported ratio is
the median of the per-repetition ratios; throughputs are medians too. Measurements 2 and 3
share their runs: each repetition times floor, step(1) and step(cores) once. Untimed sanity
checks guard the comparisons: tree and naive give identical images, and the floor's encoded
bytes equal the files the step writes.

The step's cost depends on the file system it writes to (``--workdir``; the default is the
system's temporary folder, printed with its type): creating 64 files per input costs several
times more on a disk-backed ext4 than on tmpfs.

Exit status is 0 whatever the figures (this is a report, not a test), unless something errs;
with ``--check`` it is 1 when a target is missed. ``--profile`` adds a cProfile of one
``augment_shard(threads=1)`` run (top functions by own time) to locate the step's overhead.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from kaleidoscope.steps import augment, imageio, ops, run_layout, tree
from kaleidoscope.steps import shard as shard_module
from kaleidoscope.steps import spec as spec_module
from tests.benchmarks._common import (
    add_run_arguments,
    environment,
    filesystem,
    make_workdir,
    platform_line,
    rotated,
    table,
    verdict,
)

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ("rotate_zoom", "contrast", "brightness", "saturation", "flip_lr", "noise")
WIDTH, HEIGHT = 1024, 768
NORMALIZE_SIZE = 400
QUALITY = 90
RUN_ID = "bench"

TREE_TARGET = 1 / 3
FLOOR_TARGET = 0.85
SCALING_PER_CORE = 0.85
MEMORY_RATIO_TARGET = 1.15
MEMORY_SLACK_MB = 20.0


# --------------------------------------------------------------------------
# Set-up
# --------------------------------------------------------------------------


def synthetic_photo(seed: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """A distinct, photo-like BGR image: smooth gradients and waves, soft shapes, mild noise."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    xn, yn = xs / (width - 1) * 2 - 1, ys / (height - 1) * 2 - 1
    image = np.empty((height, width, 3), np.float32)
    for channel in range(3):
        a, b = rng.uniform(-1, 1, 2)
        fx, fy = rng.uniform(0.3, 2.0, 2)
        phase = rng.uniform(0, 2 * np.pi)
        image[..., channel] = (
            rng.uniform(60, 195) + 70 * (a * xn + b * yn) + 25 * np.sin(np.pi * (fx * xn + fy * yn) + phase)
        )
    image = np.clip(image, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(8, 16))):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(20, 220))
        kind = int(rng.integers(0, 4))
        if kind == 0:
            cv2.circle(image, (cx, cy), size, colour, -1, cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(image, (cx, cy), (cx + size, cy + int(size * rng.uniform(0.4, 1.6))), colour, -1)
        elif kind == 2:
            axes = (size, int(size * rng.uniform(0.2, 0.9)))
            cv2.ellipse(image, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
        else:
            points = rng.integers(-size, size, (5, 2)) + np.array([cx, cy])
            cv2.polylines(image, [points.astype(np.int32)], True, colour, int(rng.integers(2, 9)), cv2.LINE_AA)
    image = cv2.GaussianBlur(image, (0, 0), 1.2)  # soft edges, as a lens gives
    noisy = image.astype(np.float32) + rng.normal(0, 4.0, image.shape).astype(np.float32)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def write_jpeg(path: Path, image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    if not ok:
        raise RuntimeError("cannot encode the synthetic input")
    data = buffer.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def spec_document(source: Path, destination: Path) -> dict:
    return {
        "source": str(source),
        "destination": str(destination),
        "seed": 0,
        "normalize": {"size": NORMALIZE_SIZE},
        "transforms": list(OPERATIONS),
        "output": {"format": "jpg", "quality": QUALITY},
        "shards": 1,
    }


def make_shard(document: dict) -> spec_module.Spec:
    """Parse the spec and shard its source once (a single shard, index 0)."""
    spec = spec_module.parse(document)
    references = shard_module.shard(spec, RUN_ID)
    if len(references) != 1:
        raise RuntimeError(f"expected one shard, got {references}")
    return spec


def clean_destination(destination: Path) -> None:
    """Remove outputs and the run's committed chunks and shard reports, so the next
    ``augment_shard`` starts afresh instead of resuming after them; keep the claim, the run's
    record and its listing pages (what the shard step wrote)."""
    for entry in destination.iterdir():
        if entry.name == run_layout.WORK_PREFIX:
            work = destination / run_layout.work_prefix(RUN_ID)
            shutil.rmtree(work / "chunks", ignore_errors=True)
            shutil.rmtree(work / "shards", ignore_errors=True)
        elif entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


class Prepared:
    """One input, decoded and normalised, with its sampled params and tree operations."""

    def __init__(self, spec: spec_module.Spec, key: str, data: bytes):
        self.key, self.data = key, data
        decoded = imageio.decode(data, max_pixels=spec.max_pixels)
        self.crop, self.parameters = augment.sample_parameters(spec, key, decoded.shape[0], decoded.shape[1])
        self.normalized = ops.normalize(decoded, self.crop) if self.crop is not None else decoded
        self.operations = [
            functools.partial(_apply, ops.FUNCTIONS[t.op], params=params)
            for t, params in zip(spec.transforms, self.parameters, strict=False)
        ]


def _apply(apply: Callable, image: np.ndarray, *, params: dict) -> np.ndarray:
    return apply(image, params)


# --------------------------------------------------------------------------
# Timed work
# --------------------------------------------------------------------------


def tree_ops(spec: spec_module.Spec, items: list[Prepared]) -> None:
    for item in items:
        for _ in tree.walk(item.normalized, item.operations, min_ops=spec.min_ops, max_ops=spec.max_ops):
            pass


def naive_ops(spec: spec_module.Spec, items: list[Prepared], subsets: list[tuple[int, ...]]) -> None:
    for item in items:
        for subset in subsets:
            current = item.normalized
            for index in subset:
                current = item.operations[index](current)


def floor_pass(spec: spec_module.Spec, items: list[Prepared]) -> list[bytes]:
    """Decode + normalise + tree + encode; returns the first input's encoded outputs."""
    first: list[bytes] = []
    for number, item in enumerate(items):
        image = imageio.decode(item.data, max_pixels=spec.max_pixels)
        if item.crop is not None:
            image = ops.normalize(image, item.crop)
        for _, result in tree.walk(image, item.operations, min_ops=spec.min_ops, max_ops=spec.max_ops):
            encoded = imageio.encode(result, spec.output_format, quality=spec.quality, background=spec.background)
            if number == 0:
                first.append(encoded)
    return first


def timed(function: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def run_step(spec: spec_module.Spec, destination: Path, threads: int, expected_inputs: int) -> float:
    clean_destination(destination)
    os.sync()  # untimed: the previous pass's writeback and deletions do not land in this one
    seconds, result = timed(lambda: augment.augment_shard(spec, RUN_ID, 0, threads=threads))
    if (
        result["inputs"] != expected_inputs
        or result["failed"]
        or result["resumed"]
        or result["outputs"] != expected_inputs * 64
    ):
        raise RuntimeError(f"augment_shard(threads={threads}) gave {result}")
    return seconds


# --------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------


def measure_tree(spec: spec_module.Spec, items: list[Prepared], repeat: int) -> dict:
    count = len(spec.transforms)
    subsets = tree.subsets(count, min_ops=spec.min_ops, max_ops=spec.max_ops)

    # Sanity, untimed: both ways give identical images, and the call counts.
    calls = {"tree": 0, "naive": 0}

    def counting(which: str, operation: Callable) -> Callable:
        def call(image):
            calls[which] += 1
            return operation(image)

        return call

    for item in items:
        by_tree = dict(
            tree.walk(
                item.normalized,
                [counting("tree", o) for o in item.operations],
                min_ops=spec.min_ops,
                max_ops=spec.max_ops,
            )
        )
        counted_ops = [counting("naive", o) for o in item.operations]
        for subset in subsets:
            current = item.normalized
            for index in subset:
                current = counted_ops[index](current)
            if not np.array_equal(current, by_tree[subset]):
                raise RuntimeError(f"{item.key}: tree and naive differ for subset {subset}")
    per_image = {which: calls[which] / len(items) for which in calls}
    expected = (tree.applications(count, max_ops=spec.max_ops), tree.naive_applications(count, max_ops=spec.max_ops))
    if (per_image["tree"], per_image["naive"]) != expected:
        raise RuntimeError(f"counted {per_image}, expected {expected}")

    # Per-operation cost on these images (informative): median ms per call.
    op_ms = []
    for position, transform in enumerate(spec.transforms):
        samples = []
        for _ in range(3):
            seconds, _ = timed(lambda position=position: [item.operations[position](item.normalized) for item in items])
            samples.append(seconds / len(items) * 1000)
        op_ms.append(
            {
                "op": transform.op,
                "ms_per_call": statistics.median(samples),
                "tree_calls": sum(1 for s in subsets if s and s[-1] == position),
                "naive_calls": sum(1 for s in subsets if position in s),
            }
        )

    tree_seconds, naive_seconds, ratios = [], [], []
    for repetition in range(repeat):
        times = {}
        for name in rotated(["tree", "naive"], repetition):
            if name == "tree":
                times[name], _ = timed(lambda: tree_ops(spec, items))
            else:
                times[name], _ = timed(lambda: naive_ops(spec, items, subsets))
        tree_seconds.append(times["tree"])
        naive_seconds.append(times["naive"])
        ratios.append(times["tree"] / times["naive"])
    counted_ratio = per_image["tree"] / per_image["naive"]
    timed_ratio = statistics.median(ratios)
    return {
        "images": len(items),
        "calls_per_image": per_image,
        "counted_ratio": counted_ratio,
        "tree_ms_per_image": statistics.median(tree_seconds) / len(items) * 1000,
        "naive_ms_per_image": statistics.median(naive_seconds) / len(items) * 1000,
        "timed_ratios": ratios,
        "timed_ratio": timed_ratio,
        "per_op": op_ms,
        "predicted_timed_ratio": sum(o["ms_per_call"] * o["tree_calls"] for o in op_ms)
        / sum(o["ms_per_call"] * o["naive_calls"] for o in op_ms),
        "target": TREE_TARGET,
        "pass_counted": counted_ratio <= TREE_TARGET + 1e-12,
        "pass_timed": timed_ratio <= TREE_TARGET,
    }


def measure_step(
    spec: spec_module.Spec, items: list[Prepared], destination: Path, repeat: int, cores: int
) -> tuple[dict, dict | None]:
    names = ["floor", "step1"] + ([f"step{cores}"] if cores > 1 else [])
    seconds: dict[str, list[float]] = {name: [] for name in names}

    # Warm-up, untimed: first calls into the codecs, the folders, the page cache.
    floor_pass(spec, items[:2])
    run_step(spec, destination, 1, len(items))
    # The floor does exactly the step's image work: same bytes for the first input.
    floor_first = floor_pass(spec, items[:1])
    written = [
        (destination / variant_key).read_bytes()
        for variant_key in (v.key for v in augment.variants(spec, items[0].key, items[0].data))
    ]
    if written != floor_first:
        raise RuntimeError("the floor's outputs differ from the step's: they do not do the same work")

    for repetition in range(repeat):
        for name in rotated(names, repetition):
            if name == "floor":
                seconds[name].append(timed(lambda: floor_pass(spec, items))[0])
            else:
                seconds[name].append(run_step(spec, destination, int(name[4:]), len(items)))
    clean_destination(destination)

    n = len(items)
    floor_ratios = [f / s for f, s in zip(seconds["floor"], seconds["step1"], strict=False)]  # throughput step/floor
    step = {
        "images": n,
        "floor_images_per_s": n / statistics.median(seconds["floor"]),
        "step_images_per_s": n / statistics.median(seconds["step1"]),
        "floor_ms_per_image": statistics.median(seconds["floor"]) / n * 1000,
        "step_ms_per_image": statistics.median(seconds["step1"]) / n * 1000,
        "ratios": floor_ratios,
        "ratio": statistics.median(floor_ratios),
        "target": FLOOR_TARGET,
        "seconds": seconds,
    }
    step["pass"] = step["ratio"] >= FLOOR_TARGET
    if cores <= 1:
        return step, None
    many = seconds[f"step{cores}"]
    scale_ratios = [one / m for one, m in zip(seconds["step1"], many, strict=False)]
    scaling = {
        "threads": cores,
        "step1_images_per_s": n / statistics.median(seconds["step1"]),
        "stepN_images_per_s": n / statistics.median(many),
        "ratios": scale_ratios,
        "ratio": statistics.median(scale_ratios),
        "target": SCALING_PER_CORE * cores,
    }
    scaling["pass"] = scaling["ratio"] >= scaling["target"]
    return step, scaling


CHILD = r"""
import json, os, re, resource, sys
from kaleidoscope.steps import augment, spec

from tests.benchmarks._memory import reset_peak, status


parsed = spec.parse(json.loads(sys.argv[1]))
before = status()
reset = reset_peak()  # the peak below is run's alone
maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = augment.augment_shard(parsed, sys.argv[2], 0)
after = status()
print(json.dumps({
    "baseline_kb": before.get("VmRSS", maxrss_before),
    "peak_kb": after.get("VmHWM", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
    "source": ("VmHWM" + (" reset after imports" if reset else "")) if after else "ru_maxrss",
    "ru_maxrss_kb": [maxrss_before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss],
    "result": result,
}))
"""


def measure_memory(workdir: Path, files: list[Path], small: int, repeat: int) -> dict:
    sizes = {"small": small, "large": 4 * small}
    documents = {}
    for label, count in sizes.items():
        source, destination = workdir / f"mem_{label}" / "src", workdir / f"mem_{label}" / "dst"
        source.mkdir(parents=True)
        for number in range(count):
            shutil.copyfile(files[number % len(files)], source / f"copy_{number:05d}.jpg")
        documents[label] = spec_document(source, destination)
        make_shard(documents[label])
    runs: dict[str, list[dict]] = {label: [] for label in sizes}
    for repetition in range(repeat):
        for label in rotated(list(sizes), repetition):
            clean_destination(Path(documents[label]["destination"]))
            completed = subprocess.run(
                [sys.executable, "-c", CHILD, json.dumps(documents[label]), RUN_ID],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            if completed.returncode != 0:
                raise RuntimeError(f"memory child failed:\n{completed.stderr}")
            report = json.loads(completed.stdout.strip().splitlines()[-1])
            if (
                report["result"]["outputs"] != sizes[label] * 64
                or report["result"]["failed"]
                or report["result"]["resumed"]
            ):
                raise RuntimeError(f"memory child gave {report['result']}")
            runs[label].append(report)
    figures = {}
    for label in sizes:
        figures[label] = {
            "images": sizes[label],
            "baseline_mb": statistics.median(r["baseline_kb"] for r in runs[label]) / 1024,
            "peak_mb": statistics.median(r["peak_kb"] for r in runs[label]) / 1024,
            "above_baseline_mb": statistics.median(r["peak_kb"] - r["baseline_kb"] for r in runs[label]) / 1024,
            "ru_maxrss_mb": statistics.median(r["ru_maxrss_kb"][1] for r in runs[label]) / 1024,
        }
    small_above, large_above = figures["small"]["above_baseline_mb"], figures["large"]["above_baseline_mb"]
    ratio = large_above / small_above if small_above > 0 else float("inf")
    return {
        **figures,
        "threads": os.cpu_count() or 1,
        "method": runs["small"][0]["source"],
        "ratio_above_baseline": ratio,
        "ratio_peak": figures["large"]["peak_mb"] / figures["small"]["peak_mb"],
        "growth_mb": large_above - small_above,
        "target": f"ratio <= {MEMORY_RATIO_TARGET} or growth <= {MEMORY_SLACK_MB:g} MB",
        "pass": ratio <= MEMORY_RATIO_TARGET or large_above - small_above <= MEMORY_SLACK_MB,
        "runs": runs,
    }


def profile_step(spec: spec_module.Spec, destination: Path, images: int, top: int = 22) -> str:
    clean_destination(destination)
    profiler = cProfile.Profile()
    profiler.enable()
    augment.augment_shard(spec, RUN_ID, 0, threads=1)
    profiler.disable()
    clean_destination(destination)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return f"cProfile of augment_shard(threads=1) on {images} images, top {top} by own time:\n" + out.getvalue()


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=16, help="inputs in the timed shard (default 16)")
    parser.add_argument("--repeat", type=int, default=7, help="interleaved repetitions (default 7)")
    parser.add_argument(
        "--tree-images", type=int, default=8, help="inputs used by measurement 1, at most --images (default 8)"
    )
    parser.add_argument("--mem-small", type=int, default=8, help="K, the small shard of measurement 4 (default 8)")
    parser.add_argument("--mem-repeat", type=int, default=2, help="subprocess runs per shard size (default 2)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of augment_shard(threads=1)")
    add_run_arguments(parser, check="exit 1 when a target is missed", server=False)
    args = parser.parse_args(argv)
    if args.images < 1 or args.repeat < 1 or args.mem_small < 1 or args.mem_repeat < 1:
        parser.error("--images, --repeat, --mem-small and --mem-repeat must be positive")

    cv2.setNumThreads(1)  # as augment_shard does; the floor must not get OpenCV's own pool
    cores = os.cpu_count() or 1
    env = environment(cv2=cv2.__version__, numpy=np.__version__)
    print("Kaleidoscope augment benchmark")
    print(f"  cpus {env['cpu_count']}, python {env['python']}, cv2 {env['cv2']}, numpy {env['numpy']}")
    print(platform_line(env))
    print(
        f"  {args.images} inputs {WIDTH}x{HEIGHT} JPEG q{QUALITY} -> normalize {NORMALIZE_SIZE}, "
        f"{len(OPERATIONS)} ops ({2 ** len(OPERATIONS)} outputs each), repeat {args.repeat}, "
        f"medians of per-repetition ratios"
    )
    started = time.perf_counter()

    workdir = make_workdir(args.workdir, "kaleidoscope-bench-")
    try:
        source, destination = workdir / "src", workdir / "dst"
        files, inputs = [], []
        for number in range(args.images):
            path = source / f"img_{number:04d}.jpg"
            inputs.append((path.name, write_jpeg(path, synthetic_photo(1000 + number))))
            files.append(path)
        spec = make_shard(spec_document(source, destination))
        items = [Prepared(spec, key, data) for key, data in inputs]
        env["workdir_fs"] = filesystem(workdir)
        print(
            f"  set-up {time.perf_counter() - started:.1f} s in {workdir} ({env['workdir_fs']}; the step's "
            "writes go there, so its cost depends on that file system)",
            flush=True,
        )

        print("[1/4] tree vs naive ...", flush=True)
        tree_result = measure_tree(spec, items[: max(1, min(args.tree_images, len(items)))], args.repeat)
        print(
            "[2/4 + 3/4] floor, step(threads=1)" + (f", step(threads={cores})" if cores > 1 else "") + " ...",
            flush=True,
        )
        step_result, scaling_result = measure_step(spec, items, destination, args.repeat, cores)
        print("[4/4] peak memory in subprocesses ...", flush=True)
        memory_result = measure_memory(workdir, files[:4], args.mem_small, args.mem_repeat)
        profile_text = profile_step(spec, destination, len(items)) if args.profile else None
    finally:
        if args.keep:
            print(f"  data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    env["loadavg_end"] = os.getloadavg()
    t, s, m = tree_result, step_result, memory_result
    rows = [
        (
            "1a tree vs naive: op calls per image",
            f"{t['calls_per_image']['tree']:.0f} vs {t['calls_per_image']['naive']:.0f} = {t['counted_ratio']:.3f}",
            "<= 0.333",
            verdict(t["pass_counted"]),
        ),
        (
            f"1b tree vs naive: op time ({t['images']} img)",
            f"{t['tree_ms_per_image']:.1f} vs {t['naive_ms_per_image']:.1f} ms/img = {t['timed_ratio']:.3f}",
            "<= 0.333",
            verdict(t["pass_timed"]),
        ),
        (
            f"2  step(1 thread) vs floor ({s['images']} img)",
            f"{s['step_images_per_s']:.2f} vs {s['floor_images_per_s']:.2f} img/s = {s['ratio']:.3f}",
            f">= {FLOOR_TARGET}",
            verdict(s["pass"]),
        ),
    ]
    if scaling_result:
        c = scaling_result
        rows.append(
            (
                f"3  step({c['threads']} threads) vs step(1)",
                f"{c['stepN_images_per_s']:.2f} vs {c['step1_images_per_s']:.2f} img/s = {c['ratio']:.2f}x",
                f">= {c['target']:.2f}x",
                verdict(c["pass"]),
            )
        )
    else:
        rows.append(("3  scaling", "single core: skipped", "-", verdict(None)))
    rows.append(
        (
            f"4  peak RSS {m['large']['images']} vs {m['small']['images']} img",
            f"+{m['large']['above_baseline_mb']:.1f} vs +{m['small']['above_baseline_mb']:.1f} MB "
            f"= {m['ratio_above_baseline']:.2f} (peak {m['large']['peak_mb']:.0f}/{m['small']['peak_mb']:.0f} MB)",
            f"<= {MEMORY_RATIO_TARGET} or +{MEMORY_SLACK_MB:g} MB",
            verdict(m["pass"]),
        )
    )

    print()
    print(table(rows))
    print()
    print("Per-repetition ratios (median is reported):")
    print(f"  1b tree/naive time : {' '.join(f'{r:.3f}' for r in t['timed_ratios'])}")
    print(f"  2  step/floor      : {' '.join(f'{r:.3f}' for r in s['ratios'])}")
    if scaling_result:
        print(f"  3  step{cores}/step1     : {' '.join(f'{r:.2f}' for r in scaling_result['ratios'])}")
    print(
        f"  2  step overhead over the floor: {s['step_ms_per_image'] - s['floor_ms_per_image']:.1f} ms per image "
        f"({s['step_ms_per_image']:.1f} vs {s['floor_ms_per_image']:.1f})"
    )
    print()
    print("Operation cost on the normalised images (tree calls op i 2^i times, naive 2^(N-1) times each):")
    print(f"  {'op':<12} {'ms/call':>8} {'tree':>5} {'naive':>6} {'tree ms':>8} {'naive ms':>9}")
    for o in t["per_op"]:
        print(
            f"  {o['op']:<12} {o['ms_per_call']:8.2f} {o['tree_calls']:5d} {o['naive_calls']:6d} "
            f"{o['ms_per_call'] * o['tree_calls']:8.1f} {o['ms_per_call'] * o['naive_calls']:9.1f}"
        )
    print(f"  predicted timed ratio from these costs: {t['predicted_timed_ratio']:.3f}")
    print()
    print(
        f"Memory ({m['method']}): RSS after imports {m['small']['baseline_mb']:.0f} MB, threads {m['threads']}, "
        f"growth {m['growth_mb']:+.1f} MB from {m['small']['images']} to {m['large']['images']} images."
    )
    print(
        f"  ru_maxrss in the children, {m['small']['ru_maxrss_mb']:.0f} / {m['large']['ru_maxrss_mb']:.0f} MB, "
        "is not used: at exec a child inherits its launcher's high-water mark (here the benchmark's own)."
    )
    print(
        f"Load average at end: {' '.join(f'{v:.2f}' for v in env['loadavg_end'])}; "
        f"total time {time.perf_counter() - started:.0f} s"
    )
    if profile_text:
        print()
        print(profile_text)

    passes = [t["pass_counted"], t["pass_timed"], s["pass"], m["pass"]]
    if scaling_result:
        passes.append(scaling_result["pass"])
    report = {
        "environment": env,
        "settings": {
            **vars(args),
            "width": WIDTH,
            "height": HEIGHT,
            "normalize": NORMALIZE_SIZE,
            "operations": list(OPERATIONS),
            "quality": QUALITY,
        },
        "tree_vs_naive": t,
        "step_vs_floor": s,
        "scaling": scaling_result,
        "memory": m,
        "all_pass": all(passes),
        "seconds": time.perf_counter() - started,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 1 if args.check and not all(passes) else 0


if __name__ == "__main__":
    sys.exit(main())
