"""Step 2: augment one shard — decode, normalise, walk the transform tree, encode, write.

Images are processed by a pool of threads (OpenCV releases the GIL, so threads use every
core) with a bounded window of images in flight, results taken back in key order: peak memory
depends on the thread count and the number of transforms, never on the shard's size, and the
manifest part comes out byte-identical on a rerun. A per-image failure (unreadable object,
undecodable bytes, over the pixel limit) becomes a record with its reason and the shard goes
on; a failure to write the destination stops the step, since every later write would fail too.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2

from kaleidoscope.steps import formats, imageio, naming, ops, run_layout, samplers, seeding, tree
from kaleidoscope.steps.errors import KaleidoscopeError, StorageError
from kaleidoscope.steps.locations import open_storage
from kaleidoscope.steps.shard import read_shard
from kaleidoscope.steps.spec import Spec
from kaleidoscope.steps.storage import LocalStorage, Storage

Item = TypeVar("Item")
Result = TypeVar("Result")


class DestinationError(KaleidoscopeError):
    """Writing an output failed: fatal for the step, unlike a per-image read or decode failure."""


@dataclass(frozen=True)
class Variant:
    """One generated image, encoded, with its manifest record."""

    key: str
    data: bytes
    record: dict


def sample_parameters(spec: Spec, source_key: str, height: int, width: int) -> tuple[dict | None, list[dict]]:
    """The normalize crop and every transform's parameters for one image.

    Each comes from its own generator seeded by (seed, key, position), so adding a transform
    at the end of the list leaves every earlier transform's parameters unchanged.
    """
    crop = None
    if spec.normalize_size is not None:
        rng = seeding.generator(spec.seed, source_key, seeding.NORMALIZE_POSITION)
        crop = samplers.sample_normalize(rng, height, width, spec.normalize_size)
    parameters = [
        samplers.SAMPLERS[t.op](seeding.generator(spec.seed, source_key, t.position), t.options)
        for t in spec.transforms
    ]
    return crop, parameters


def _apply(image, apply: Callable, params: dict):
    # functools.partial binds the function and its parameters per transform, without a closure
    # over the loop variable.
    return apply(image, params)


def images(spec: Spec, source_key: str, data: bytes):
    """Decode and normalise one source image and walk its transform tree.

    Returns:
        ``(crop, parameters, walk)``: the sampled normalize crop (or None), every transform's
        sampled parameters, and the iterator of ``(subset, image)`` in tree order.

    Raises:
        ImageError: before any work, when the bytes are no usable image.
    """
    image = imageio.decode(data, max_pixels=spec.max_pixels)
    crop, parameters = sample_parameters(spec, source_key, image.shape[0], image.shape[1])
    if crop is not None:
        image = ops.normalize(image, crop)
    operations = [
        functools.partial(_apply, apply=ops.FUNCTIONS[t.op], params=params)
        for t, params in zip(spec.transforms, parameters, strict=True)
    ]
    return crop, parameters, tree.walk(image, operations, min_ops=spec.min_ops, max_ops=spec.max_ops)


def variants(spec: Spec, source_key: str, data: bytes) -> Iterator[Variant]:
    """Every output of one source image, encoded, in tree order (raises ImageError early)."""
    crop, parameters, walk = images(spec, source_key, data)
    for subset, result in walk:
        encoded = imageio.encode(result, spec.output_format, quality=spec.quality, background=spec.background)
        labels = [spec.transforms[index].label for index in subset]
        output = naming.output_key(source_key, labels, spec.output_format, spec.layout)
        record = {
            "source": source_key,
            "output": output,
            "ops": labels,
            "params": {spec.transforms[index].label: parameters[index] for index in subset},
            "width": int(result.shape[1]),
            "height": int(result.shape[0]),
            "bytes": len(encoded),
            "sha256": hashlib.sha256(encoded).hexdigest(),
        }
        if crop is not None:
            record["normalize"] = crop
        yield Variant(output, encoded, record)


def ordered_map(function: Callable[[Item], Result], items: Iterable[Item], threads: int) -> Iterator[Result]:
    """``map`` on a pool of ``threads``, results in order, at most ``2 * threads`` items in flight.

    The window is what lets a step prefetch: items are taken (and their downloads started)
    ahead of the image being computed, yet memory stays bounded however long ``items`` is.
    """
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="augment") as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


class ProgressFile:
    """Argo's ``ARGO_PROGRESS_FILE`` protocol: the file holds ``done/total``."""

    def __init__(self, path: str | None, total: int):
        self.path, self.total, self.done = path, total, 0
        self._lock = threading.Lock()
        self._write()

    def advance(self) -> None:
        with self._lock:
            self.done += 1
            self._write()

    def _write(self) -> None:
        if not self.path:
            return
        target = Path(self.path)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_text(f"{self.done}/{self.total}\n")
        os.replace(temporary, target)


def default_io_threads(destination: Storage) -> int:
    """Threads for downloads and uploads: many for S3 (latency-bound), few for a local disk."""
    return 4 if isinstance(destination, LocalStorage) else 16


def augment_shard(
    spec: Spec,
    run_id: str,
    index: int,
    *,
    threads: int | None = None,
    io_threads: int | None = None,
    progress_file: str | None = None,
) -> dict:
    """Augment shard ``index`` of run ``run_id``; write outputs and the shard's manifest part.

    Downloads, computing and uploads overlap: source objects are fetched ahead by the I/O
    threads, ``threads`` images are computed at once, and each encoded output is handed to the
    I/O threads as soon as it exists (at most ``4 * io_threads`` waiting, so memory stays
    bounded). On a retried attempt, outputs already stored with the same bytes are not
    uploaded again.

    Returns:
        ``{"index", "inputs", "outputs", "failed", "skipped"}`` — the step's small JSON result.
    """
    threads = threads or os.cpu_count() or 1
    # Parallelism comes from our threads, one image each; OpenCV's own pool would oversubscribe
    # the cores and make throughput depend on its scheduling.
    cv2.setNumThreads(1)
    source: Storage = open_storage(spec.source)
    destination: Storage = open_storage(spec.destination)
    io_threads = io_threads or default_io_threads(destination)
    keys = read_shard(destination, run_id, index)
    progress = ProgressFile(progress_file, len(keys))
    # The first attempt leaves a marker; only a retry pays for comparing against what is stored.
    marker = run_layout.attempt_key(run_id, index)
    retry = destination.exists(marker)
    if not retry:
        destination.write(marker, b"", "text/plain")
    skipped = 0
    count_lock = threading.Lock()
    content_type = formats.CONTENT_TYPES[spec.output_format]

    # An S3 PUT waits milliseconds on the network and gains from many in flight, so it always
    # goes to the I/O threads. A local write is cheap CPU work (create, write, rename): handing it
    # over pays only while a core is left without an image thread to run it; when image threads
    # fill every core, the hand-off (submit, wake-up, GIL) costs more than the write itself.
    inline_writes = isinstance(destination, LocalStorage) and threads >= (os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=io_threads, thread_name_prefix="io") as io:
        waiting = threading.BoundedSemaphore(4 * io_threads)

        def upload(variant: Variant, stored: dict[str, str]) -> None:
            nonlocal skipped
            try:
                if stored.get(variant.key) == hashlib.md5(variant.data).hexdigest():
                    with count_lock:
                        skipped += 1
                    return
                destination.write(variant.key, variant.data, content_type)
            except StorageError as error:
                raise DestinationError(str(error)) from error
            finally:
                waiting.release()

        def process(item: tuple[str, Future]) -> list[dict]:
            key, download = item
            try:
                data = download.result()
                stored = destination.etags(naming.output_prefix(key, spec.layout)) if retry else {}
                uploads: list[tuple[Future | None, dict]] = []
                for variant in variants(spec, key, data):
                    waiting.acquire()
                    if inline_writes:
                        upload(variant, stored)
                        uploads.append((None, variant.record))
                    else:
                        uploads.append((io.submit(upload, variant, stored), variant.record))
                # DestinationError is no per-image failure: it propagates and stops the step.
                return [record for future, record in uploads if future is None or future.result() is None]
            except (StorageError, imageio.ImageError, cv2.error, ValueError) as error:
                # Outputs written before a mid-tree failure stay, unrecorded: the image is reported
                # failed as a whole, so a consumer of the manifest never sees half a tree.
                return [{"source": key, "error": _one_line(error)}]
            finally:
                progress.advance()

        prefetched = ((key, io.submit(source.read, key)) for key in keys)
        outputs = failed = 0
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".jsonl", delete=False) as part:
            try:
                for records in ordered_map(process, prefetched, threads):
                    for record in records:
                        failed += "error" in record
                        outputs += "error" not in record
                        part.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
                part.close()
                destination.write_file(run_layout.part_key(run_id, index), Path(part.name), "application/x-ndjson")
            finally:
                Path(part.name).unlink(missing_ok=True)
    return {"index": index, "inputs": len(keys), "outputs": outputs, "failed": failed, "skipped": skipped}


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if not isinstance(error, imageio.ImageError) else text
