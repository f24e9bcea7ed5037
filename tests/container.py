"""The step image for the tests: built with ``images/build.sh`` and run with podman as a pod runs it.

The image is built once per tree: it carries a label with a digest of everything its build
reads (the build context as ``.dockerignore`` filters it, the Dockerfile, the build script and
podman's settings), and a later session with the same digest reuses it instead of building again.
Each change of the tree builds an image of ~460 MB; a build removes the untagged images of
earlier builds once they are older than any test session runs (:data:`STALE_AFTER_S`), so
concurrent runs on other trees keep theirs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.build_context import ROOT, build_context
from tests.prerequisites import missing

BUILD_SCRIPT = ROOT / "images" / "build.sh"
#: Podman's settings for this machine (runc, cgroupfs, no default ulimits); images/build.sh uses the same file.
CONTAINERS_CONF = ROOT / "images" / "containers.conf"
#: What images/build.sh reads besides the build context.
BUILD_INPUTS = ("images/Dockerfile", "images/build.sh", "images/containers.conf", ".dockerignore")
CONTEXT_LABEL = "io.kaleidoscope.build-context"
#: images/build.sh's exit status when a tool it needs (podman, runc, debootstrap) is missing.
TOOL_MISSING = 3
#: Seconds after which an untagged image of an earlier build is no test session's any more (CI's limit is 90 min).
STALE_AFTER_S = 2 * 3600
#: How a pod runs the image (the workflows' securityContext and emptyDir): the root file system
#: read-only (podman's own tmpfs mounts on /var/tmp and /run left out, so only the caller's /tmp
#: is writable), no privilege escalation, no capability; the image's own user (runAsNonRoot).
POD_OPTIONS = (
    "--read-only",
    "--read-only-tmpfs=false",
    "--security-opt=no-new-privileges",
    "--cap-drop=ALL",
    "--pull=never",
)


def environment() -> dict[str, str]:
    """This process's environment with podman pointed at the repository's settings (unless the caller chose others)."""
    return {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(CONTAINERS_CONF))}


def podman(*arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["podman", *arguments], env=environment(), capture_output=True, text=True, timeout=timeout, check=False
    )


def build_files() -> list[str]:
    """The files ``podman build`` may send: tracked ones and untracked ones git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True
    ).stdout
    return sorted({name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()})


def context_digest() -> str:
    """A digest of what the build reads, and of the base it is asked for."""
    digest = hashlib.sha256(os.environ.get("KALEIDOSCOPE_IMAGE_BASE", "auto").encode() + b"\0")
    for name in [*BUILD_INPUTS, *sorted(build_context(build_files()))]:
        digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes() + b"\0")
    return digest.hexdigest()


def image_for(digest: str) -> str | None:
    """The id of an image built from the tree ``digest`` names, if podman holds one."""
    listed = podman("images", "--format=json", f"--filter=label={CONTEXT_LABEL}={digest}")
    assert listed.returncode == 0, f"podman images failed: {listed.stderr}"
    # The build stage's image carries the build's labels too; only the final stage has the OCI
    # title (checked here: podman 4.3 ORs two label filters).
    ids = [
        image["Id"]
        for image in json.loads(listed.stdout or "[]")
        if (image.get("Labels") or {}).get(CONTEXT_LABEL) == digest
        and (image.get("Labels") or {}).get("org.opencontainers.image.title") == "kaleidoscope"
    ]
    return ids[0] if ids else None


def step_image() -> str:
    """The id of the step image of this tree: found in podman's storage, else built by images/build.sh."""
    absent = [tool for tool in ("podman", "runc") if shutil.which(tool) is None]
    if absent:
        missing(f"{' and '.join(absent)} not installed: the container tests build and run the image with them")
    digest = context_digest()
    found = image_for(digest)
    if found:
        return found
    with tempfile.TemporaryDirectory(prefix="kaleidoscope-image-id-") as folder:
        id_file = Path(folder) / "id"
        built = subprocess.run(
            # No intermediate images: a build cache would only help an unchanged tree, which reuses the image.
            [str(BUILD_SCRIPT), "--", f"--label={CONTEXT_LABEL}={digest}", f"--iidfile={id_file}", "--layers=false"],
            env=environment(),
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if built.returncode == TOOL_MISSING:
            missing(built.stderr.strip().splitlines()[-1])
        assert built.returncode == 0, f"images/build.sh failed:\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
        remove_stale_builds()
        return id_file.read_text().strip()


def remove_stale_builds() -> None:
    """Remove the untagged images earlier builds of the tests left (both stages), once stale."""
    listed = podman("images", "--format=json", f"--filter=label={CONTEXT_LABEL}")
    for image in json.loads(listed.stdout or "[]") if listed.returncode == 0 else []:
        labelled = CONTEXT_LABEL in (image.get("Labels") or {})
        if labelled and not image.get("Names") and time.time() - image["Created"] > STALE_AFTER_S:
            podman("rmi", image["Id"])  # refused while a container uses it: it stays, as it should


def run(
    image: str,
    *arguments: str,
    tmp: Path | None = None,
    network: str = "none",
    env: dict[str, str] | None = None,
    entrypoint: str | None = None,
) -> subprocess.CompletedProcess:
    """``arguments`` to the image's entrypoint (or ``entrypoint``) in a container as a pod runs it.

    ``/tmp`` is the folder ``tmp`` (the pods' emptyDir, readable afterwards), else a fresh tmpfs.
    """
    options = [*POD_OPTIONS, f"--network={network}"]
    options += [f"--volume={tmp}:/tmp"] if tmp else ["--tmpfs=/tmp"]
    options += [f"--env={name}={value}" for name, value in (env or {}).items()]
    options += [f"--entrypoint={entrypoint}"] if entrypoint else []
    return podman("run", "--rm", *options, image, *arguments)
