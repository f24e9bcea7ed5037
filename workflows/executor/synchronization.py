"""Argo's mutexes, workflow-level and template-level, held on this machine as file locks.

Argo substitutes the workflow's variables into the workflow-level spec, ``synchronization``
included (``substituteGlobalVariables`` in workflow/controller/operator.go), then takes the
workflow's locks before its first node; a workflow that cannot get one stays Pending, its message
``Waiting for <namespace>/Mutex/<name> lock. Lock status: 0/1``, until the holder ends
(workflow/sync). A template's ``synchronization`` is substituted with the template's inputs and
taken when its node is about to start (``executeTemplate`` in operator.go, after the parallelism
check), by that node, and released when the node ends, retries included; the node waits Pending
meanwhile. A mutex's lock is named ``<namespace>/Mutex/<name>`` (``Database`` for a database
mutex), the namespace being the mutex's own or else the workflow's (lock_name.go). Argo's holder
of a lock is the workflow, or the node for a template's (``getHolderKey`` in
workflow/sync/sync_manager.go), and a holder is let in again only under the same key: a node whose
lock its workflow or an enclosing node already holds waits for itself forever. The runner fails
such a node at once instead (:meth:`Runner.execute`).

Here one process runs one workflow, so a lock is an ``flock`` on a file named by a hash of that
lock name, in a folder of this user's (``$KALEIDOSCOPE_LOCK_DIR``, else
``$XDG_RUNTIME_DIR/kaleidoscope-locks``, else ``<temp dir>/kaleidoscope-locks-<uid>``). The kernel
releases it when the holding process ends, killed or not, so a crashed run never leaves a stale
lock; the file descriptor is not inherited by the nodes' processes, so a node left running after
its executor was killed does not hold it either. A ``flock`` belongs to the open file, not the
process, so two nodes of one run wanting one template-level lock take turns as two runs do. A run removes the file as it releases the lock,
and a waiter that then finds its file gone opens the path anew, so no file is left behind. Several mutexes are taken in the order of their
names, so two workflows that want the same ones never hold one each and wait for the other.
Workflows run by another user, or on another machine, do not see these locks.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from kaleidoscope.steps.errors import KaleidoscopeError
from kaleidoscope.workflows.executor import variables
from kaleidoscope.workflows.executor.variables import to_text

#: Environment variable naming the folder of the lock files (tests give each run its own).
LOCK_DIR_VARIABLE = "KALEIDOSCOPE_LOCK_DIR"
#: How often a node waiting for a template-level lock tries it again.
POLL_SECONDS = 0.05


class LockNameError(ValueError):
    """A mutex whose name is empty once substituted: Argo fails such a workflow before it runs."""


def lock_names(synchronization: Mapping | None, values: Mapping[str, str], namespace: str) -> list[str]:
    """The names of the workflow's locks, ``<namespace>/Mutex/<name>``, sorted, each once.

    Args:
        synchronization: the workflow's ``spec.synchronization``, or a template's (checked at
            load: mutexes only).
        values: the workflow's variables (and a template's inputs); a tag none of them fills is
            left as written, as Argo leaves it (the load refuses such tags before anything runs).
        namespace: the workflow's namespace, for a mutex that names none.

    Raises:
        LockNameError: a mutex's name is empty once substituted.
    """
    names = set()
    for mutex in (synchronization or {}).get("mutexes") or []:
        resolved = variables.substitute_all(dict(mutex), values, keep=lambda tag: tag not in values)
        name = to_text(resolved.get("name"))
        if not name:
            raise LockNameError("Failed to acquire the synchronization lock. Invalid lock key: ResourceName is missing")
        kind = "Database" if resolved.get("database") in (True, "true") else "Mutex"
        names.add(f"{to_text(resolved.get('namespace')) or namespace}/{kind}/{name}")
    return sorted(names)


def lock_folder() -> Path:
    """This user's folder of lock files, made private (mode 0700) if it does not exist.

    Raises:
        KaleidoscopeError: it cannot be made, or it is not this user's own private folder
            (someone else could then take or release the locks).
    """
    configured = os.environ.get(LOCK_DIR_VARIABLE)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if configured:
        folder = Path(configured)
    elif runtime and Path(runtime).is_dir():
        folder = Path(runtime) / "kaleidoscope-locks"
    else:
        folder = Path(tempfile.gettempdir()) / f"kaleidoscope-locks-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        status = folder.stat()
    except OSError as error:
        raise KaleidoscopeError(f"{folder}: cannot make the folder of the workflow locks: {error}") from error
    if status.st_uid != os.getuid() or status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise KaleidoscopeError(
            f"{folder}: the folder of the workflow locks must be this user's and writable by no one else; "
            f"set {LOCK_DIR_VARIABLE} to another folder"
        )
    return folder


def lock_file(folder: Path, name: str) -> Path:
    """The file whose ``flock`` is the lock ``name`` (a hash: names hold ``/`` and any text)."""
    return folder / f"{hashlib.sha256(name.encode('utf-8')).hexdigest()[:32]}.lock"


class Locks:
    """The locks of one workflow run, or of one node: :meth:`acquire` before it starts,
    :meth:`release` after it ended."""

    def __init__(self, names: list[str], workflow: str):
        self.names = names
        self.workflow = workflow
        self._held: list[tuple[Path, int]] = []

    def acquire(self, on_wait: Callable[[str, str], None] | None = None, stop: threading.Event | None = None) -> bool:
        """Take every lock, waiting for each as long as another holder has it.

        Args:
            on_wait: called once per lock this run has to wait for, with the lock's name and
                what its file says of the holder, before the wait.
            stop: give up waiting once it is set (the run stopped), giving back what was taken;
                without it the wait blocks until the lock is free.

        Returns:
            Whether every lock was taken (always, without ``stop``).
        """
        if not self.names:
            return True
        folder = lock_folder()
        try:
            for name in self.names:
                held = self._take(lock_file(folder, name), name, on_wait, stop)
                if held is None:
                    self.release()
                    return False
                self._held.append(held)
        except BaseException:  # interrupted while waiting: give back what was taken
            self.release()
            raise
        return True

    def _take(
        self, path: Path, name: str, on_wait: Callable[[str, str], None] | None, stop: threading.Event | None
    ) -> tuple[Path, int] | None:
        said = False
        while True:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    taken = True
                except BlockingIOError:
                    if on_wait is not None and not said:
                        on_wait(name, _holder(descriptor))
                        said = True
                    # A thread cannot be woken from flock: with ``stop``, poll, so a stopped run
                    # stops waiting.
                    taken = stop is None
                    if taken:
                        fcntl.flock(descriptor, fcntl.LOCK_EX)
                # A holder removes the file as it releases it (no file is left behind): a lock
                # taken on a file no longer at this path is no lock, so try again.
                if taken and _same_file(descriptor, path):
                    # Who holds it, for the next run that has to wait (and for a person looking).
                    os.ftruncate(descriptor, 0)
                    os.pwrite(descriptor, f"{name}\nworkflow {self.workflow}, process {os.getpid()}\n".encode(), 0)
                    return path, descriptor
            except BaseException:
                os.close(descriptor)
                raise
            os.close(descriptor)
            if not taken and stop is not None and stop.wait(POLL_SECONDS):
                return None

    def release(self) -> None:
        """Give every lock back: remove its file while still holding it, then close it."""
        while self._held:
            path, descriptor = self._held.pop()
            try:
                if _same_file(descriptor, path):
                    path.unlink()
            except OSError:
                pass  # a file left behind is only reused by the next run
            finally:
                os.close(descriptor)  # releases the flock


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        here, there = os.fstat(descriptor), path.stat()
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _holder(descriptor: int) -> str:
    try:
        lines = os.pread(descriptor, 4096, 0).decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return lines[1] if len(lines) > 1 else ""
