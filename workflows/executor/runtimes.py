"""Where a container or script node runs: ``process`` (a local process, the default) or
``podman`` (its template's image, :mod:`.container`).

A runtime loads and checks the manifest (:meth:`load`, :meth:`check`), is started before the
first node and closed after the last (:meth:`start`, :meth:`close`), and prepares and runs each
node attempt (:meth:`prepare`, :meth:`run`); :attr:`notes` says what it could not apply.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.executor import process
from kaleidoscope.workflows.executor.load import load
from kaleidoscope.workflows.executor.model import Workflow
from kaleidoscope.workflows.executor.process import Outcome, Pod, PodRequest
from kaleidoscope.workflows.executor.registry import Registry

NAMES = ("process", "podman")
DEFAULT = "process"


class Runtime(Protocol):
    name: str
    notes: list[str]

    def load(self, source, parameters: dict[str, str], registry: Registry) -> dict: ...
    def check(self, workflow: Workflow) -> None: ...
    def start(self, run_id: str, grace: float) -> None: ...
    def close(self) -> None: ...
    def prepare(self, request: PodRequest) -> Pod: ...
    def run(self, pod: Pod, stop: threading.Event, grace: float, stop_message) -> Outcome: ...


class Processes:
    """Each node a local process on this machine (:mod:`.process`)."""

    name = "process"

    def __init__(self) -> None:
        self.notes: list[str] = []

    def load(self, source, parameters: dict[str, str], registry: Registry) -> dict:
        return load(source, parameters, registry)

    def check(self, workflow: Workflow) -> None:
        pass

    def start(self, run_id: str, grace: float) -> None:
        pass

    def close(self) -> None:
        pass

    def prepare(self, request: PodRequest) -> Pod:
        return process.prepare(
            request.template,
            request.values,
            request.folder,
            request.volumes,
            request.secret,
            request.capture_result,
            request.deadline,
        )

    def run(self, pod: Pod, stop: threading.Event, grace: float, stop_message) -> Outcome:
        return process.run(pod, stop, grace, stop_message)


def of(name: str, host_folders: Iterable[str | Path] = ()) -> Runtime:
    """The runtime called ``name``.

    Raises:
        InvalidInput: an unknown name, host folders for the process runtime, or podman missing.
    """
    folders = list(host_folders)
    if name == "process":
        if folders:
            raise InvalidInput("host folders: only the podman runtime mounts folders; a process sees the whole machine")
        return Processes()
    if name == "podman":
        from kaleidoscope.workflows.executor.container import Podman

        return Podman(folders)
    raise InvalidInput(f"runtime: bad value {name!r}: must be one of {', '.join(NAMES)}")
