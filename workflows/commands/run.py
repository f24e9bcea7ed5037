"""``kaleidoscope run SPEC``: the three steps on this machine, shards in parallel processes."""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed

from steps import augment, manifest, shard
from steps.spec import Spec
from workflows.commands.common import add_spec_arguments, load_spec, positive_int


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("run", help="augment a dataset on this machine")
    add_spec_arguments(parser)
    parser.add_argument("--workers", type=positive_int, help="shards augmented at once (default: cores)")
    parser.add_argument(
        "--incremental", action="store_true", help="process only sources not yet in the destination's manifest"
    )
    parser.set_defaults(handler=run)


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


def execute(spec: Spec, *, workers: int | None = None, incremental: bool = False, log=print) -> dict:
    """Run shard, every augment (in ``workers`` processes) and manifest; return the manifest result."""
    run_id = new_run_id()
    started = time.monotonic()
    references = shard.shard(spec, run_id, incremental=incremental)
    total = sum(reference["images"] for reference in references)
    log(f"run {run_id}: {total} images in {len(references)} shards, {spec.outputs_per_image} outputs each")
    workers = max(1, min(workers or os.cpu_count() or 1, len(references)))
    threads = max(1, (os.cpu_count() or 1) // workers)
    # spawn, not fork: a forked child inherits OpenCV's thread pool in whatever state the parent
    # left it (locks held by threads that do not exist in the child) and can hang on first use.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [
            pool.submit(_augment, _s3_settings(), spec, run_id, reference["index"], threads)
            for reference in references
        ]
        done_images = 0
        for finished, future in enumerate(as_completed(futures), 1):
            result = future.result()
            done_images += result["inputs"]
            log(f"  shard {result['index']}: {result['outputs']} outputs, {result['failed']} failed "
                f"({finished}/{len(futures)} shards, {done_images}/{total} images)")
    result = manifest.merge(spec, run_id)
    result["run_id"] = run_id
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def _s3_settings():
    import sys as _sys

    s3 = _sys.modules.get("steps.s3")
    return s3.settings() if s3 else None


def _augment(s3_settings, spec: Spec, run_id: str, index: int, threads: int) -> dict:
    # A spawned process starts from a fresh interpreter: carry over --s3-endpoint and friends.
    if s3_settings is not None:
        from dataclasses import asdict

        from steps import s3

        s3.configure(**asdict(s3_settings))
    return augment.augment_shard(spec, run_id, index, threads=threads)


def run(args) -> int:
    spec = load_spec(args)
    result = execute(
        spec, workers=args.workers, incremental=args.incremental, log=lambda text: print(text, file=sys.stderr)
    )
    print(
        f"{result['outputs']} images from {result['inputs']} inputs ({result['failed']} failed) "
        f"in {result['seconds']} s\nmanifest: {result['manifest']}\nsummary:  {result['summary']}"
    )
    return 0
