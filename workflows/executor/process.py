"""Run one container or script node as a local process, as its pod would run in Kubernetes.

The image is not pulled: the command runs on this machine, in its own process group (so a
deadline or an interrupted run stops everything it started), with:

- a private folder per node attempt holding ``tmp/`` (the node's ``/tmp`` and ``TMPDIR``),
  ``work/`` (the working directory), one folder per ``emptyDir`` mount, the script file, the
  captured ``stdout``/``stderr`` and the progress file (``ARGO_PROGRESS_FILE``);
- container paths rewritten: in the template's own ``command``, ``args``, ``env`` values,
  script ``source``, ``workingDir`` and output ``valueFrom.path``, a path under ``/tmp`` or under
  an ``emptyDir`` mount path becomes the node's private folder, so parallel nodes writing the
  same container path never collide. Values that arrive through parameters are data (they may
  carry host paths given with ``-p``) and are not rewritten;
- the host's environment (minus ``KALEIDOSCOPE_SECRET_*``), ``PATH`` starting with this Python's
  ``bin`` folder (so ``kaleidoscope`` is this environment's), then the container's ``env``;
- ``python`` and ``python3`` as the first word of a command run this Python (``sys.executable``):
  the examples' ``python:alpine`` images only need the standard library.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kaleidoscope.workflows.executor import variables

#: Argo keeps the last 256 kB of stdout as ``outputs.result`` (``CaptureScriptResult`` in
#: Argo's workflow/executor/executor.go: ``const maxAnnotationSize int = 256 * (1 << 10)``).
RESULT_LIMIT = 256 * (1 << 10)
TAIL_LINES = 10
_PYTHONS = ("python", "python3")
_K8S_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][-._A-Za-z0-9]*)\)")


class NodeError(Exception):
    """The executor could not run a node (its phase becomes Error, as in Argo)."""


@dataclass
class Pod:
    """A prepared node: what to run and where its outputs are."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    folder: Path
    outputs: list[tuple[str, str, Path, str | None]]  # name, container path, local path, default
    deadline: float | None = None  # seconds
    capture_result: bool = False
    progress_file: Path | None = None
    #: Stops it when its deadline passes or the run stops: ``(process, grace) -> exit code``
    #: (default: SIGTERM to its process group, SIGKILL after the grace period).
    terminate: Callable[[subprocess.Popen, float], int] | None = None
    #: Called with the exit code once it ended, before its outputs are read; returns why the node
    #: could not run at all (its phase becomes Error), or None.
    finish: Callable[[int], str | None] | None = None


@dataclass
class PodRequest:
    """What a runtime needs to prepare one node attempt (see :func:`prepare` for the fields)."""

    template: dict
    values: dict
    folder: Path
    volumes: dict[str, dict]
    secret: Callable[[str, str, bool], str | None]
    capture_result: bool
    deadline: float | None
    #: The pod's name (``{{pod.name}}``), unique per attempt.
    name: str
    #: The workflow's pod-level ``spec.securityContext`` (a template's own replaces it).
    security_context: dict | None = None


@dataclass
class Outcome:
    """How a node ended."""

    phase: str
    message: str = ""
    exit_code: int | None = None
    result: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    stdout_tail: list[str] = field(default_factory=list)
    stderr_tail: list[str] = field(default_factory=list)


class Mounts:
    """Container paths (``/tmp`` and ``emptyDir`` mount paths) mapped to private folders."""

    def __init__(self, mapping: dict[str, Path]):
        # Longest first, so /tmp/cache wins over /tmp.
        self.mapping = dict(
            sorted(((path.rstrip("/"), local) for path, local in mapping.items()), key=lambda item: -len(item[0]))
        )
        alternatives = "|".join(re.escape(path) for path in self.mapping)
        # A container path starts a word (not inside /var/tmp or foo/tmp) and ends at a '/' or
        # anything that cannot continue a path component.
        self._pattern = re.compile(rf"(?<![-\w./])({alternatives})(?=/|$|[^-\w.])")

    def rewrite(self, text: str) -> str:
        return self._pattern.sub(lambda match: str(self.mapping[match.group(1)]), text)

    def local(self, path: str) -> Path:
        """The local file for a container path (paths outside every mount stay as they are)."""
        return Path(self.rewrite(path))


def expand_k8s(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion from the container's own env; ``$$`` escapes a ``$``."""
    return _K8S_VAR.sub(lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)


def base_environment() -> dict[str, str]:
    """The host environment a node starts from."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KALEIDOSCOPE_SECRET_") and key != "ARGO_PROGRESS_FILE"
    }
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + (os.pathsep + env["PATH"] if env.get("PATH") else "")
    return env


def prepare(
    template: dict,
    values: dict,
    folder: Path,
    volumes: dict[str, dict],
    secret: Callable[[str, str, bool], str | None],
    capture_result: bool,
    deadline: float | None,
) -> Pod:
    """Build the process for a container or script template.

    Args:
        template: the template as written in the manifest (tags not yet substituted).
        values: variable values for its tags.
        folder: the node attempt's private folder (created here).
        volumes: volumes by name the container may mount (emptyDir only, checked at load).
        secret: ``(name, key, optional) -> value`` for ``secretKeyRef``.
        capture_result: keep stdout as ``outputs.result``.
        deadline: seconds the process may run.

    Raises:
        NodeError: a variable cannot be resolved, or a secret is missing.
    """
    kind = "script" if "script" in template else "container"
    body = template[kind]
    tmp, work = folder / "tmp", folder / "work"
    mapping = {"/tmp": tmp}
    for mount in body.get("volumeMounts") or []:
        if "emptyDir" in volumes.get(mount["name"], {}):
            path = mount["mountPath"].rstrip("/")
            mapping[path] = tmp if path == "/tmp" else folder / "mounts" / mount["name"]
    for local in {tmp, work, *mapping.values()}:
        local.mkdir(parents=True, exist_ok=True)
    mounts = Mounts(mapping)

    def resolve(text) -> str:
        try:
            return variables.substitute(mounts.rewrite(str(text)), values)
        except (variables.Unresolved, variables.Absent, ValueError) as error:
            raise NodeError(str(error)) from None

    env: dict[str, str] = {}
    for entry in body.get("env") or []:
        source = (entry.get("valueFrom") or {}).get("secretKeyRef")
        if source:
            found = secret(resolve(source["name"]), resolve(source["key"]), bool(source.get("optional")))
            if found is not None:
                env[entry["name"]] = found
        else:
            env[entry["name"]] = expand_k8s(resolve(entry.get("value", "")), env)
    argv = [expand_k8s(resolve(word), env) for word in [*body["command"], *(body.get("args") or [])]]
    if kind == "script":
        script = folder / "script"
        script.write_text(resolve(body["source"]), encoding="utf-8")
        script.chmod(0o755)  # `command: [sh, -c]` runs the file itself, as in Argo's examples
        argv.append(str(script))  # Argo appends the script's path to command + args
    if argv and argv[0] in _PYTHONS:
        argv[0] = sys.executable
    cwd = work
    if body.get("workingDir"):
        local = mounts.local(resolve(body["workingDir"]))
        if any(local == base or base in local.parents for base in mapping.values()):
            local.mkdir(parents=True, exist_ok=True)
            cwd = local
    progress = folder / "progress"
    full_env = {**base_environment(), **env, "TMPDIR": str(tmp), "ARGO_PROGRESS_FILE": str(progress)}
    outputs = []
    for out in (template.get("outputs") or {}).get("parameters") or []:
        source = out["valueFrom"]
        local = Path(resolve(source["path"]))  # raises first if a tag cannot be resolved
        container_path = variables.substitute(str(source["path"]), values)
        default = source.get("default")
        outputs.append((out["name"], container_path, local, None if default is None else resolve(default)))
    return Pod(argv, full_env, cwd, folder, outputs, deadline, capture_result, progress)


def run(
    pod: Pod,
    stop: threading.Event,
    grace: float = 5.0,
    stop_message: Callable[[], str] = lambda: "stopped",
    on_start: Callable[[int], None] | None = None,
) -> Outcome:
    """Run a prepared node to its end: it exits, its deadline passes, or ``stop`` is set."""
    stdout_path, stderr_path = pod.folder / "stdout", pod.folder / "stderr"
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        try:
            process = subprocess.Popen(
                pod.argv,
                env=pod.env,
                cwd=pod.cwd,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
                preexec_fn=_DIE_WITH_PARENT,
            )
        except FileNotFoundError:
            return Outcome("Error", f'exec: "{pod.argv[0]}": executable file not found in $PATH')
        except PermissionError:
            return Outcome("Error", f'exec: "{pod.argv[0]}": permission denied')
        except OSError as error:
            return Outcome("Error", f'exec: "{pod.argv[0]}": {error.strerror or error}')
    if on_start:
        on_start(process.pid)
    started = time.monotonic()
    killed = ""
    exited = _ExitWaiter(process)
    try:
        while True:
            code = exited(0.1)
            if code is not None:
                break
            if not killed and stop.is_set():
                killed = stop_message()
            elif not killed and pod.deadline is not None and time.monotonic() - started > pod.deadline:
                killed = "Pod was active on the node longer than the specified deadline"
            if killed:
                code = (pod.terminate or _terminate)(process, grace)
                break
    finally:
        exited.close()
    _kill_group(process.pid)  # what outlives the main process dies with its container in Kubernetes
    exit_code = code if code >= 0 else 128 - code
    not_run = pod.finish(exit_code) if pod.finish else None
    outcome = Outcome(
        "Succeeded" if code == 0 and not killed else "Failed",
        exit_code=exit_code,
        stdout_tail=_tail(stdout_path),
        stderr_tail=_tail(stderr_path),
    )
    if killed:
        outcome.message = killed
    elif not_run:
        outcome.phase, outcome.message = "Error", not_run
    elif code != 0:
        outcome.message = f"Error (exit code {exit_code})"
    if pod.capture_result:
        outcome.result = _result(stdout_path)
    _outputs(pod, outcome)
    return outcome


class _ExitWaiter:
    """Waits up to a timeout for a process to exit (``waiter(seconds)``: its code, or None).

    On Linux it waits on a pidfd, which wakes at the exit itself; ``Popen.wait(timeout)`` polls
    with sleeps growing to 50 ms, which would add up to that much to every node on the
    workflow's critical path.
    """

    def __init__(self, process: subprocess.Popen):
        self.process = process
        try:
            self.pidfd: int | None = os.pidfd_open(process.pid)
        except (AttributeError, OSError):
            self.pidfd = None

    def __call__(self, timeout: float) -> int | None:
        if self.pidfd is not None:
            ready, _, _ = select.select([self.pidfd], [], [], timeout)
            return self.process.wait() if ready else None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function asking Linux to SIGKILL the child when its parent thread dies.

    A node runs in a session of its own (a pod's processes are not the executor's), so a
    ``kill -9`` of the executor's process group, or an OOM kill, would otherwise leave it
    running, still renewing the destination's claim. The thread that starts a node waits for it
    to end, so only the executor's death fires it. None where ``prctl`` is not available.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    set_death_signal, kill = 1, int(signal.SIGKILL)  # PR_SET_PDEATHSIG, from <linux/prctl.h>
    parent = os.getpid()

    def preexec() -> None:
        # Built before fork: the child only calls into libc, takes no lock and imports nothing.
        prctl(set_death_signal, kill, 0, 0, 0)
        if os.getppid() != parent:  # the executor died between fork and prctl
            os._exit(137)

    return preexec


_DIE_WITH_PARENT = _die_with_parent()


def _terminate(process: subprocess.Popen, grace: float) -> int:
    """SIGTERM the process group, then SIGKILL after ``grace`` seconds, as the kubelet does."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        return process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        return process.wait()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _result(path: Path) -> str:
    # Argo trims one trailing newline, then keeps the last 256 kB.
    with open(path, "rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(max(0, size - RESULT_LIMIT - 1))
        data = file.read()
    if data.endswith(b"\n"):
        data = data[:-1]
    return data[-RESULT_LIMIT:].decode("utf-8", errors="replace")


def _tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    with open(path, "rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(max(0, size - 16384))
        text = file.read().decode("utf-8", errors="replace")
    return text.splitlines()[-lines:]


def _outputs(pod: Pod, outcome: Outcome) -> None:
    for name, container_path, local, default in pod.outputs:
        try:
            value = local.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            if default is not None:
                outcome.parameters[name] = default
            elif outcome.phase == "Succeeded":
                # Argo's wait container fails to save the output: the node errors.
                outcome.phase = "Error"
                outcome.message = f"open {container_path}: {error.strerror or 'cannot read'}"
            continue
        outcome.parameters[name] = value[:-1] if value.endswith("\n") else value


def read_progress(path: Path | None) -> tuple[int, int] | None:
    """``done/total`` from an ``ARGO_PROGRESS_FILE`` (Argo's ``N/M`` format), or None."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None
