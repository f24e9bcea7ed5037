"""The step image's Dockerfile: what it does, proved without building it.

The image itself is built and run in tests/test_container.py (podman, images/build.sh). These
tests need no container tool: they parse the Dockerfile and check what the image does - its
base, its user, its entrypoint, what its final stage holds, what the build context sends - and
then lay out a build folder exactly as its COPY
instructions would from the context ``.dockerignore`` lets through, run its very pip command in
a fresh virtual environment, and use the result as the image would.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser
from packaging.specifiers import SpecifierSet

from tests.build_context import ROOT, build_context, ignore_rules, ignored, tracked_files
from tests.prerequisites import missing

DOCKERFILE = ROOT / "images" / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def parse() -> list[dict]:
    with DOCKERFILE.open("rb") as file:
        return DockerfileParser(fileobj=file).structure


@pytest.fixture(scope="module")
def instructions() -> list[dict]:
    return parse()


def stages(instructions) -> list[list[dict]]:
    result: list[list[dict]] = []
    for instruction in instructions:
        if instruction["instruction"] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def stage_name(stage: list[dict]) -> str | None:
    words = stage[0]["value"].split()
    return words[2] if len(words) == 3 and words[1].lower() == "as" else None


def of(stage: list[dict], kind: str) -> list[dict]:
    return [instruction for instruction in stage if instruction["instruction"] == kind]


def arg_defaults(instructions) -> dict[str, str]:
    return {
        name: value
        for name, _, value in (
            i["value"].partition("=") for i in instructions if i["instruction"] == "ARG" and "=" in i["value"]
        )
    }


def key_values(value: str) -> dict[str, str]:
    """ENV or LABEL ``key=value`` pairs, quotes removed (the parser has already joined continued lines)."""
    return dict(word.split("=", 1) for word in shlex.split(value))


def exec_form(value: str) -> list[str]:
    words = json.loads(value)
    assert isinstance(words, list) and all(isinstance(w, str) for w in words), f"not in exec form: {value}"
    return words


def copy_parts(instruction: dict) -> tuple[list[str], str, str | None]:
    """A COPY's sources, destination and --from stage (None: from the build context)."""
    value = instruction["value"].strip()
    flags = {}
    while value.startswith("--"):
        flag, _, value = value.partition(" ")
        name, _, setting = flag[2:].partition("=")
        flags[name] = setting
        value = value.strip()
    words = exec_form(value) if value.startswith("[") else shlex.split(value)
    return words[:-1], words[-1], flags.get("from")


def image_python(instructions) -> tuple[int, int]:
    base = arg_defaults(instructions)["PYTHON_IMAGE"]
    found = re.fullmatch(r"python:(\d+)\.(\d+)-slim(-\w+)?", base)
    assert found, f"the base image {base!r} is not an official slim Python image"
    return int(found.group(1)), int(found.group(2))


def venv_of_the_build_stage(build: list[dict]) -> str:
    """The folder the build stage makes its virtual environment in (``python -m venv <folder>``)."""
    (made,) = [
        words[-1] for words in (shlex.split(i["value"]) for i in of(build, "RUN")) if words[1:3] == ["-m", "venv"]
    ]
    return made


def install_command(build: list[dict]) -> list[str]:
    """The build stage's pip install, without its BuildKit flags."""
    (words,) = [
        [word for word in shlex.split(i["value"]) if not word.startswith("--mount=")]
        for i in of(build, "RUN")
        if "pip install" in i["value"]
    ]
    return words


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return normalized(re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0])


def pins() -> dict[str, str]:
    return {
        normalized(name): version
        for name, _, version in (
            line.split("#")[0].strip().partition("==")
            for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        )
        if version
    }


RUNTIME_DEPENDENCIES = {requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
EXTRAS_ONLY = {
    requirement_name(r) for extra in PYPROJECT["project"]["optional-dependencies"].values() for r in extra
} - RUNTIME_DEPENDENCIES


# -- the stages ------------------------------------------------------------------------------


def test_builds_in_two_stages_on_one_slim_python_the_code_is_checked_for(instructions):
    build, runtime = stages(instructions)
    # Both stages on the same base: the venv built in one runs on the other's Python.
    assert build[0]["value"].split()[0] == runtime[0]["value"].split()[0] == "${PYTHON_IMAGE}"
    assert stage_name(build) and stage_name(runtime) is None
    version = ".".join(map(str, image_python(instructions)))
    # The image's Python is one the project supports, and the one mypy and ruff check the code for.
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]).contains(version), version
    assert PYPROJECT["tool"]["mypy"]["python_version"] == version
    assert PYPROJECT["tool"]["ruff"]["target-version"] == "py" + version.replace(".", "")


def test_the_final_user_is_numeric_and_not_root(instructions):
    users = of(stages(instructions)[-1], "USER")
    assert users, "the final stage sets no USER: the image would run as root"
    user, _, group = users[-1]["value"].strip().partition(":")
    # Numeric, so Kubernetes can check runAsNonRoot without looking the name up in /etc/passwd.
    assert user.isdigit() and int(user) != 0, f"USER {users[-1]['value']}: not a numeric non-root uid"
    assert not group or (group.isdigit() and int(group) != 0), f"USER {users[-1]['value']}: not a numeric non-root gid"


def test_the_entrypoint_is_the_kaleidoscope_console_script_of_the_copied_venv(instructions):
    build, runtime = stages(instructions)
    (entrypoint,) = of(runtime, "ENTRYPOINT")
    command = exec_form(entrypoint["value"])
    assert command[0] in PYPROJECT["project"]["scripts"], f"{command[0]} is not one of pyproject's console scripts"
    assert PYPROJECT["project"]["scripts"][command[0]] == "kaleidoscope.workflows.cli:main"
    # The bare name resolves through PATH to the console script of the venv the build stage made.
    venv = venv_of_the_build_stage(build)
    path = {key: value for env in of(runtime, "ENV") for key, value in key_values(env["value"]).items()}["PATH"]
    assert path.split(":")[0] == f"{venv}/bin", path
    assert ([venv], venv, stage_name(build)) in [copy_parts(i) for i in of(runtime, "COPY")]


def test_the_final_stage_runs_nothing_and_takes_only_the_built_venv(instructions):
    build, runtime = stages(instructions)
    # No RUN or ADD: no compiler, package manager or pip cache can land in the image's layers.
    assert not of(runtime, "RUN") and not of(runtime, "ADD")
    venv = venv_of_the_build_stage(build)
    # Console scripts name their interpreter by absolute path: the venv keeps its path.
    assert [copy_parts(i) for i in of(runtime, "COPY")] == [([venv], venv, stage_name(build))]


def test_oci_labels(instructions):
    labels = {
        key: value for i in instructions if i["instruction"] == "LABEL" for key, value in key_values(i["value"]).items()
    }
    for key in ("title", "description", "version", "licenses", "source"):
        assert f"org.opencontainers.image.{key}" in labels, key
    assert labels["org.opencontainers.image.licenses"] == PYPROJECT["project"]["license"]


def test_every_run_and_copy_is_explained_by_a_comment(instructions):
    # Documentation, not behaviour: a comment sits directly above each RUN or COPY, or above the
    # block of adjacent instructions of the same kind it belongs to.
    explained = False
    previous = None
    for instruction in instructions:
        kind = instruction["instruction"]
        if kind in ("RUN", "COPY"):
            adjacent = previous is not None and previous["endline"] + 1 == instruction["startline"]
            explained = adjacent and (
                previous["instruction"] == "COMMENT" or (previous["instruction"] == kind and explained)
            )
            assert explained, f"line {instruction['startline'] + 1} has no comment above it: {instruction['content']}"
        previous = instruction


# -- the build context -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ignore, path, left_out",
    [
        ("*", "README.md", True),
        ("*", "steps/ops.py", True),  # through its parent folder
        ("*\n!steps/", "steps/ops.py", False),
        ("*\n!steps/", "steps/deep/er.py", False),
        ("*.md", "docs/a.md", False),  # * never crosses a /
        ("**/*.md", "docs/a.md", True),
        ("**/__pycache__", "steps/__pycache__/ops.cpython-311.pyc", True),
        ("**/__pycache__", "__pycache__/x.pyc", True),
        ("/build", "build/lib/a.py", True),
        ("# *\nREADME.md", "steps/ops.py", False),
        ("steps\n!steps/ops.py", "steps/ops.py", False),
        ("!steps/ops.py\nsteps", "steps/ops.py", True),  # the last match decides
        ("st?ps", "steps/ops.py", True),
        ("[a-r]*", "steps/ops.py", False),
    ],
)
def test_the_dockerignore_reading_follows_dockers_rules(ignore, path, left_out):
    assert ignored(path, ignore_rules(ignore)) is left_out


def context_sources(instructions) -> list[str]:
    """Every path a COPY takes from the build context (not from another stage), cleaned."""
    sources = []
    for stage in stages(instructions):
        for instruction in of(stage, "COPY"):
            copied, _, from_stage = copy_parts(instruction)
            if from_stage is None:
                sources += [source.removeprefix("./").rstrip("/") for source in copied]
    return sources


def under(name: str, source: str) -> bool:
    return source in (".", "") or name == source or name.startswith(source + "/")


def test_dockerignore_lets_through_exactly_what_the_dockerfile_copies(instructions):
    files = tracked_files()
    context = build_context(files)
    sources = context_sources(instructions)
    assert not [s for s in sources if any(c in s for c in "*?[")], "globs in COPY sources: teach this test about them"
    for source in sources:
        assert any(under(name, source) for name in files), f"COPY {source}: no such file or folder in the repository"
        left_out = sorted(name for name in files if under(name, source) and name not in context)
        assert not left_out, f".dockerignore leaves out files that COPY {source} needs: {left_out}"
    extra = sorted(name for name in context if not any(under(name, source) for source in sources))
    assert not extra, f".dockerignore sends files no COPY uses: {extra}"


def test_the_build_context_leaves_out_tests_chart_git_and_working_files():
    rules = ignore_rules((ROOT / ".dockerignore").read_text(encoding="utf-8"))
    for path in (
        "tests/test_image.py",
        "charts/kaleidoscope/Chart.yaml",
        ".git/HEAD",
        ".git",  # a worktree's .git is a file
        ".venv/bin/python",
        "build/lib/kaleidoscope/steps/ops.py",
        "kaleidoscope.egg-info/PKG-INFO",
        "steps/__pycache__/ops.cpython-311.pyc",
        "workflows/executor/__pycache__/dag.cpython-311.pyc",
        "workflows/stale.pyc",
        ".pytest_cache/README.md",
    ):
        assert ignored(path, rules), f"{path} would be sent to the Docker build"


def test_constraints_pin_every_runtime_dependency():
    pinned = pins()
    for name in RUNTIME_DEPENDENCIES:
        assert name in pinned, f"{name} is not pinned in constraints.txt"


# -- the install, as the build stage runs it ---------------------------------------------------


def lay_out_the_build_stage(build: list[dict], target: Path) -> None:
    """Put in ``target`` (the build stage's WORKDIR) what its COPY instructions take from the context."""
    context = build_context()
    for instruction in of(build, "COPY"):
        sources, destination, from_stage = copy_parts(instruction)
        assert from_stage is None and not destination.startswith("/"), instruction["content"]
        into_folder = destination.endswith("/") or len(sources) > 1
        for source in (s.removeprefix("./").rstrip("/") for s in sources):
            for name in sorted(context):
                if name == source:
                    placed = target / destination / Path(name).name if into_folder else target / destination
                elif under(name, source):
                    placed = target / destination / name[len(source) + 1 :]
                else:
                    continue
                placed.parent.mkdir(parents=True, exist_ok=True)
                placed.write_bytes((ROOT / name).read_bytes())


def run_in(venv: Path, command: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    """``command`` as the image runs it: the venv first on PATH, nothing from this checkout on sys.path."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kwargs)


def test_the_dockerfiles_install_command_makes_a_working_kaleidoscope(tmp_path, photos, instructions):
    wanted, running = image_python(instructions), sys.version_info[:2]
    if running != wanted:
        missing(
            f"the image runs Python {'.'.join(map(str, wanted))} (images/Dockerfile): this check installs with the "
            f"same Python, not {'.'.join(map(str, running))}"
        )
    build, runtime = stages(instructions)
    source = tmp_path / "src"
    lay_out_the_build_stage(build, source)
    image_venv = venv_of_the_build_stage(build)
    venv = tmp_path / "opt-kaleidoscope"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    command = [
        str(venv) + word[len(image_venv) :] if word.startswith(image_venv) else word for word in install_command(build)
    ]
    assert command[1:3] == ["install", "-c"], command
    installed = subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    # The final stage takes the venv alone: nothing may still point into the sources.
    shutil.rmtree(source)
    workdir = tmp_path / "workdir"  # outside the repository, as the image's /tmp
    workdir.mkdir()

    # The image's default command: ENTRYPOINT + CMD, the bare name found on PATH.
    (entrypoint,) = of(runtime, "ENTRYPOINT")
    (default_arguments,) = of(runtime, "CMD")
    script = exec_form(entrypoint["value"])[0]
    assert (venv / "bin" / script).is_file() and os.access(venv / "bin" / script, os.X_OK)
    default = run_in(venv, exec_form(entrypoint["value"]) + exec_form(default_arguments["value"]), workdir)
    assert default.returncode == 0 and "usage:" in default.stdout, default.stderr

    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"source: {photos}\ndestination: {tmp_path / 'out'}\ntransforms: [flip_lr, blur]\nshards: 2\n"
        "limits: {max_failed_fraction: 0.5}\n"  # the photos hold 2 undecodable files in 8
    )
    ran = run_in(venv, [script, "run", str(spec)], workdir)
    assert ran.returncode == 0, ran.stderr
    assert "24 images from 8 inputs (2 failed)" in ran.stdout

    # One import package, from the venv; the source folder names are not importable.
    python = str(venv / "bin" / "python")
    found = run_in(
        venv, [python, "-c", "import kaleidoscope.steps, kaleidoscope.workflows as w; print(w.__file__)"], workdir
    )
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).is_relative_to(venv), found.stdout
    for name in ("steps", "workflows"):
        absent = run_in(venv, [python, "-c", f"import {name}"], workdir)
        assert absent.returncode != 0 and f"ModuleNotFoundError: No module named '{name}'" in absent.stderr, (
            absent.stderr
        )

    # Every installed distribution is the version constraints.txt pins; runtime dependencies only.
    listed = run_in(venv, [python, "-m", "pip", "list", "--format=json"], workdir, check=True).stdout
    versions = {normalized(d["name"]): d["version"] for d in json.loads(listed)}
    pinned = pins()
    bootstrap = {"pip", "setuptools"}  # put in every venv by `python -m venv`, not by the install
    unpinned = {
        name: version
        for name, version in versions.items()
        if name not in bootstrap | {"kaleidoscope"} and pinned.get(name) != version
    }
    assert not unpinned, f"installed, not at the version constraints.txt pins: {unpinned}"
    assert not RUNTIME_DEPENDENCIES - set(versions), f"not installed: {RUNTIME_DEPENDENCIES - set(versions)}"
    assert not EXTRAS_ONLY & set(versions), f"demo or test extras in the image: {EXTRAS_ONLY & set(versions)}"
    assert versions["kaleidoscope"] == PYPROJECT["project"]["version"]
