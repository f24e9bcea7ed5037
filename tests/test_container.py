"""The step image, built by images/build.sh with podman and run as the pods run it.

Every container runs with the workflows' securityContext: the image's own non-root user, a
read-only root file system with only /tmp writable (the pods' emptyDir), no privilege escalation
and no capability. The step commands run with the very arguments of the committed workflow's
templates against the real S3 server, and must write the same bytes as the venv's commands do.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from kaleidoscope.steps.operations import OPERATIONS
from tests import container, s3server
from tests.build_context import ROOT
from tests.conftest import GOOD_IMAGES
from tests.test_image import EXTRAS_ONLY, PYPROJECT, RUNTIME_DEPENDENCIES, normalized, pins
from tests.test_s3 import all_objects, upload_folder

WORKFLOW = ROOT / "workflows" / "kaleidoscope-workflow.yaml"
IMAGE_DOCS = ROOT / "docs" / "image.md"
VENV_KALEIDOSCOPE = Path(sys.executable).parent / "kaleidoscope"
#: The pods' emptyDir; every path a template writes its results to is under it.
POD_TMP = "/tmp"


def venv(*arguments: str, env: dict[str, str] | None = None):
    # No COLUMNS from a terminal: argparse wraps the help at 80 columns, as in the container.
    clean = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    return subprocess.run(
        [str(VENV_KALEIDOSCOPE), *arguments], env={**clean, **(env or {})}, capture_output=True, text=True, timeout=300
    )


def inspect(reference: str) -> dict:
    shown = container.podman("image", "inspect", reference)
    assert shown.returncode == 0, shown.stderr
    (image,) = json.loads(shown.stdout)
    return image


def size_budget_mb() -> int:
    """The budget docs/image.md states, so the page and this test cannot disagree."""
    found = re.search(r"size budget is \*\*(\d+) MB\*\*", IMAGE_DOCS.read_text(encoding="utf-8"))
    assert found, "docs/image.md states no size budget ('size budget is **N MB**')"
    return int(found.group(1))


# -- what a pod gets -------------------------------------------------------------------------------


def test_the_default_command_is_the_help_the_venv_prints(step_image):
    shown = container.run(step_image)
    assert shown.returncode == 0, shown.stderr
    expected = venv("--help")
    assert expected.returncode == 0 and "usage: kaleidoscope" in expected.stdout
    assert shown.stdout == expected.stdout


def test_ops_lists_the_operations_as_the_venv_does(step_image):
    shown = container.run(step_image, "ops")
    assert shown.returncode == 0, shown.stderr
    listed = [line.split()[0] for line in shown.stdout.splitlines() if line and not line[0].isspace()]
    assert listed and sorted(listed) == sorted(OPERATIONS)
    assert shown.stdout == venv("ops").stdout


PROBE = """
import json, os, sys
written = []
for folder in ("/tmp", "/", "/etc", "/opt/kaleidoscope", "/opt/kaleidoscope/bin", "/var/tmp", "/run", "/root"):
    try:
        with open(os.path.join(folder, "probe"), "w") as file:
            file.write("x")
        written.append(folder)
    except OSError:
        pass
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "cwd": os.getcwd(),
    "written": written, "capabilities": status["CapEff"].strip(), "no_new_privileges": status["NoNewPrivs"].strip(),
    "python": list(sys.version_info[:2]), "executable": sys.executable,
}))
"""


def test_the_pod_runs_as_65532_without_privileges_and_writes_only_tmp(step_image):
    shown = container.run(step_image, "-c", PROBE, entrypoint="python3")
    assert shown.returncode == 0, shown.stderr
    probe = json.loads(shown.stdout)
    # The Dockerfile's USER, unchanged by podman: the numeric uid Kubernetes' runAsNonRoot checks.
    assert (probe["uid"], probe["gid"]) == (65532, 65532) and probe["groups"] in ([], [65532])
    assert probe["cwd"] == POD_TMP
    assert probe["written"] == [POD_TMP], probe["written"]
    assert probe["capabilities"] == "0" * 16 and probe["no_new_privileges"] == "1"
    # The venv's python first on PATH; the same minor version as the one these tests run on.
    assert probe["executable"] == "/opt/kaleidoscope/bin/python3"
    assert tuple(probe["python"]) == sys.version_info[:2]


LIST_DISTRIBUTIONS = "import importlib.metadata as m, json; print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"


def test_the_image_holds_the_pinned_runtime_dependencies_only(step_image):
    shown = container.run(step_image, "-c", LIST_DISTRIBUTIONS, entrypoint="python3")
    assert shown.returncode == 0, shown.stderr
    versions = {normalized(name): version for name, version in json.loads(shown.stdout).items()}
    pinned = pins()
    bootstrap = {"pip", "setuptools"}  # put in every venv by `python -m venv`
    unpinned = {
        name: version
        for name, version in versions.items()
        if name not in bootstrap | {"kaleidoscope"} and pinned.get(name) != version
    }
    assert not unpinned, f"in the image, not at the version constraints.txt pins: {unpinned}"
    assert set(versions) >= RUNTIME_DEPENDENCIES and not EXTRAS_ONLY & set(versions)
    assert versions["kaleidoscope"] == PYPROJECT["project"]["version"]


def test_the_image_adds_one_layer_to_its_base_and_stays_within_its_size_budget(step_image):
    image = inspect(step_image)
    base = inspect(image["Annotations"]["org.opencontainers.image.base.name"])
    # The final stage only copies the venv: one layer on top of the base's, nothing else.
    assert image["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
    size_mb = image["Size"] / 1e6
    assert size_mb <= size_budget_mb(), f"the image is {size_mb:.0f} MB, over the budget docs/image.md sets"
    labels = image["Labels"]
    assert labels["org.opencontainers.image.version"] == PYPROJECT["project"]["version"]
    assert image["User"] == "65532:65532"


# -- the step commands, as the workflow's templates run them -----------------------------------------


def template_commands() -> dict[str, list[str]]:
    """Each step template's command and arguments, from the committed workflow."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return {
        template["name"]: template["container"]["command"] + template["container"]["args"]
        for template in workflow["spec"]["templates"]
        if "container" in template
    }


def filled(words: list[str], parameters: dict[str, str]) -> list[str]:
    """The words with Argo's ``{{inputs.parameters.NAME}}`` replaced; a parameter not given fails."""
    return [re.sub(r"\{\{inputs\.parameters\.([\w-]+)\}\}", lambda m: parameters[m.group(1)], word) for word in words]


def pod_paths(words: list[str], tmp: Path) -> list[str]:
    """The words with the pod's /tmp moved to ``tmp``, for the same command run from the venv."""
    return [word.replace(f"={POD_TMP}/", f"={tmp}/") for word in words]


def run_the_workflow(step_image: str | None, parameters: dict[str, str], folder: Path) -> dict[str, str]:
    """shard, one augment per shard, manifest: in containers (each with a fresh /tmp) or from the venv.

    Returns every file the steps left for Argo to read (their output parameters), by step.
    """
    commands = template_commands()
    credentials = {
        "AWS_ACCESS_KEY_ID": s3server.ADMIN[0],
        "AWS_SECRET_ACCESS_KEY": s3server.ADMIN[1],
        "AWS_REGION": s3server.REGION,
    }
    left: dict[str, str] = {}

    def step(name: str, template: str, extra: dict[str, str]) -> None:
        tmp = folder / name
        tmp.mkdir(parents=True)
        words = filled(commands[template], {**parameters, **extra})
        if step_image:
            tmp.chmod(0o777)  # the emptyDir, writable by the image's user
            done = container.run(step_image, *words[1:], tmp=tmp, network="host", env=credentials)
        else:
            assert words[0] == VENV_KALEIDOSCOPE.name
            done = venv(*pod_paths(words, tmp)[1:], env=credentials)
        assert done.returncode == 0, f"{name}: {done.stderr}"
        for path in sorted(tmp.rglob("*")):
            if path.is_file():
                left[f"{name}/{path.relative_to(tmp)}"] = path.read_text()

    step("shard", "shard", {})
    shards = json.loads(left["shard/kaleidoscope/out/shards.json"])
    assert len(shards) > 1
    for item in shards:
        step(f"augment-{item['index']}", "augment", {"index": str(item["index"]), "of": str(item["of"])})
    step("manifest", "manifest", {})
    return left


#: What the run's JSON records hold of the wall clock (when the run started, finished, was published).
CLOCK_FIELDS = ("started_at", "finished_at", "updated_at")


def comparable(key: str, data: bytes):
    """An object as the two sides must agree on it: its bytes, but a JSON record without its times."""
    if not key.endswith(".json"):
        return data
    document = json.loads(data)
    return {name: value for name, value in document.items() if name not in CLOCK_FIELDS}


def empty(s3, bucket: str) -> None:
    client = s3.client()
    for key in all_objects(s3, bucket):
        client.delete_object(Bucket=bucket, Key=key)


@pytest.mark.s3
def test_the_step_commands_in_the_image_write_what_the_venvs_write(step_image, s3, photos, spec_document, tmp_path):
    source, destination = (f"{kind}-{uuid.uuid4().hex[:10]}" for kind in ("src", "dst"))
    for bucket in (source, destination):
        s3.make_bucket(bucket)
    upload_folder(s3, photos, source, "photos")
    spec = yaml.safe_dump({key: value for key, value in spec_document.items() if key not in ("source", "destination")})
    # As Argo fills them for one run. Both sides run with the same parameters, the same run id and
    # the same destination (emptied in between): the spec's digest, the record and the URLs match.
    parameters = {
        "spec": spec,
        "source": f"s3://{source}/photos",
        "destination": f"s3://{destination}/augmented",
        "s3-endpoint": s3.endpoint,
        "run-id": f"{uuid.uuid4()}-main",
        "incremental": "false",
    }
    left, written = {}, {}
    for side, image in (("pods", step_image), ("venv", None)):
        left[side] = run_the_workflow(image, parameters, tmp_path / side)
        written[side] = all_objects(s3, destination)
        empty(s3, destination)

    assert set(written["pods"]) == set(written["venv"])
    different = sorted(
        key for key, data in written["venv"].items() if comparable(key, written["pods"][key]) != comparable(key, data)
    )
    assert not different, f"the image wrote other objects than the venv: {different}"
    timed = [key for key, data in written["venv"].items() if data != written["pods"][key]]
    assert all(key.endswith(".json") for key in timed), timed  # only the records' times may differ
    images = [key for key in written["venv"] if key.endswith(".png")]
    assert len(images) == GOOD_IMAGES * 2 ** len(spec_document["transforms"])
    # What Argo reads back (the shards, each shard's counts, the run's counts and URLs) is the same too.
    assert left["pods"] == left["venv"]
