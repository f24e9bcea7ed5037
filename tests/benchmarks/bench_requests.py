"""S3 requests per million outputs, ``files`` against ``webdataset``, on the real S3 server.

Runs the three steps in this process (shard, one augment per shard, manifest) against SeaweedFS
on loopback for each container, on the same photos and spec, and counts every request the
step's S3 client sends, by operation (botocore's ``before-call`` event: what goes on the wire,
retries aside). Prints the counts and each per million outputs.

Write requests are the ones S3 bills as PUT: PutObject, UploadPart, CopyObject and the
multipart upload's create and complete. At this size a run's fixed bookkeeping is most of a
packed run's writes, so the benchmark also derives the figure of a run at scale from what it
measured (the archives' bytes per output) and the code's constants: see :func:`packed_at_scale`.

    .venv/bin/python -m tests.benchmarks.bench_requests [--photos 24] [--json]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path

import cv2
import yaml

from kaleidoscope.steps import archive, augment, manifest
from kaleidoscope.steps import s3 as s3_module
from kaleidoscope.steps import spec as spec_module
from kaleidoscope.workflows.cli import main as cli
from tests import s3server
from tests.conftest import synthetic_image

TRANSFORMS = ["flip_lr", "brightness", "contrast", "saturation", "noise", {"op": "rotate_zoom"}]
WRITES = ("PutObject", "UploadPart", "CopyObject", "CreateMultipartUpload", "CompleteMultipartUpload")
#: A chunk's writes besides its archives: its records and its commit, and the manifest step's copy of
#: the records into the published part (steps/augment.py, steps/manifest.py).
CHUNK_WRITES = 3
#: Per output, the ``files`` container's: its PUT; a chunk's bookkeeping comes on top.
FILES_WRITES_PER_OUTPUT = 1


def packed_at_scale(bytes_per_output: float, outputs_per_chunk: int, archive_bytes: int, part_bytes: int) -> float:
    """Write requests per million outputs of a packed run whose chunks are full: each chunk's
    archives (create, one UploadPart a part, and the complete that publishes it) and its bookkeeping."""
    chunk_bytes = bytes_per_output * outputs_per_chunk
    full, rest = divmod(chunk_bytes, archive_bytes)
    sizes = [archive_bytes] * int(full) + ([rest] if rest else [])
    writes = sum(2 + -(-size // part_bytes) for size in sizes) + CHUNK_WRITES
    return writes * 1e6 / outputs_per_chunk


def spec_document(source: str, destination: str, container: str) -> dict:
    return {
        "source": f"s3://{source}/in",
        "destination": f"s3://{destination}/out",
        "seed": 1,
        "normalize": {"size": 256},
        "transforms": TRANSFORMS,
        "output": {"format": "jpg", "container": container},
        "shards": 2,
    }


def count_run(server: s3server.SeaweedServer, source: str, container: str, workdir: Path) -> dict:
    destination = f"dst-{uuid.uuid4().hex[:10]}"
    server.make_bucket(destination)
    spec = workdir / f"{container}.yaml"
    spec.write_text(yaml.safe_dump(spec_document(source, destination, container)))
    counts: collections.Counter = collections.Counter()

    def count(model, **_):
        counts[model.name] += 1

    client = s3_module.client()
    client.meta.events.register("before-call.s3", count)
    try:
        run_id = f"bench-{container}"
        steps = [["shard"], ["augment", "--shard", "0"], ["augment", "--shard", "1"], ["manifest"]]
        for step in steps:
            output = workdir / f"{container}-{step[0]}.json"
            code = cli(["step", step[0], "--spec", str(spec), "--run-id", run_id, "--output", str(output), *step[1:]])
            if code != 0:
                raise SystemExit(f"step {step} exited {code}")
    finally:
        client.meta.events.unregister("before-call.s3", count)
    outputs = json.loads((workdir / f"{container}-manifest.json").read_text())["outputs"]
    archived = sum(
        o["Size"]
        for page in server.client().get_paginator("list_objects_v2").paginate(Bucket=destination, Prefix="out/shards/")
        for o in page.get("Contents", [])
        if o["Key"].endswith(".tar")
    )
    result = {"container": container, "outputs": outputs, "requests": dict(sorted(counts.items()))}
    if not archived:
        return result
    images = sum(record["bytes"] for record in manifest.records(f"s3://{destination}/out"))
    # What packing adds to an output's image: tar headers, padding, the .json sidecar.
    return result | {
        "archive_bytes_per_output": archived / outputs,
        "packing_bytes_per_output": (archived - images) / outputs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--bytes-per-output",
        type=float,
        help="archive bytes an output for the derived figure (default: what this run measured; docs/scale.md uses 45000)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-requests-") as folder:
        workdir = Path(folder)
        server = s3server.SeaweedServer(workdir / "seaweedfs").start()
        try:
            os.environ.update(
                AWS_ACCESS_KEY_ID=s3server.ADMIN[0],
                AWS_SECRET_ACCESS_KEY=s3server.ADMIN[1],
                AWS_REGION=s3server.REGION,
                AWS_ENDPOINT_URL_S3=server.endpoint,
            )
            s3_module.configure(endpoint_url=server.endpoint)
            source = f"src-{uuid.uuid4().hex[:10]}"
            server.make_bucket(source)
            upload = server.client()
            for index in range(args.photos):
                _ok, data = cv2.imencode(".jpg", synthetic_image(480, 640, seed=index))
                upload.put_object(Bucket=source, Key=f"in/photo{index:04d}.jpg", Body=data.tobytes())
            results = [count_run(server, source, container, workdir) for container in ("files", "webdataset")]
        finally:
            server.stop()
    for result in results:
        total = sum(result["requests"].values())
        puts = sum(n for op, n in result["requests"].items() if op in WRITES)
        result["per_million_outputs"] = {
            "requests": round(total * 1e6 / result["outputs"]),
            "writes": round(puts * 1e6 / result["outputs"]),
        }
    files, packed = results
    ratio = packed["per_million_outputs"]["writes"] / files["per_million_outputs"]["writes"]
    spec = spec_module.parse(spec_document("src", "dst", "webdataset"))
    outputs_per_chunk = augment.chunk_images(spec) * spec.outputs_per_image
    scale = {
        "outputs_per_chunk": outputs_per_chunk,
        "archive_bytes": 512 * 1024 * 1024,  # the spec's default archive_mb
        "part_bytes": archive.ARCHIVE_PART_BYTES,
        "bytes_per_output": args.bytes_per_output or packed["archive_bytes_per_output"],
    }
    scale["webdataset_writes_per_million"] = packed_at_scale(
        scale["bytes_per_output"], outputs_per_chunk, scale["archive_bytes"], scale["part_bytes"]
    )
    scale["files_writes_per_million"] = FILES_WRITES_PER_OUTPUT * 1e6 + CHUNK_WRITES * 1e6 / outputs_per_chunk
    scale["ratio"] = scale["webdataset_writes_per_million"] / scale["files_writes_per_million"]
    if args.json:
        print(json.dumps({"runs": results, "writes_ratio": ratio, "at_scale": scale}, indent=2))
    else:
        for result in results:
            print(f"{result['container']:>10}: {result['outputs']} outputs, requests {result['requests']}")
            print(f"{'':>10}  per million outputs: {result['per_million_outputs']}")
            if "packing_bytes_per_output" in result:
                print(
                    f"{'':>10}  archive bytes an output {result['archive_bytes_per_output']:,.0f}, of which packing "
                    f"(headers, padding, .json) {result['packing_bytes_per_output']:,.0f}"
                )
        print(f"webdataset / files, write requests ({', '.join(WRITES)}): {ratio:.5f} = 1/{1 / ratio:,.0f}")
        print(
            f"at scale (derived: full chunks of {outputs_per_chunk:,} outputs at "
            f"{'the given' if args.bytes_per_output else 'the measured'} "
            f"{scale['bytes_per_output']:,.0f} archive bytes an output, {scale['archive_bytes'] >> 20} MiB archives "
            f"in {scale['part_bytes'] >> 20} MiB parts): webdataset {scale['webdataset_writes_per_million']:,.0f} "
            f"vs files {scale['files_writes_per_million']:,.0f} writes per million outputs = 1/{1 / scale['ratio']:,.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
