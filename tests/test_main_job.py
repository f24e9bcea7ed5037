"""The main job end to end through the local executor: ``kaleidoscope run`` renders the Workflow
and runs that manifest; here an augment pod is killed mid-shard and the retry must complete with
nothing lost or duplicated."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import yaml

from kaleidoscope.steps import run_layout
from tests.conftest import read_records, synthetic_image

ROOT = Path(__file__).parents[1]


def augment_processes(marker: str) -> list[int]:
    """PIDs of running ``kaleidoscope step augment`` processes whose command line has ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        text = b" ".join(words).decode("utf-8", "replace")
        if "step augment" in text and marker in text:
            found.append(int(entry.name))
    return found


def outputs_in(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.jpg") if run_layout.WORK_PREFIX not in p.parts] if folder.exists() else []


def test_killed_augment_pod_is_retried_and_nothing_is_lost_or_duplicated(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(10):
        _ok, data = cv2.imencode(".jpg", synthetic_image(480, 640, seed=100 + index))
        (photos / f"p{index:02d}.jpg").write_bytes(data.tobytes())
    destination = tmp_path / "augmented"
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "source": str(photos),
                "destination": str(destination),
                "seed": 5,
                "normalize": {"size": 256},
                "transforms": ["rotate_zoom", "contrast", "brightness", "saturation", "flip_lr", "noise"],
                "shards": 2,
            }
        )
    )
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kaleidoscope.workflows.cli",
            "run",
            str(spec),
            "--workers",
            "2",
            "--workdir",
            str(tmp_path / "nodes"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    victims: list[int] = []
    while not victims:
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "no augment pod wrote outputs in time"
        if len(outputs_in(destination)) >= 40:
            victims = augment_processes(str(destination))
        time.sleep(0.02)
    os.kill(victims[0], signal.SIGKILL)
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr

    # the executor really saw a failed attempt and retried it
    # (node folders are named <display name>_<attempt>_<id>: attempt 1 is the retry)
    attempts = sorted(p.name.rsplit("_", 1)[0] for p in (tmp_path / "nodes").rglob("shard-*-of-2_*") if p.is_dir())
    assert stdout.startswith(f"{10 * 64} images from 10 inputs (0 failed)"), stdout
    records = read_records(destination)
    assert len(records) == 10 * 64 == len({r["output"] for r in records})
    on_disk = {p.relative_to(destination).as_posix() for p in outputs_in(destination)}
    assert on_disk == {r["output"] for r in records}, "an output is missing or one is left over"
    for record in records:
        assert hashlib.sha256((destination / record["output"]).read_bytes()).hexdigest() == record["sha256"]
    run_id = json.loads((destination / run_layout.SUMMARY).read_text())["run_id"]
    parts = sorted((destination / "manifest" / run_id / run_id).glob("part-*.jsonl"))
    assert {p.name.split("-")[1] for p in parts} == {"00000", "00001"}  # both shards published
    assert sum(len(p.read_text().splitlines()) for p in parts) == 10 * 64
    # the run cleaned up after itself: no work folder, no claim
    assert not (destination / run_layout.work_prefix(run_id)).exists()
    assert not (destination / run_layout.CLAIM).exists()
    assert len(attempts) == 3 and any(name.endswith("_1") for name in attempts), attempts
