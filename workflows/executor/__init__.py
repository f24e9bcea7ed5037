"""A local executor for Argo Workflow manifests: the manifest ``argo submit`` takes, run here.

It knows Argo manifests, processes and containers (never storage): each container or script node
runs as a local process, or with ``runtime="podman"`` in its template's image. ``load`` checks a manifest and refuses, naming the place, what it
cannot run; ``execute`` runs one and returns its :class:`WorkflowResult`::

    from kaleidoscope.workflows.executor import execute, format_tree
    result = execute(manifest, {"message": "hi"})
    print(format_tree(result))
    result.phase                          # "Succeeded", "Failed" or "Error"
    result.node("generate").outputs       # a task's or step's output parameters

WorkflowTemplates and ClusterWorkflowTemplates the manifest refers to (``templateRef``,
``workflowTemplateRef``) are given with it: ``execute(manifest, templates=["templates.yaml"])``,
or a :class:`Registry` built once for several runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from kaleidoscope.workflows.executor import runtimes, synchronization
from kaleidoscope.workflows.executor import secrets as secrets_module
from kaleidoscope.workflows.executor.load import load
from kaleidoscope.workflows.executor.model import Workflow
from kaleidoscope.workflows.executor.nodes import Node, WorkflowResult
from kaleidoscope.workflows.executor.registry import Registry
from kaleidoscope.workflows.executor.report import Progress, format_tree
from kaleidoscope.workflows.executor.runner import WORKFLOW_HOLDER, Runner
from kaleidoscope.workflows.executor.variables import to_text
from kaleidoscope.workflows.rules.durations import parse_argo

__all__ = ["Node", "Registry", "WorkflowResult", "execute", "format_tree", "load"]

#: Environment variable that scales every retry backoff (tests shorten waits with it).
BACKOFF_SCALE_VARIABLE = "KALEIDOSCOPE_BACKOFF_SCALE"
_WORKFLOW_PHASES = {
    "Succeeded": "Succeeded",
    "Skipped": "Succeeded",
    "Omitted": "Succeeded",
    "Failed": "Failed",
    "Error": "Error",
}


def execute(
    manifest: Mapping | str | Path,
    parameters: Mapping[str, object] | None = None,
    *,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
    workdir: Path | str | None = None,
    on_event: Callable[[Node], None] | None = None,
    show_progress: bool = True,
    progress_stream=None,
    progress_interval: float = 10.0,
    backoff_scale: float | None = None,
    grace_seconds: float = 5.0,
    templates: Registry | Iterable | str | Path | Mapping | None = None,
    runtime: str = runtimes.DEFAULT,
    host_folders: Iterable[str | Path] = (),
) -> WorkflowResult:
    """Run a Workflow (or WorkflowTemplate, CronWorkflow) manifest on this machine.

    Everything is checked before any node runs; the call returns when the workflow ended. A
    workflow-level mutex (``spec.synchronization.mutexes``) is taken once the parameters are
    substituted, before the first node, and released when the workflow ends: while another
    process on this machine holds it, the workflow waits, Pending, as Argo's would
    (:mod:`~kaleidoscope.workflows.executor.synchronization`). A template's mutexes are taken
    when its node is about to start and given back when it ended.

    Args:
        manifest: the manifest (a mapping, YAML text or a path).
        parameters: workflow parameters, like ``argo submit -p name=value`` (an undeclared name
            is added, as Argo does).
        secrets: ``{secret name: {key: value}}`` for ``secretKeyRef``; a missing key is then looked
            up in the environment variable ``KALEIDOSCOPE_SECRET_<NAME>_<KEY>``.
        workdir: folder for the nodes' private folders, kept afterwards. By default a temporary
            folder, deleted when the workflow succeeded and kept (``result.folder``) otherwise.
        on_event: called with a node each time one is created or finishes (from worker threads).
        show_progress: report progress on ``progress_stream`` (default stderr) while running.
        progress_interval: seconds between progress lines when the stream is not a terminal.
        backoff_scale: multiplies retry backoff durations (default: ``$KALEIDOSCOPE_BACKOFF_SCALE``
            or 1).
        grace_seconds: how long a stopped node may take to exit after SIGTERM before SIGKILL.
        templates: the WorkflowTemplates and ClusterWorkflowTemplates its ``templateRef`` and
            ``workflowTemplateRef`` name: a :class:`Registry`, or paths, YAML texts (a file or text
            may hold several documents) and mappings, one or a list. A reference to one not given
            is refused (InvalidInput), as Argo refuses it.
        runtime: where each container or script node runs: ``process`` (a local process) or
            ``podman`` (its template's image, as its pod would: :mod:`.container`). What the
            runtime could not apply on this machine is in ``result.warnings``.
        host_folders: host folders every container sees at the same path (podman runtime only).

    Raises:
        InvalidInput: the manifest cannot run (exit code 2); nothing ran.
    """
    given = {str(name): to_text(value) for name, value in (parameters or {}).items()}
    registry = Registry.of(templates)
    pods = runtimes.of(runtime, host_folders)
    workflow = Workflow(pods.load(manifest, given, registry), registry)
    secrets_module.check(workflow, secrets)
    pods.check(workflow)
    if backoff_scale is None:
        backoff_scale = float(os.environ.get(BACKOFF_SCALE_VARIABLE) or 1.0)
    keep = workdir is not None
    folder = Path(workdir).resolve() if workdir is not None else Path(tempfile.mkdtemp(prefix="kaleidoscope-workflow-"))
    folder.mkdir(parents=True, exist_ok=True)
    runner = Runner(
        workflow,
        given,
        secret_values=secrets,
        folder=folder,
        on_event=on_event,
        backoff_scale=backoff_scale,
        grace=grace_seconds,
        runtime=pods,
    )
    started = time.time()
    try:
        names = synchronization.lock_names(
            workflow.spec.get("synchronization"), runner.globals, runner.globals["workflow.namespace"]
        )
    except synchronization.LockNameError as error:
        runner.halt(str(error))  # as Argo: the workflow fails before any node
    else:
        locks = synchronization.Locks(names, runner.name)
        try:
            locks.acquire(lambda name, holder: _waiting(runner, name, holder, progress_stream, show_progress))
        except BaseException:  # interrupted while Pending, or no lock folder: nothing ran
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)
            raise
        runner.held_locks.update(dict.fromkeys(names, WORKFLOW_HOLDER))
        runner.on_lock_wait = lambda node, name, holder: _waiting(
            runner, name, holder, progress_stream, show_progress, node
        )
        try:
            progress = Progress(runner, progress_stream, progress_interval).start() if show_progress else None
            started = time.time()  # Argo's startedAt: when the workflow left Pending
            pods.start(runner.uid, grace_seconds)
            try:
                _run(runner, workflow)
            finally:
                pods.close()
                if progress:
                    progress.stop()
        finally:
            locks.release()
    if show_progress:
        for note in pods.notes:
            stream = progress_stream or sys.stderr
            stream.write(f"{pods.name} runtime: {note}\n")
            stream.flush()
    if runner.event_error is not None:  # the caller's callback failed: do not hide it
        raise runner.event_error
    runner.sort_children()
    root = runner.nodes.get(runner.name)
    phase = _WORKFLOW_PHASES.get(root.phase, "Failed") if root else "Failed"
    message = (root.message if root else runner.stop_reason) or ""
    exit_node = runner.exit_node
    if phase == "Succeeded" and exit_node is not None and exit_node.phase in ("Failed", "Error"):
        # Argo: a workflow whose main tree succeeded takes its exit handler's failure.
        phase, message = exit_node.phase, exit_node.message
    if not keep and phase == "Succeeded":
        shutil.rmtree(folder, ignore_errors=True)
        for node in runner.nodes.values():
            node.folder = None
    return WorkflowResult(
        name=runner.name,
        uid=runner.uid,
        phase=phase,
        message=message,
        started_at=started,
        finished_at=time.time(),
        parameters=dict(runner.parameters),
        outputs=dict(runner.global_outputs),
        nodes=_tree_order(runner),
        folder=None if not keep and phase == "Succeeded" else str(folder),
        stopped_by=runner.stopped_by,
        warnings=list(pods.notes),
    )


def _waiting(runner: Runner, name: str, holder: str, stream, show: bool, node: str | None = None) -> None:
    """Say once that the workflow (or one of its nodes) is Pending on a lock, in Argo's words."""
    if not show:
        return
    stream = stream or sys.stderr
    held = f" (held by {holder})" if holder else ""
    who = f"{runner.name}, node {node}" if node else runner.name
    stream.write(f"{who}: Pending: Waiting for {name} lock. Lock status: 0/1{held}\n")
    stream.flush()


class _Stopped(Exception):
    """SIGTERM or SIGINT reached the executor: stop the workflow as Argo stops one."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, _frame) -> None:
    raise _Stopped(signum)


@contextlib.contextmanager
def _stopped_by_signals():
    """SIGTERM and SIGINT raise :class:`_Stopped` in the main thread while the workflow runs.

    Python dies of an unhandled SIGTERM without running any cleanup, which would leave every
    node process (each in a session of its own, as a pod is) running under init.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, _raise_stopped) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _run(runner: Runner, workflow: Workflow) -> None:
    deadline_value = workflow.spec.get("activeDeadlineSeconds")
    deadline = time.monotonic() + parse_argo(deadline_value) if deadline_value is not None else None
    # An event, not Thread.join: a join that a signal interrupts can mark a running thread as
    # ended (CPython 3.11's _wait_for_tstate_lock releases the lock the thread still holds).
    finished = threading.Event()

    def entrypoint() -> None:
        try:
            runner.run_entrypoint()
            runner.run_exit_handler()
        finally:
            finished.set()

    thread = threading.Thread(target=entrypoint, daemon=True)
    with _stopped_by_signals():
        try:
            thread.start()
            while not finished.wait(timeout=0.1):
                if deadline is not None and time.monotonic() > deadline:
                    runner.halt("Step exceeded its deadline")
        except _Stopped as stopped:
            # As `argo stop`: running pods get SIGTERM, then SIGKILL after the grace period; the
            # nodes end Failed and the tree so far is the result.
            runner.stopped_by = stopped.signum
            runner.halt(f"Stopped by {stopped}")
            while True:
                try:
                    if finished.wait(timeout=0.1):
                        break
                except _Stopped:
                    continue  # a second signal while the nodes stop is this same stop


def _tree_order(runner: Runner) -> list[Node]:
    ordered: list[Node] = []
    # The main tree, then the exit handler's: two roots, as `argo get` lists them.
    pending = [node.id for node in (runner.exit_node, runner.nodes.get(runner.name)) if node is not None]
    while pending:
        node = runner.nodes[pending.pop()]
        ordered.append(node)
        pending.extend(reversed(node.children))
    return ordered
