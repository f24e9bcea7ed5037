"""The step image's Dockerfile: what can be proved without a Docker engine.

No Docker engine runs here, so the image is never built in these tests. They prove that the
Dockerfile parses and is shaped as documented, and that the very install command it runs, with
the same constraints file, produces a working ``kaleidoscope`` in a fresh virtual environment.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).parents[1]
DOCKERFILE = ROOT / "images" / "Dockerfile"


@pytest.fixture(scope="module")
def instructions() -> list[dict]:
    parser = DockerfileParser(fileobj=DOCKERFILE.open("rb"))
    return parser.structure


def stages(instructions) -> list[list[dict]]:
    result: list[list[dict]] = []
    for instruction in instructions:
        if instruction["instruction"] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def test_multi_stage_from_a_slim_python_base(instructions):
    build, runtime = stages(instructions)
    args = {
        i["value"].split("=")[0]: i["value"].split("=", 1)[1]
        for i in instructions
        if i["instruction"] == "ARG" and "=" in i["value"]
    }
    assert args["PYTHON_IMAGE"].startswith("python:3.11-slim")
    assert build[0]["value"] == "${PYTHON_IMAGE} AS build" and runtime[0]["value"] == "${PYTHON_IMAGE}"


def test_runtime_stage_is_non_root_numeric_with_the_cli_as_entrypoint(instructions):
    runtime = stages(instructions)[-1]
    users = [i["value"] for i in runtime if i["instruction"] == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), users
    assert [i["value"] for i in runtime if i["instruction"] == "ENTRYPOINT"] == ['["kaleidoscope"]']
    # no build tools and no package manager runs in the final stage
    assert not [i for i in runtime if i["instruction"] == "RUN"]
    assert any(i["instruction"] == "COPY" and "--from=build" in i["value"] for i in runtime)


def test_oci_labels(instructions):
    labels = " ".join(i["value"] for i in instructions if i["instruction"] == "LABEL")
    for key in ("title", "description", "version", "licenses", "source"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_every_run_and_copy_line_says_why():
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if (
            line.startswith(("RUN ", "COPY "))
            and not line.startswith("COPY steps")
            and not line.startswith("COPY workflows")
        ):
            previous = next(text for text in reversed(lines[:number]) if text.strip())
            assert previous.startswith("#"), f"line {number + 1} has no comment above it: {line}"


def test_dockerignore_keeps_the_context_to_what_is_copied():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") + 1 :][:5] == [
        "!constraints.txt",
        "!pyproject.toml",
        "!README.md",
        "!steps/",
        "!workflows/",
    ]


def test_constraints_pin_every_runtime_dependency():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = {
        re.split(r"==", line)[0].lower().replace("_", "-"): line.split("==")[1]
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    for requirement in pyproject["project"]["dependencies"]:
        name = re.split(r"[<>=!~\[ ]", requirement)[0].lower()
        assert name in pins, f"{name} is not pinned in constraints.txt"


def install_command() -> list[str]:
    """The Dockerfile's pip install, without its BuildKit flags."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    (line,) = [each for each in text.splitlines() if each.startswith("RUN ") and "pip install" in each]
    words = [w for w in shlex.split(line[len("RUN ") :]) if not w.startswith("--mount=")]
    return words


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the image's Python is 3.11; this check needs the same")
def test_the_dockerfiles_install_command_makes_a_working_kaleidoscope(tmp_path, photos):
    # Lay out /src as the Dockerfile's COPY lines do, then run its exact pip command there.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("constraints.txt", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("steps", "workflows"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "opt-kaleidoscope"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    command = [
        str(venv) + word[len("/opt/kaleidoscope") :] if word.startswith("/opt/kaleidoscope") else word
        for word in install_command()
    ]
    assert command[1:3] == ["install", "-c"], command
    installed = subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]

    kaleidoscope = venv / "bin" / "kaleidoscope"
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"source: {photos}\ndestination: {tmp_path / 'out'}\ntransforms: [flip_lr, blur]\nshards: 2\n")
    ran = subprocess.run(
        [str(kaleidoscope), "run", str(spec)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    assert "24 images from 8 inputs (2 failed)" in ran.stdout
    # the image carries runtime dependencies only
    listed = subprocess.run([str(venv / "bin" / "pip"), "list"], capture_output=True, text=True).stdout.lower()
    assert "opencv-python-headless" in listed and "pytest" not in listed and "scikit-image" not in listed
