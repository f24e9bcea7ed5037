"""The podman runtime against the process runtime, side by side in one run: a pod's start cost
and ``kaleidoscope run`` end to end.

Run from the repository root as root (podman and runc installed; the step image is built by
images/build.sh, or reused, as the tests do)::

    .venv/bin/python -m tests.benchmarks.bench_podman                       # ~1 min on 2 cores
    .venv/bin/python -m tests.benchmarks.bench_podman --pods 10 --photos 4 --repeat 1   # quick look
    .venv/bin/python -m tests.benchmarks.bench_podman --json podman.json

Measured, every repetition in an order that rotates between repetitions (medians reported):

* start cost, raw: ``podman run --rm IMAGE true`` with the runtime's flags for a locked-down pod
  (read-only root, no capability, host network, an emptyDir tmpfs) against ``subprocess.run
  (["true"])``, ``--pods`` times each; per start.
* start cost, per pod: ``kaleidoscope run-workflow`` of a workflow of ``--pods`` pods running
  ``true`` one after another (``withItems``, ``parallelism: 1``), under each runtime; the run's
  wall time (executor start-up included) over the pods.
* end to end: ``kaleidoscope run SPEC`` of ``--photos`` JPEGs (1024x768, bench_run's set-up and
  spec: six operations, 64 outputs each, JPEG q90) to a local folder, under each runtime; the
  outputs of the two are checked byte for byte (sha256 per file).

Podman's settings are ``$CONTAINERS_CONF``, else images/containers.conf (CI's sandbox).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tests import container
from tests.benchmarks.bench_run import build_photos, spec_document
from tests.executor.manifests import workflow

CLI = [sys.executable, "-m", "kaleidoscope.workflows.cli"]
POD_USER = 65532  # the step image's USER and the workflows' runAsUser


def timed(command: list[str], **options) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options)
    return time.perf_counter() - started


def trivial_workflow(image: str, pods: int) -> dict:
    return workflow(
        [
            {
                "name": "main",
                "steps": [[{"name": "pod", "template": "true", "withItems": list(range(pods))}]],
            },
            {
                "name": "true",
                "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                "container": {
                    "image": image,
                    "command": ["true"],
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    "securityContext": {
                        "runAsUser": POD_USER,
                        "readOnlyRootFilesystem": True,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                },
            },
        ],
        parallelism=1,
    )


def digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.suffix == ".jpg"
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=20, help="pods per start-cost measurement (default 20)")
    parser.add_argument("--photos", type=int, default=8, help="photos of the end-to-end job (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--json", help="write the figures here too")
    parser.add_argument(
        "--image", help="the step image to run (default: this tree's, built by images/build.sh unless podman has it)"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("CONTAINERS_CONF", str(container.CONTAINERS_CONF))
    image = args.image or container.step_image()
    base = "localhost/kaleidoscope-base:bookworm"
    if container.podman("image", "exists", base).returncode != 0:
        base = image
    figures: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)

    with tempfile.TemporaryDirectory(prefix="kaleidoscope-bench-podman-") as work:
        folder = Path(work)
        manifest = folder / "trivial.yaml"
        manifest.write_text(yaml.safe_dump(trivial_workflow(base, args.pods)))
        photos = folder / "photos"
        build_photos(photos, args.photos)
        os.chmod(folder, 0o755)
        raw_flags = [*container.POD_OPTIONS, "--network=host", f"--user={POD_USER}", "--mount=type=tmpfs,dst=/tmp"]
        last: dict[str, dict[str, str]] = {}

        def raw_podman() -> None:
            times = [timed(["podman", "run", "--rm", *raw_flags, base, "true"]) for _ in range(args.pods)]
            record("raw start: podman run", statistics.median(times))

        def raw_process() -> None:
            record("raw start: process", statistics.median(timed(["true"]) for _ in range(args.pods)))

        def per_pod(runtime: str):
            def measure() -> None:
                seconds = timed([*CLI, "run-workflow", "--runtime", runtime, "--no-progress", str(manifest)])
                record(f"per pod: run-workflow --runtime {runtime}", seconds / args.pods)

            return measure

        def end_to_end(runtime: str):
            def measure() -> None:
                destination = folder / f"out-{runtime}"
                shutil.rmtree(destination, ignore_errors=True)
                destination.mkdir()
                os.chown(destination, POD_USER, POD_USER)
                spec = folder / "spec.yaml"
                spec.write_text(yaml.safe_dump(spec_document(photos, destination)))
                command = [*CLI, "run", str(spec), "--runtime", runtime, "--image", image]
                record(f"end to end: run --runtime {runtime}", timed(command, cwd=folder))
                last[runtime] = digests(destination)

            return measure

        variants = [raw_podman, raw_process, per_pod("process"), per_pod("podman")]
        variants += [end_to_end("process"), end_to_end("podman")]
        end_to_end("process")()  # untimed: renders the Workflow once (the manifest cache), as a user's first run
        figures.clear()
        for repetition in range(args.repeat):
            shift = repetition % len(variants)
            for measure in variants[shift:] + variants[:shift]:
                measure()
        if last["podman"] != last["process"] or not last["podman"]:
            print("the podman runtime wrote other bytes than the process runtime", file=sys.stderr)
            return 1

    medians = {name: statistics.median(values) for name, values in figures.items()}
    width = max(len(name) for name in medians)
    print(f"{'measure':<{width}}  seconds (median of {args.repeat})")
    for name, value in medians.items():
        print(f"{name:<{width}}  {value:8.3f}")
    ratio = medians["end to end: run --runtime podman"] / medians["end to end: run --runtime process"]
    per_pod_extra = (
        medians["per pod: run-workflow --runtime podman"] - medians["per pod: run-workflow --runtime process"]
    )
    print(f"podman / process, end to end: {ratio:.2f}x ({args.photos} photos, {len(last['podman'])} outputs)")
    print(f"podman's extra cost per pod: {per_pod_extra:.3f} s")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"medians": medians, "ratio": ratio, "photos": args.photos, "pods": args.pods}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
