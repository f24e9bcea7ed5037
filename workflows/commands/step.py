"""``kaleidoscope step shard|augment|manifest``: the commands the Argo containers run.

Each reads the spec (a file or the text Argo passes as a parameter), works through storage,
and writes its small JSON result to ``--output`` for Argo to read as an output parameter:
nothing large goes through stdout, which Argo caps.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kaleidoscope.workflows.commands.common import (
    add_spec_arguments,
    boolean,
    load_spec,
    positive_int,
    run_id,
    seconds,
    spec_document,
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("step", help="run one workflow step (what the containers run)")
    steps = parser.add_subparsers(dest="step", required=True, parser_class=type(parser))

    for name, help_text, handler in (
        ("shard", "take the destination, list the source and plan the shards", _shard),
        ("augment", "augment one shard", _augment),
        ("manifest", "publish the run's manifest parts and summary.json, then clean up", _manifest),
    ):
        sub = steps.add_parser(name, help=help_text)
        add_spec_arguments(sub, positional=False)
        sub.add_argument(
            "--run-id",
            required=True,
            type=run_id,
            help="identifies the run and its work folder (Argo: the workflow's uid, then the call's name)",
        )
        sub.add_argument("--output", help="file to write the step's JSON result to")
        sub.add_argument(
            "--output-dir",
            help="folder to write each field of the result to, one file each (Argo output parameters)",
        )
        if name in ("shard", "manifest"):
            sub.add_argument(
                "--incremental",
                type=boolean,
                nargs="?",
                const=True,
                default=False,
                help="shard: skip sources already in the destination's manifest; manifest: add to it "
                "(must match what the shard step did) (true/false)",
            )
        if name == "shard":
            sub.add_argument(
                "--wait",
                type=seconds,
                default=0.0,
                help="seconds to wait for another run that holds the destination (default 0: refuse, exit 4)",
            )
        if name == "augment":
            sub.add_argument("--shard", type=int, required=True, help="shard index, from the shard step")
            sub.add_argument("--threads", type=positive_int, help="image threads (default: all cores)")
            sub.add_argument(
                "--io-threads", type=positive_int, help="download/upload threads (default: 16 for S3, 4 local)"
            )
            sub.add_argument(
                "--progress-file",
                default=os.environ.get("ARGO_PROGRESS_FILE"),
                help="file to report done/total to (default: $ARGO_PROGRESS_FILE)",
            )
        sub.set_defaults(handler=handler)


# Each step imports only its own module, inside its handler: a pod's start-up is on the workflow's
# critical path (shard, then augment, then manifest), and only augment needs OpenCV and numpy
# (~0.1 s of imports).


def _emit(args, result) -> int:
    from kaleidoscope.steps.runs import write_output

    write_output(args.output, result)
    if args.output_dir and isinstance(result, dict):
        folder = Path(args.output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for field, value in result.items():
            (folder / field).write_text(value if isinstance(value, str) else json.dumps(value))
    if not args.output and not args.output_dir:
        print(json.dumps(result))
    return 0


def _shard(args) -> int:
    from kaleidoscope.steps import shard

    return _emit(args, shard.shard(load_spec(args), args.run_id, incremental=args.incremental, wait=args.wait))


def _run_spec(args):
    """The spec and the run's record for the augment and manifest steps (:func:`runs.open_run`)."""
    from kaleidoscope.steps import runs

    return runs.open_run(spec_document(args), args.run_id)


def _augment(args) -> int:
    from kaleidoscope.steps import augment

    spec, record = _run_spec(args)
    result = augment.augment_shard(
        spec,
        args.run_id,
        args.shard,
        threads=args.threads,
        io_threads=args.io_threads,
        progress_file=args.progress_file,
        run_record=record,
    )
    return _emit(args, result)


def _manifest(args) -> int:
    from kaleidoscope.steps import manifest

    spec, record = _run_spec(args)
    return _emit(args, manifest.merge(spec, args.run_id, incremental=args.incremental, run_record=record))
