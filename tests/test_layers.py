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

# Appended to the code a fresh interpreter runs: which watched top-level packages it loaded.
REPORT = """
import json, sys
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & {"cv2", "numpy", "hera"})))
"""
# The command line's main, once per argument list (given as JSON), each expected to exit 0.
RUN_COMMANDS = """
import contextlib, io, json, sys
from kaleidoscope.workflows.cli import main
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()):
        if main(argv) != 0:
            sys.exit(f"{argv} failed")
"""


def loaded_after(code: str, *args: str, cwd: Path = ROOT) -> set[str]:
    """The watched packages that running ``code`` with ``args`` in a fresh interpreter loads."""
    process = subprocess.run(
        [sys.executable, "-c", code + REPORT, *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )
    assert process.returncode == 0, process.stderr
    return set(json.loads(process.stdout.splitlines()[-1]))


def loaded_by_commands(*commands: list[str], cwd: Path) -> set[str]:
    """The watched packages that running ``commands`` one after another in one process loads."""
    return loaded_after(RUN_COMMANDS, json.dumps(list(commands)), cwd=cwd)


def test_the_import_contracts_are_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    process = subprocess.run([str(lint_imports)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert process.returncode == 0, process.stdout + process.stderr


def test_importing_the_builder_lint_and_submit_loads_no_image_library():
    code = "import kaleidoscope.workflows.builder, kaleidoscope.workflows.lint, kaleidoscope.workflows.argo_submit"
    assert loaded_after(code) & IMAGE_LIBRARIES == set()


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
    assert loaded_by_commands(argv, cwd=tmp_path) & IMAGE_LIBRARIES == set()


def test_the_steps_a_pod_runs_load_no_hera(spec_file, spec_document, tmp_path):
    common = ["--spec", str(spec_file), "--run-id", "layers"]
    loaded = loaded_by_commands(
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
