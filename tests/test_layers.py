"""The layers hold: pyproject's import contracts (statically, with import-linter) and, at run
time, what each command actually loads.

The static contracts follow every import, lazy ones included; the run-time checks catch what
they cannot see: an import through a package's ``__init__``, a dynamic import, or a third-party
package that loads numpy itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[1]
IMAGE_LIBRARIES = {"cv2", "numpy"}

# Runs the command line's main in a fresh interpreter, once per argument list given as JSON, then
# prints the exit codes and which of the watched top-level packages ended up in sys.modules.
PROBE = """
import contextlib, io, json, sys
from kaleidoscope.workflows.cli import main
codes = []
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()):
        codes.append(main(argv))
watched = {"cv2", "numpy", "hera"}
print(json.dumps({"codes": codes, "loaded": sorted({name.split(".")[0] for name in sys.modules} & watched)}))
"""


def loaded_by(*commands: list[str], cwd: Path) -> set[str]:
    """The watched packages that running ``commands`` one after another in a fresh process loads."""
    process = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(commands))],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr
    result = json.loads(process.stdout.splitlines()[-1])
    assert result["codes"] == [0] * len(commands), process.stderr
    return set(result["loaded"])


def test_the_import_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    process = subprocess.run([str(lint_imports)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert process.returncode == 0, process.stdout + process.stderr


@pytest.fixture
def spec_file(spec_document, tmp_path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec_document))
    return path


@pytest.mark.parametrize(
    "command",
    [
        ["validate", "{spec}"],
        ["render", "{spec}"],
        ["render", "{spec}", "--kind", "cronworkflow"],
        ["lint", str(ROOT / "workflows" / "kaleidoscope-workflow.yaml")],
        ["schema"],
        ["ops"],
        ["ops", "--markdown"],
    ],
    ids=lambda command: " ".join(word for word in command if not word.startswith(("{", "/"))),
)
def test_spec_commands_load_no_image_library(command, spec_file, tmp_path):
    argv = [word.format(spec=spec_file) for word in command]
    assert loaded_by(argv, cwd=tmp_path) & IMAGE_LIBRARIES == set()


def test_the_steps_a_pod_runs_load_no_hera(spec_file, spec_document, tmp_path):
    common = ["--spec", str(spec_file), "--run-id", "layers"]
    loaded = loaded_by(
        ["step", "shard", *common],
        *(
            ["step", "augment", *common, "--shard", str(index), "--threads", "1"]
            for index in range(spec_document["shards"])
        ),
        ["step", "manifest", *common],
        cwd=tmp_path,
    )
    assert "hera" not in loaded
    assert "cv2" in loaded, "the probe did not reach the image work"
