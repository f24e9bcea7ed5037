"""How the container runtime calls podman: its program, the label of a run's containers, and
what it asks podman about this machine and its images.

Podman's own settings (OCI runtime, cgroup manager, default ulimits) are podman's: it reads
``containers.conf``, the file ``$CONTAINERS_CONF`` names when set, else the system's. A
sandbox without systemd, cgroups v2 or the right to raise ulimits (CI's) needs the settings
in ``images/containers.conf`` (runc, cgroupfs, no default ulimits), which ``images/build.sh``
and the tests point ``CONTAINERS_CONF`` at; nothing here repeats them.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kaleidoscope.steps.errors import InvalidInput

PROGRAM = "podman"
#: The label every container of one run carries (its value: the run's uid), so whatever a run
#: leaves behind is found and removed by that label alone.
RUN_LABEL = "io.kaleidoscope.executor.run"
#: Seconds a podman query (``info``, ``image exists``) may take before the machine is called broken.
QUERY_TIMEOUT = 60


@dataclass(frozen=True)
class Host:
    """What podman reports of this machine (``podman info``)."""

    version: str
    oci_runtime: str
    rootless: bool
    cgroup_version: str
    cgroup_controllers: frozenset[str]


#: Where podman finds the init it runs as a container's PID 1 with ``--init`` (its default ``init_path``).
INIT_PATHS = ("/usr/libexec/podman/catatonit", "/usr/bin/catatonit")


def init_available() -> bool:
    """Whether ``podman run --init`` works: an init (catatonit) is installed where podman looks."""
    return any(Path(path).exists() for path in INIT_PATHS) or shutil.which("catatonit") is not None


def command(*arguments: str) -> list[str]:
    return [PROGRAM, *arguments]


def query(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(*arguments), capture_output=True, text=True, timeout=QUERY_TIMEOUT, stdin=subprocess.DEVNULL
    )


def host() -> Host:
    """This machine as podman sees it.

    Raises:
        InvalidInput: podman is not installed, or cannot answer (its own error quoted).
    """
    if shutil.which(PROGRAM) is None:
        raise InvalidInput(
            f"--runtime podman: {PROGRAM} is not installed (not found on PATH): install podman "
            f"(with runc or crun), or run with --runtime process"
        )
    done = query("info", "--format", "json")
    if done.returncode != 0:
        raise InvalidInput(f"--runtime podman: `podman info` failed: {last_error(done.stderr)}")
    info = json.loads(done.stdout)
    data = info.get("host") or {}
    return Host(
        version=str((info.get("version") or {}).get("Version", "")),
        oci_runtime=str((data.get("ociRuntime") or {}).get("name", "")),
        rootless=bool((data.get("security") or {}).get("rootless", data.get("rootless", False))),
        cgroup_version=str(data.get("cgroupVersion", "")),
        cgroup_controllers=frozenset(data.get("cgroupControllers") or ()),
    )


@functools.lru_cache(maxsize=256)
def image_exists(image: str) -> bool:
    return query("image", "exists", image).returncode == 0


@functools.lru_cache(maxsize=256)
def image_user(image: str) -> str:
    """The image's ``USER`` (``""``: root), as ``podman image inspect`` reports it."""
    done = query("image", "inspect", "--format", "{{.Config.User}}", image)
    return done.stdout.strip() if done.returncode == 0 else ""


def last_error(stderr: str) -> str:
    """Podman's own message: the last line it wrote, without its ``Error: `` prefix."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1].removeprefix("Error: ") if lines else "no message"


def remove_run(run: str, grace: float) -> list[str]:
    """Stop (SIGTERM, SIGKILL after ``grace`` seconds) and remove every container of ``run``;
    the ids it found."""
    listed = query("ps", "--all", "--quiet", "--filter", f"label={RUN_LABEL}={run}")
    ids = listed.stdout.split()
    if ids:
        subprocess.run(
            command("rm", "--force", "--time", str(max(0, round(grace))), *ids),
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
    return ids
