"""Run a spec on this machine: render its Workflow and run that very manifest with the local
executor.

The same object ``argo submit`` would take goes through :mod:`workflows.executor`: the shard,
augment and manifest pods become local processes (shards in parallel), wired by the workflow's
own parameters, ``withParam`` fan-out, output parameters and retries. What ``kaleidoscope run``
and ``kaleidoscope demo`` call.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import stat
import time
from pathlib import Path
from urllib.parse import urlparse

from kaleidoscope.steps import claim, machine
from kaleidoscope.steps.errors import NOT_RETRIED, InvalidInput, KaleidoscopeError
from kaleidoscope.steps.locations import open_storage
from kaleidoscope.steps.spec import Spec
from kaleidoscope.workflows import executor, render_cache
from kaleidoscope.workflows.argo.describe import describe


def _absolute(location: str) -> str:
    # Nodes run in private working folders, so a relative folder must be made absolute here.
    if urlparse(location).scheme in ("s3", "file"):
        return location
    return str(Path(location).expanduser().resolve())


def run_locally(
    spec: Spec,
    *,
    workers: int | None = None,
    incremental: bool = False,
    s3_endpoint: str = "",
    workdir: str | None = None,
    show_progress: bool = True,
    wait_for_destination: float = 0.0,
    runtime: str = "process",
    image: str | None = None,
) -> dict:
    """Render the Workflow for ``spec`` and run it on this machine.

    Args:
        spec: The validated spec; a relative source or destination folder is taken from the
            current folder.
        workers: Shards augmented at once (default: the cores).
        incremental: Process only sources not yet in the destination's manifest.
        s3_endpoint: An S3-compatible endpoint URL (empty: AWS, or ``$AWS_ENDPOINT_URL_S3``).
        workdir: Keep every node's folder (logs, outputs) here instead of a temporary folder.
        show_progress: Report the nodes' progress on stderr.
        wait_for_destination: Seconds to wait for another run holding the destination before
            starting (after that the shard step refuses with exit 4).
        runtime: ``process`` (each step a local process) or ``podman`` (each step in the
            Workflow's image, as its pod runs on a cluster; local source and destination folders
            are mounted at their own paths, and the destination must be writable by the pods'
            user).
        image: The steps' image in the rendered Workflow (default: the release's).

    Returns:
        The manifest step's outputs (``inputs``, ``outputs``, ``failed``, ``manifest``,
        ``summary``) plus ``run_id`` and ``seconds``.

    Raises:
        KaleidoscopeError: the workflow failed; the message names the failed nodes and their
            last lines of output.
    """
    # The cores this process may use (its CPU affinity), not the machine's: a pinned run is sized
    # to its pins.
    cores = machine.usable_cores()
    workers = workers or cores
    document = {**spec.document, "source": _absolute(spec.source), "destination": _absolute(spec.destination)}
    # On one machine a shard is a process start (~0.3 s of imports) and nothing else buys: one
    # shard per worker. Shard counts decide neither output bytes nor records (the output hash
    # leaves them out), so the run writes what a cluster run of the same spec writes.
    document.pop("shard_size", None)
    document["shards"] = workers
    spec_text = json.dumps(document, ensure_ascii=False)
    threads = max(1, cores // workers)

    def render() -> dict:
        # Hera (~0.5 s to import) only when this render is not kept from an earlier run.
        from kaleidoscope.workflows import builder
        from kaleidoscope.workflows.argo.options import DEFAULT_IMAGE, BuildOptions

        options = BuildOptions(
            # Credentials on this machine come from its own environment (as IRSA would in a pod).
            s3_secret=None,
            # Retries as on a cluster, with a short backoff: nobody waits minutes at a terminal.
            retries=2,
            retry_backoff="1s",
            parallelism=workers,
            threads=threads,
            image=image or DEFAULT_IMAGE,
        )
        return builder.manifest(builder.workflow(spec_text, options))

    # The manifest depends on the spec only through the title and description it shows: the spec
    # itself is the `spec` parameter, given below as `argo submit -p spec=...` gives it. So a run
    # reuses the manifest any earlier run with the same words rendered, whatever its seed,
    # options or locations.
    words = describe(dataclasses.replace(spec, shards=workers, shard_size=None), None, incremental=False)
    key = {"local-run": words, "workers": workers, "threads": threads, **({"image": image} if image else {})}
    manifest = render_cache.manifest(key, render)
    host_folders = _host_folders(document, runtime)
    if runtime != "process" and urlparse(document["destination"]).scheme != "s3":
        _check_writable_by_pods(host_folders[-1], manifest)
    if wait_for_destination > 0:
        claim.wait_until_free(open_storage(document["destination"]), wait_for_destination)
    started = time.monotonic()
    # The steps' claim on the destination names this process as the run's owner: if it dies,
    # the next run on this machine takes the destination over at once.
    previous_owner = os.environ.get(claim.OWNER_ENV)
    os.environ[claim.OWNER_ENV] = str(os.getpid())
    try:
        result = executor.execute(
            manifest,
            {
                "spec": spec_text,
                "incremental": str(incremental).lower(),
                "s3-endpoint": s3_endpoint,
                "source": document["source"],
                "destination": document["destination"],
            },
            workdir=workdir,
            show_progress=show_progress,
            runtime=runtime,
            host_folders=host_folders,
        )
    finally:
        if previous_owner is None:
            os.environ.pop(claim.OWNER_ENV, None)
        else:
            os.environ[claim.OWNER_ENV] = previous_owner
    if result.stopped_by is not None:
        name = signal.Signals(result.stopped_by).name
        where = f"; node logs in {result.folder}" if result.folder else ""
        error = KaleidoscopeError(f"stopped by {name}: every running step was stopped{where}")
        error.exit_code = 128 + result.stopped_by
        raise error
    if result.phase != "Succeeded":
        error = KaleidoscopeError(_failure(result))
        # The failed step's own exit code (invalid input, permanent, destination busy) says more
        # than "the workflow failed"; anything else stays 1.
        codes = [node.exit_code for node in result.nodes if node.type == "Pod" and node.phase in ("Failed", "Error")]
        if codes and codes[-1] in NOT_RETRIED + (claim.DestinationBusy.exit_code,):
            error.exit_code = codes[-1]
        raise error
    # main's own outputs (the root node's): what a WorkflowTemplate's run, whose main lifts none
    # to the workflow's outputs, gives as well.
    outputs = result.root.outputs
    counts = {name: int(outputs[name]) for name in ("inputs", "outputs", "failed")}
    return {
        **counts,
        "manifest": outputs["manifest"],
        "summary": outputs["summary"],
        "run_id": f"{result.uid}-{result.root.inputs['name']}",
        "seconds": round(time.monotonic() - started, 2),
    }


def _host_folders(document: dict, runtime: str) -> list[str]:
    """The local folders the containers must see: the source, and the destination (made here, as
    its mount needs it to exist). None for the process runtime, which sees the whole machine."""
    if runtime == "process":
        return []
    folders = []
    for key in ("source", "destination"):
        location = document[key]
        if urlparse(location).scheme == "s3":
            continue
        path = Path(urlparse(location).path if location.startswith("file:") else location)
        if key == "destination":
            path.mkdir(parents=True, exist_ok=True)
        folders.append(str(path))
    return folders


def _check_writable_by_pods(destination: str, manifest: dict) -> None:
    """Refuse a local destination the pods' user (the Workflow's ``runAsUser``) cannot write.

    Raises:
        InvalidInput: naming the folder, its owner and mode, and the user.
    """
    context = manifest["spec"].get("securityContext") or {}
    user, group = context.get("runAsUser"), context.get("runAsGroup")
    if user is None or user == 0:
        return
    status = os.stat(destination)
    mode = status.st_mode
    if (
        (status.st_uid == user and mode & 0o300 == 0o300)
        or (status.st_gid == group and mode & 0o030 == 0o030)
        or mode & 0o003 == 0o003
    ):
        return
    raise InvalidInput(
        f"destination {destination}: not writable by the pods' user {user}:{group} (the Workflow's "
        f"runAsUser:runAsGroup; the folder is owned by {status.st_uid}:{status.st_gid}, mode "
        f"{stat.filemode(mode)}): chown {user}:{group} {destination}, or write to S3"
    )


def _failure(result: executor.WorkflowResult) -> str:
    """One line: the failed step's own error message (what `kaleidoscope step` printed)."""
    failed = [node for node in result.nodes if node.type == "Pod" and node.phase in ("Failed", "Error")]
    reason = result.message or result.phase
    if failed:
        last = failed[-1]
        own = [line.removeprefix("kaleidoscope: ") for line in last.stderr_tail if line.startswith("kaleidoscope: ")]
        reason = "; ".join(own) or (last.stderr_tail or last.stdout_tail or [last.message or last.phase])[-1]
        reason += f" (step {last.template}, {len(failed)} failed attempt{'s' if len(failed) > 1 else ''})"
    if result.folder:
        reason += f"; node logs in {result.folder}"
    return reason
