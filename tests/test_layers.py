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
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}} & set({watched!r}))))
"""
WATCHED = {"cv2", "numpy", "hera"}
# The command line's main, once per argument list (given as JSON), each expected to exit 0.
RUN_COMMANDS = """
import contextlib, io, json, sys
from kaleidoscope.workflows.cli import main
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()):
        if main(argv) != 0:
            sys.exit(f"{argv} failed")
"""


def loaded_after(code: str, *args: str, cwd: Path = ROOT, watched: set[str] = WATCHED) -> set[str]:
    """The ``watched`` packages that running ``code`` with ``args`` in a fresh interpreter loads."""
    report = REPORT.format(watched=sorted(watched))
    process = subprocess.run(
        [sys.executable, "-c", code + report, *args], capture_output=True, text=True, cwd=cwd, timeout=300
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
    code = "import kaleidoscope.workflows.builder, kaleidoscope.workflows.lint, kaleidoscope.workflows.submit"
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


def test_each_pod_of_a_run_loads_only_what_its_step_needs(spec_document, tmp_path):
    # What each pod's start-up costs: a fresh interpreter per step, as the workflow runs them, with
    # the spec as JSON text, as the workflow passes it. Only the shard step validates the spec
    # (jsonschema, and PyYAML for YAML text); the later steps take the one it recorded.
    watched = {"cv2", "numpy", "hera", "jsonschema", "yaml", "boto3"}
    common = ["--spec-text", json.dumps(spec_document), "--run-id", "pods"]

    def pod(*argv: str) -> set[str]:
        return loaded_after(RUN_COMMANDS, json.dumps([list(argv)]), cwd=tmp_path, watched=watched)

    assert pod("step", "shard", *common) == {"jsonschema"}
    for index in range(spec_document["shards"]):
        assert pod("step", "augment", *common, "--shard", str(index), "--threads", "1") == {"cv2", "numpy"}
    assert pod("step", "manifest", *common) == set()


def test_a_step_given_another_spec_than_the_recorded_one_validates_it(spec_document, tmp_path):
    common = ["--run-id", "other", "--destination", spec_document["destination"]]
    assert (
        subprocess.run(
            [
                sys.executable,
                "-m",
                "kaleidoscope.workflows.cli",
                "step",
                "shard",
                "--spec-text",
                json.dumps(spec_document),
                *common,
            ],
            capture_output=True,
            cwd=tmp_path,
            timeout=300,
        ).returncode
        == 0
    )
    bad = {**spec_document, "seed": "seven"}
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "kaleidoscope.workflows.cli",
            "step",
            "augment",
            "--spec-text",
            json.dumps(bad),
            *common,
            "--shard",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert refused.returncode == 2
    assert 'seed: bad value "seven"' in refused.stderr
