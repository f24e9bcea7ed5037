"""S3 requests per million outputs, ``files`` against ``webdataset``, on the real S3 server.

Runs the three steps in this process (shard, one augment per shard, manifest) against SeaweedFS
on loopback for each container, on the same photos and spec, and counts every request the
step's S3 client sends, by operation (botocore's ``before-call`` event: what goes on the wire,
retries aside). Prints the counts and each per million outputs.

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

from kaleidoscope.steps import s3 as s3_module
from kaleidoscope.workflows.cli import main as cli
from tests import s3server
from tests.conftest import synthetic_image

TRANSFORMS = ["flip_lr", "brightness", "contrast", "saturation", "noise", {"op": "rotate_zoom"}]


def count_run(server: s3server.SeaweedServer, source: str, container: str, workdir: Path) -> dict:
    destination = f"dst-{uuid.uuid4().hex[:10]}"
    server.make_bucket(destination)
    spec = workdir / f"{container}.yaml"
    document = {
        "source": f"s3://{source}/in",
        "destination": f"s3://{destination}/out",
        "seed": 1,
        "normalize": {"size": 256},
        "transforms": TRANSFORMS,
        "output": {"format": "jpg", "container": container},
        "shards": 2,
    }
    spec.write_text(yaml.safe_dump(document))
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
    return {"container": container, "outputs": outputs, "requests": dict(sorted(counts.items()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--json", action="store_true")
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
        puts = sum(n for op, n in result["requests"].items() if op in ("PutObject", "UploadPart", "CopyObject"))
        result["per_million_outputs"] = {
            "requests": round(total * 1e6 / result["outputs"]),
            "writes": round(puts * 1e6 / result["outputs"]),
        }
    files, packed = results
    ratio = packed["per_million_outputs"]["writes"] / files["per_million_outputs"]["writes"]
    if args.json:
        print(json.dumps({"runs": results, "writes_ratio": ratio}, indent=2))
    else:
        for result in results:
            print(f"{result['container']:>10}: {result['outputs']} outputs, requests {result['requests']}")
            print(f"{'':>10}  per million outputs: {result['per_million_outputs']}")
        print(f"webdataset / files, write requests (PUT, UploadPart, CopyObject): {ratio:.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
