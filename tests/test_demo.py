"""The README's first command: the demo job on real photographs, in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kaleidoscope.steps import imageio, run_layout
from tests.conftest import read_records
from tests.prerequisites import require_module

require_module("skimage", "the demo needs scikit-image (pip install -e '.[demo]')")


def test_demo_job_runs_end_to_end(tmp_path):
    process = subprocess.run(
        [sys.executable, "-m", "kaleidoscope.workflows.cli", "demo", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
        timeout=600,
    )
    assert process.returncode == 0, process.stderr
    summary = json.loads((tmp_path / "demo/augmented" / run_layout.SUMMARY).read_text())
    assert summary["inputs"] == 7 and summary["failed"] == 0 and summary["status"] == "succeeded"
    assert summary["outputs"] == 7 * 64
    assert len(read_records(tmp_path / "demo/augmented")) == 7 * 64
    sheet = imageio.decode((tmp_path / "demo/preview.png").read_bytes())
    assert sheet.shape[0] > 1000 and sheet.shape[1] > 1000  # 64 captioned tiles, 8 x 8
