"""``kaleidoscope run SPEC``: render the Workflow for the spec and run that very manifest here.

The same object ``argo submit`` would take goes through the local executor: the shard, augment
and manifest pods become local processes (shards in parallel), wired by the workflow's own
parameters, ``withParam`` fan-out, output parameters and retries.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from kaleidoscope.steps.errors import KaleidoscopeError
from kaleidoscope.steps.spec import Spec
from kaleidoscope.workflows.commands.common import add_spec_arguments, load_spec, positive_int


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("run", help="augment a dataset on this machine (runs the rendered Workflow)")
    add_spec_arguments(parser)
    parser.add_argument("--workers", type=positive_int, help="shards augmented at once (default: cores)")
    parser.add_argument(
        "--incremental", action="store_true", help="process only sources not yet in the destination's manifest"
    )
    parser.add_argument("--workdir", help="keep every node's folder (logs, outputs) here")
    parser.set_defaults(handler=run)


def _absolute(location: str) -> str:
    # Nodes run in private working folders, so a relative folder must be made absolute here.
    if urlparse(location).scheme in ("s3", "file"):
        return location
    return str(Path(location).expanduser().resolve())


def execute(
    spec: Spec,
    *,
    workers: int | None = None,
    incremental: bool = False,
    s3_endpoint: str = "",
    workdir: str | None = None,
    show_progress: bool = True,
) -> dict:
    """Render the Workflow for ``spec`` and run it on this machine.

    Returns:
        The manifest step's outputs (``inputs``, ``outputs``, ``failed``, ``manifest``,
        ``summary``) plus ``run_id`` and ``seconds``.

    Raises:
        KaleidoscopeError: the workflow failed; the message names the failed nodes and their
            last lines of output.
    """
    from kaleidoscope.workflows import builder, executor
    from kaleidoscope.workflows.argo_options import BuildOptions

    cores = os.cpu_count() or 1
    workers = workers or cores
    document = {**spec.document, "source": _absolute(spec.source), "destination": _absolute(spec.destination)}
    options = BuildOptions(
        # Credentials on this machine come from its own environment (as IRSA would in a pod).
        s3_secret=None,
        # Retries as on a cluster, with a short backoff: nobody waits minutes at a terminal.
        retries=2,
        retry_backoff="1s",
        parallelism=workers,
        threads=max(1, cores // workers),
    )
    manifest = builder.manifest(builder.workflow(json.dumps(document, ensure_ascii=False), options))
    started = time.monotonic()
    result = executor.execute(
        manifest,
        {"incremental": str(incremental).lower(), "s3-endpoint": s3_endpoint},
        workdir=workdir,
        show_progress=show_progress,
    )
    if result.phase != "Succeeded":
        raise KaleidoscopeError(_failure(result))
    outputs = {name: result.outputs[name] for name in ("inputs", "outputs", "failed", "manifest", "summary")}
    for name in ("inputs", "outputs", "failed"):
        outputs[name] = int(outputs[name])
    outputs["run_id"] = result.uid
    outputs["seconds"] = round(time.monotonic() - started, 2)
    return outputs


def _failure(result) -> str:
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


def run(args) -> int:
    spec = load_spec(args)
    result = execute(
        spec,
        workers=args.workers,
        incremental=args.incremental,
        s3_endpoint=args.s3_endpoint,
        workdir=args.workdir,
        show_progress=True,
    )
    print(
        f"{result['outputs']} images from {result['inputs']} inputs ({result['failed']} failed) "
        f"in {result['seconds']} s\nmanifest: {result['manifest']}\nsummary:  {result['summary']}",
        file=sys.stdout,
    )
    return 0
