"""The podman runtime: each container or script node runs in its template's image, as its pod would.

``podman run`` in the foreground, one per node attempt, with:

- the template's ``image`` (never pulled: it must be on this machine, checked before the run),
  its ``command`` (else the image's entrypoint) and ``args`` (Kubernetes' rules: a ``command``
  replaces the image's ``ENTRYPOINT`` and ``CMD``), ``workingDir`` and ``env``
  (``secretKeyRef`` from the run's secrets), plus the machine's ``AWS_*`` variables, as a node's
  role (IRSA) gives a pod its credentials;
- the pod's and container's ``securityContext`` (:mod:`.security`);
- each ``emptyDir`` a folder of the node's private folder, mounted at its ``mountPath``; with a
  ``sizeLimit`` (or ``medium: Memory``) that folder is a tmpfs of that size (:mod:`.tmpfs`), so a
  write past the limit fails with ``ENOSPC``;
- ``resources.limits`` (``--cpus``, ``--memory`` without swap) where podman has the cgroup
  controller; what is not applied is said once per run (:attr:`Podman.notes`);
- a script's source at ``/argo/staging/script`` (read-only), appended to command and args as
  Argo does; ``ARGO_PROGRESS_FILE`` at ``/var/run/argo/progress``, both in the private folder;
- host networking (a node reaches a server on 127.0.0.1) and the pod's name as hostname;
- an init as PID 1 (``--init``, catatonit) that passes signals on to the command, as Argo's
  emissary does in a pod;
- the host folders the run was given (``host_folders``) at the same paths.

Stopping: a deadline or a stopped run is ``podman stop --time <grace>`` (SIGTERM, SIGKILL after
the grace period, as the kubelet). If the executor dies, a watchdog (:mod:`.reaper`) that outlives
it removes every container of the run, found by its label.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.executor import podman, process, security, tmpfs, variables
from kaleidoscope.workflows.executor.load import load
from kaleidoscope.workflows.executor.model import POD_KINDS, Workflow
from kaleidoscope.workflows.executor.process import NodeError, Outcome, Pod, PodRequest
from kaleidoscope.workflows.executor.registry import Registry
from kaleidoscope.workflows.rules.quantities import parse_bytes, parse_cpu

#: Where Argo's emissary puts a script template's source in the container.
SCRIPT_PATH = "/argo/staging/script"
#: Argo's folder for the progress file (``ARGO_PROGRESS_FILE``).
ARGO_FOLDER = "/var/run/argo"
#: Host variables every container gets (its own ``env`` wins): the machine's AWS credentials,
#: region and endpoint, as a node's IAM role reaches a pod's SDK on a cluster.
FORWARDED_PREFIXES = ("AWS_",)
_CONTAINER_NAME = "main"  # Argo's name for a template's container


@dataclass
class ContainerPod(Pod):
    #: Its tmpfs folders, unmounted once its outputs were read.
    mounted: list[Path] = field(default_factory=list)


class Podman:
    """The podman runtime for one run: :meth:`start` before the first node, :meth:`close` after."""

    name = "podman"

    def __init__(self, host_folders: Iterable[str | Path] = ()):
        self.host = podman.host()
        self.host_folders = [Path(folder) for folder in host_folders]
        #: What this run could not apply on this machine, each said once.
        self.notes: list[str] = []
        self._notes_lock = threading.Lock()
        self._tmpfs_problem = tmpfs.usable()
        self._init = podman.init_available()
        self._run_id = ""
        self._reaper: subprocess.Popen | None = None
        self._reaper_pipe: int | None = None

    # --- before the run -----------------------------------------------------------------------

    def load(self, source, parameters: dict[str, str], registry: Registry) -> dict:
        """The manifest, checked as for the process runtime, except that a container or script may
        leave out ``command``: its image's entrypoint runs, as in a pod."""
        return load(source, parameters, registry, in_image=True)

    def check(self, workflow: Workflow) -> None:
        """Refuse a pod template without an image, or with one that is not on this machine.

        Raises:
            InvalidInput: naming each template's ``image`` field.
        """
        problems = []
        for template, path in workflow.checked():
            for kind in POD_KINDS:
                if kind not in template:
                    continue
                image = template[kind].get("image")
                where = f"{path}.{kind}.image"
                if not isinstance(image, str) or not image.strip():
                    problems.append(f"{where}: required by the podman runtime: the node runs in its template's image")
                elif "{{" not in image and not podman.image_exists(image):
                    problems.append(
                        f"{where}: image '{image}' is not on this machine: the podman runtime never pulls "
                        f"(podman pull {image}, or build it)"
                    )
        missing = [folder for folder in self.host_folders if not folder.is_absolute()]
        problems += [f"host folder {folder}: must be an absolute path" for folder in missing]
        if problems:
            raise InvalidInput(problems)

    def start(self, run_id: str, grace: float) -> None:
        """Start the watchdog that removes this run's containers once the executor is gone."""
        self._run_id = run_id
        if self._tmpfs_problem:
            self.note(f"emptyDir sizeLimit not enforced: {self._tmpfs_problem}")
        if not self._init:
            self.note(
                "no init for podman --init (catatonit): a node's command is its container's PID 1, "
                "which the kernel spares SIGTERM unless it handles it (stops wait for the grace period)"
            )
        read_end, self._reaper_pipe = os.pipe()
        try:
            self._reaper = subprocess.Popen(
                [sys.executable, "-m", "kaleidoscope.workflows.executor.reaper", run_id, str(grace)],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # a kill of the executor's process group spares it
            )
        finally:
            os.close(read_end)

    def close(self) -> None:
        """The run ended: the watchdog sweeps once (normally finding nothing) and exits."""
        if self._reaper_pipe is not None:
            os.close(self._reaper_pipe)
            self._reaper_pipe = None

    def note(self, text: str) -> None:
        with self._notes_lock:
            if text not in self.notes:
                self.notes.append(text)

    # --- one node -----------------------------------------------------------------------------

    def prepare(self, request: PodRequest) -> Pod:
        """The ``podman run`` for one node attempt (its tmpfs folders mounted here).

        Raises:
            NodeError: a variable cannot be resolved, a secret is missing, or ``runAsNonRoot``
                refuses the image's user.
        """
        mounted: list[Path] = []
        try:
            return self._prepare(request, mounted)
        except BaseException:
            _unmount(mounted)
            raise

    def _prepare(self, request: PodRequest, mounted: list[Path]) -> Pod:
        template, folder = request.template, request.folder
        kind = "script" if "script" in template else "container"
        body = template[kind]

        def resolve(text) -> str:
            try:
                return variables.substitute(str(text), request.values)
            except (variables.Unresolved, variables.Absent, ValueError) as error:
                raise NodeError(str(error)) from None

        name = _container_name(f"{request.name}-{self._run_id[:8]}")
        image = resolve(body["image"])
        if not podman.image_exists(image):
            raise NodeError(f'Container image "{image}" is not present with pull policy of Never')
        applied = security.apply(
            security.pod_context(request.security_context, template),
            body.get("securityContext") or {},
            podman.image_user(image),
            _CONTAINER_NAME,
        )
        argo = folder / "argo"
        argo.mkdir(parents=True, exist_ok=True)
        argo.chmod(0o777)  # the container's user writes its progress file here
        flags = [
            "run",
            "--rm",
            f"--name={name}",
            f"--label={podman.RUN_LABEL}={self._run_id}",
            "--pull=never",
            "--network=host",
            f"--hostname={_hostname(request.name)}",
            "--log-driver=passthrough",  # the container's stdout and stderr are the node's files
            # Argo's emissary is a pod's PID 1 and passes SIGTERM on to the command; so does the init.
            *(["--init"] if self._init else []),
            *applied.flags,
            f"--volume={argo}:{ARGO_FOLDER}",
        ]
        mounts = self._volumes(body, request.volumes, folder, applied.fs_group, mounted)
        flags += [f"--volume={local}:{path}{':ro' if read_only else ''}" for path, local, read_only in mounts]
        flags += [f"--volume={host_folder}:{host_folder}" for host_folder in self.host_folders if host_folder.exists()]
        flags += self._limits(body.get("resources") or {})
        literal, secret_env = self._environment(body, resolve, request)
        flags += [f"--env={key}={value}" for key, value in literal.items()]
        flags += [f"--env={key}" for key in secret_env]  # values from podman's environment: not on its command line
        if body.get("workingDir"):
            flags.append(f"--workdir={resolve(body['workingDir'])}")
        environment = {**literal, **secret_env}
        command = [process.expand_k8s(resolve(word), environment) for word in body.get("command") or []]
        args = [process.expand_k8s(resolve(word), environment) for word in body.get("args") or []]
        if kind == "script":
            script = folder / "script"
            script.write_text(resolve(body["source"]), encoding="utf-8")
            script.chmod(0o755)
            flags.append(f"--volume={script}:{SCRIPT_PATH}:ro")
            args.append(SCRIPT_PATH)
        if command:
            flags.append(f"--entrypoint={json.dumps(command)}")
        outputs, copied = [], []
        for out in (template.get("outputs") or {}).get("parameters") or []:
            container_path = resolve(out["valueFrom"]["path"])
            local = _host_path(container_path, mounts)
            if local is None:  # on the container's own file system: copied out once it exited
                local = folder / "outputs" / out["name"]
                copied.append((container_path, local))
            default = out["valueFrom"].get("default")
            outputs.append((out["name"], container_path, local, None if default is None else resolve(default)))
        if copied:
            flags.remove("--rm")
        client_env = {**_podman_environment(), **secret_env}
        pod = ContainerPod(
            [*podman.command(*flags, image), *args],
            client_env,
            folder,
            folder,
            outputs,
            request.deadline,
            request.capture_result,
            argo / "progress",
        )
        pod.terminate = lambda client, grace: _stop(name, client, grace)
        pod.finish = lambda code: _finish(name, code, folder / "stderr", copied)
        pod.mounted = list(mounted)
        return pod

    def run(self, pod: Pod, stop: threading.Event, grace: float, stop_message) -> Outcome:
        try:
            return process.run(pod, stop, grace, stop_message)
        finally:
            _unmount(pod.mounted if isinstance(pod, ContainerPod) else [])

    def _volumes(
        self, body: dict, volumes: dict[str, dict], folder: Path, fs_group: int | None, mounted: list[Path]
    ) -> list[tuple[str, Path, bool]]:
        """``(mount path, host folder, read-only)`` per volume mount; each emptyDir made once."""
        made: dict[str, Path] = {}
        mounts = []
        for mount in body.get("volumeMounts") or []:
            volume = volumes[mount["name"]]["emptyDir"] or {}
            local = made.get(mount["name"])
            if local is None:
                local = made[mount["name"]] = folder / "mounts" / mount["name"]
                local.mkdir(parents=True, exist_ok=True)
                self._limit(volume, local, mounted)
                os.chmod(local, 0o777)  # Kubernetes' emptyDir mode: any user of the pod writes it
                if fs_group is not None:
                    os.chown(local, -1, fs_group)
                    os.chmod(local, 0o2777)
            mounts.append((mount["mountPath"].rstrip("/") or "/", local, bool(mount.get("readOnly"))))
        return mounts

    def _limit(self, volume: dict, local: Path, mounted: list[Path]) -> None:
        size = parse_bytes(str(volume["sizeLimit"])) if volume.get("sizeLimit") is not None else None
        if size is None and volume.get("medium") != "Memory":
            return  # a disk-backed emptyDir without a limit: a plain folder
        if self._tmpfs_problem:
            return  # said once, in start()
        tmpfs.mount(local, size)
        mounted.append(local)

    def _limits(self, resources: dict) -> list[str]:
        limits = resources.get("limits") or {}
        flags = []
        if limits.get("cpu") is not None:
            if "cpu" in self.host.cgroup_controllers:
                try:
                    cores = parse_cpu(str(limits["cpu"]))
                except ValueError as error:
                    raise NodeError(f"resources.limits.cpu: bad value: {error}") from None
                flags.append(f"--cpus={float(cores)}")
            else:
                self.note(
                    f"resources.limits.cpu not applied: podman has no cpu cgroup controller here ({self._cgroups()})"
                )
        if limits.get("memory") is not None:
            if "memory" in self.host.cgroup_controllers:
                memory = parse_bytes(str(limits["memory"]))
                flags += [f"--memory={memory}", f"--memory-swap={memory}"]  # a pod has no swap
            else:
                self.note(
                    f"resources.limits.memory not applied: podman has no memory cgroup controller here ({self._cgroups()})"
                )
        return flags

    def _cgroups(self) -> str:
        controllers = ", ".join(sorted(self.host.cgroup_controllers)) or "none"
        return f"cgroups {self.host.cgroup_version or 'unknown'}, controllers: {controllers}"

    def _environment(self, body: dict, resolve, request: PodRequest) -> tuple[dict[str, str], dict[str, str]]:
        """The container's variables: ``(literal, secret)``, secrets and forwarded credentials apart."""
        forwarded = {key: value for key, value in os.environ.items() if key.startswith(FORWARDED_PREFIXES)}
        literal: dict[str, str] = {"ARGO_PROGRESS_FILE": f"{ARGO_FOLDER}/progress"}
        secret: dict[str, str] = dict(forwarded)
        for entry in body.get("env") or []:
            source = (entry.get("valueFrom") or {}).get("secretKeyRef")
            literal.pop(entry["name"], None)
            secret.pop(entry["name"], None)
            if source:
                found = request.secret(resolve(source["name"]), resolve(source["key"]), bool(source.get("optional")))
                if found is not None:
                    secret[entry["name"]] = found
            else:
                literal[entry["name"]] = process.expand_k8s(resolve(entry.get("value", "")), {**secret, **literal})
        return literal, secret


def _podman_environment() -> dict[str, str]:
    # Podman's own environment (CONTAINERS_CONF, PATH for conmon and the OCI runtime); never the
    # executor's secrets.
    return {key: value for key, value in os.environ.items() if not key.startswith("KALEIDOSCOPE_SECRET_")}


def _host_path(container_path: str, mounts: list[tuple[str, Path, bool]]) -> Path | None:
    """The host file behind a container path inside a mounted volume (longest mount path first)."""
    for path, local, _ in sorted(mounts, key=lambda mount: -len(mount[0])):
        if container_path == path or container_path.startswith(path.rstrip("/") + "/"):
            return local / container_path[len(path) :].lstrip("/")
    return None


def _container_name(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", text).lstrip("-_.")[:200] or "node"


def _hostname(pod_name: str) -> str:
    # A pod's hostname is its name, cut to a DNS label as Kubernetes cuts it.
    return re.sub(r"[^a-z0-9-]", "-", pod_name.lower())[:63].strip("-") or "pod"


def _stop(name: str, client: subprocess.Popen, grace: float) -> int:
    """As the kubelet stops a container: SIGTERM, SIGKILL after ``grace`` seconds; the client's code."""
    stopped = subprocess.run(
        podman.command("stop", f"--time={max(0, round(grace))}", name),
        capture_output=True,
        stdin=subprocess.DEVNULL,
    )
    if stopped.returncode != 0:  # not created yet, or already gone: stop the client itself
        with contextlib.suppress(ProcessLookupError):
            client.terminate()
    try:
        return client.wait(timeout=grace + 10)
    except subprocess.TimeoutExpired:
        client.kill()
        return client.wait()


def _finish(name: str, code: int, stderr: Path, copied: list[tuple[str, Path]]) -> str | None:
    """Copy the outputs out of a container kept for them, remove it; podman's own error, if it failed."""
    for container_path, local in copied:
        local.parent.mkdir(parents=True, exist_ok=True)
        podman.query("cp", f"{name}:{container_path}", str(local))
    if copied:
        podman.query("rm", "--force", name)
    if code not in (125, 126, 127):  # podman's codes: it failed, or the command could not start
        return None
    try:
        text = stderr.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    last = [line for line in text.splitlines() if line.strip()][-1:]
    if last and last[0].startswith("Error: ") and (code == 125 or "OCI " in last[0]):
        return podman.last_error(last[0])
    return None


def _unmount(folders: list[Path]) -> None:
    for folder in folders:
        with contextlib.suppress(OSError):
            tmpfs.unmount(folder)
