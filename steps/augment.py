"""Step 2: augment one shard — decode, normalise, walk the transform tree, encode, write.

Images are processed by a pool of threads (OpenCV releases the GIL, so threads use every
core) with a bounded window of images in flight, results taken back in key order: peak memory
depends on the thread count and the number of transforms, never on the shard's size. Records
are committed a chunk of images at a time, after the chunk's outputs are stored, so a retry
resumes where the last attempt committed and everything it writes is byte-identical.

Failures are classified. An image's own fault (vanished or unreadable object, undecodable bytes,
over the pixel limit, an unsupported sample type) becomes a failure record and the shard goes
on. Anything else — an exception inside an operation or the encoder, a source or destination
that cannot be read or written — stops the step with its cause: it is a bug or an outage, and
recording it as "this image failed" would turn a broken run green.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import cv2

from kaleidoscope.steps import (
    archive,
    claim,
    formats,
    imageio,
    machine,
    naming,
    ops,
    run_layout,
    samplers,
    seeding,
    tree,
)
from kaleidoscope.steps.errors import KaleidoscopeError, ObjectMissing, StorageDenied, StorageError
from kaleidoscope.steps.locations import open_storage
from kaleidoscope.steps.runs import read_run, read_shard
from kaleidoscope.steps.spec import Spec
from kaleidoscope.steps.storage import LocalStorage, Storage, read_json

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

    def __init__(self, path: str | None, total: int, done: int = 0):
        self.path, self.total, self.done = path, total, done
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


def chunk_images(spec: Spec) -> int:
    """Images per committed chunk: about 8 MB of records, at most 256 images, at least one.

    It depends on the spec alone, so a retried shard cuts its chunks where the first attempt did
    and rewrites byte-identical objects.
    """
    return max(1, min(256, 16_000 // spec.outputs_per_image))


def _commits(destination: Storage, run_id: str, index: int) -> list[dict]:
    """The chunks of shard ``index`` an earlier attempt committed, in order, up to the first gap."""
    numbers = sorted(
        number
        for key in destination.list_keys(run_layout.chunks_prefix(run_id, index))
        if (number := run_layout.chunk_of_commit(key)) is not None
    )
    commits: list[dict] = []
    for expected, number in enumerate(numbers):
        commit = read_json(destination, run_layout.chunk_commit_key(run_id, index, number))
        if number != expected or commit is None:
            break
        commits.append(commit)
    return commits


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records).encode("utf-8")


def augment_shard(
    spec: Spec,
    run_id: str,
    index: int,
    *,
    threads: int | None = None,
    io_threads: int | None = None,
    progress_file: str | None = None,
    run_record: dict | None = None,
) -> dict:
    """Augment shard ``index`` of run ``run_id``: write its outputs and its manifest records.

    ``run_record`` is the run's record when the caller has read it already (else it is read here).

    Downloads, computing and uploads overlap: source objects are fetched ahead by the I/O
    threads, ``threads`` images are computed at once, and each encoded output is stored as soon
    as it exists: on S3 by the I/O threads (at most ``4 * io_threads`` waiting, so memory stays
    bounded), in a local folder by the image thread itself. Records are committed a chunk of
    images at a time (:func:`chunk_images`), once every output of those images is stored: a
    retried attempt resumes after the last committed chunk and rewrites only the outputs of the
    chunk that was cut short, byte for byte.

    Raises:
        ClaimLost: another run took the destination over; nothing more is written.
        DestinationError, StorageError: writing the destination, or reading the source, failed
            for a reason that is not the image's own (an outage): the step fails and is retried.

    Returns:
        ``{"index", "inputs", "outputs", "failed", "resumed"}`` — the step's small JSON result.
    """
    threads = threads or machine.usable_cores()
    # Parallelism comes from our threads, one image each; OpenCV's own pool would oversubscribe
    # the cores and make throughput depend on its scheduling.
    cv2.setNumThreads(1)
    source: Storage = open_storage(spec.source)
    destination: Storage = open_storage(spec.destination)
    io_threads = io_threads or default_io_threads(destination)
    with claim.Heartbeat(destination, run_id) as heartbeat:
        run = run_record or read_run(destination, run_id)
        keys = read_shard(destination, run, index)
        # webdataset: the outputs go into the chunk's archives (by this thread, in key order, so
        # the archives' bytes are the same on a retry) instead of an object each.
        packed = spec.container == "webdataset"
        extension = formats.EXTENSIONS[spec.output_format].lstrip(".")
        per_chunk = chunk_images(spec)
        commits = _commits(destination, run_id, index)
        resumed = min(len(keys), len(commits) * per_chunk)
        progress = ProgressFile(progress_file, len(keys), done=resumed)
        content_type = formats.CONTENT_TYPES[spec.output_format]

        # An S3 PUT waits milliseconds on the network and gains from many in flight, so it always
        # goes to the I/O threads. A local write is cheap CPU work (create, write, rename) done by
        # the image thread that encoded it: handing it over (submit, wake-up, GIL) costs about as
        # much CPU as the write, and a local run already gives every core an image thread of its
        # own (one process per core), so no core is left idle to absorb it.
        inline_writes = isinstance(destination, LocalStorage)
        with ThreadPoolExecutor(max_workers=io_threads, thread_name_prefix="io") as io:
            waiting = threading.BoundedSemaphore(4 * io_threads)

            def upload(variant: Variant) -> None:
                try:
                    destination.write(variant.key, variant.data, content_type)
                except StorageError as error:
                    raise DestinationError(str(error)) from error
                finally:
                    waiting.release()

            def process(item: tuple[str, Future]) -> list[tuple[dict, bytes | None]]:
                key, download = item
                try:
                    try:
                        data = download.result()
                    except (ObjectMissing, StorageDenied) as error:
                        # The object itself: vanished since the listing, or not readable by us.
                        return [(_failure(key, "unreadable", error), None)]
                    try:
                        produced = variants(spec, key, data)
                        first = next(produced, None)
                    except imageio.ImageError as error:
                        # Undecodable, over the pixel limit, an unsupported sample type: the
                        # image's own fault. Anything else raised here is a bug and stops the step.
                        return [(_failure(key, "image", error), None)]
                    every = itertools.chain([first] if first else [], produced)
                    if packed:
                        return [(variant.record, variant.data) for variant in every]
                    uploads: list[tuple[Future | None, dict]] = []
                    for variant in every:
                        waiting.acquire()
                        if inline_writes:
                            upload(variant)
                            uploads.append((None, variant.record))
                        else:
                            uploads.append((io.submit(upload, variant), variant.record))
                    # A record is returned only once its output is stored: DestinationError propagates.
                    return [(record, None) for future, record in uploads if future is None or future.result() is None]
                finally:
                    progress.advance()

            prefetched = ((key, io.submit(source.read, key)) for key in keys[resumed:])
            records: list[dict] = []
            failures: list[dict] = []
            images_in_chunk = 0
            chunk = len(commits)

            def new_series(chunk: int) -> archive.ArchiveSeries:
                # Staged, not published: the manifest step shows a run's archives with its records.
                return archive.ArchiveSeries(
                    destination,
                    lambda piece: run_layout.published_archive_key(run["generation"], run_id, index, chunk, piece),
                    spec.archive_bytes,
                    staging_for=lambda piece: run_layout.work_archive_key(run_id, index, chunk, piece),
                )

            series = new_series(chunk)

            def pack(record: dict, data: bytes) -> dict:
                key = archive.sample_key(record["source"], record["ops"])
                record = record | {"output": f"{key}.{extension}"}
                sidecar = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
                image = series.add(key, [(extension, data), ("json", sidecar)])[0]
                return record | {"archive": image.archive, "offset": image.member.offset}

            def commit() -> None:
                nonlocal records, failures, images_in_chunk, chunk, series
                heartbeat.check()  # fencing: never commit into a destination another run holds
                series.close()  # stored before the records that name them
                archives = series.staged
                if failures:
                    destination.write(
                        run_layout.chunk_failures_key(run_id, index, chunk), _jsonl(failures), "application/x-ndjson"
                    )
                if records:
                    destination.write(
                        run_layout.chunk_records_key(run_id, index, chunk), _jsonl(records), "application/x-ndjson"
                    )
                document: dict[str, Any] = {
                    "images": images_in_chunk,
                    "records": len(records),
                    "failed": len(failures),
                }
                if archives:
                    document["archives"] = archives
                destination.write(
                    run_layout.chunk_commit_key(run_id, index, chunk), json.dumps(document).encode(), "application/json"
                )
                commits.append(document)
                records, failures, images_in_chunk, chunk = [], [], 0, chunk + 1
                series = new_series(chunk)

            try:
                for results in ordered_map(process, prefetched, threads):
                    for record, data in results:
                        if "error" in record:
                            failures.append(record)
                        else:
                            records.append(pack(record, data) if data is not None else record)
                    images_in_chunk += 1
                    if images_in_chunk == per_chunk:
                        commit()
                if images_in_chunk:
                    commit()
            except BaseException:
                series.abort()  # no half archive: the chunk is redone, byte for byte, by the retry
                raise

        done = {
            "index": index,
            "inputs": len(keys),
            "outputs": sum(c["records"] for c in commits),
            "failed": sum(c["failed"] for c in commits),
            "chunks": len(commits),
            "record_chunks": [number for number, c in enumerate(commits) if c["records"]],
            "failure_chunks": [number for number, c in enumerate(commits) if c["failed"]],
            "archive_chunks": [[number, c["archives"]] for number, c in enumerate(commits) if c.get("archives")],
        }
        heartbeat.check()
        destination.write(run_layout.shard_done_key(run_id, index), json.dumps(done).encode(), "application/json")
    return {key: done[key] for key in ("index", "inputs", "outputs", "failed")} | {"resumed": resumed}


def _failure(key: str, kind: str, error: BaseException) -> dict:
    return {"source": key, "error": _one_line(error), "kind": kind}


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if not isinstance(error, imageio.ImageError) else text
