"""``kaleidoscope step shard|augment|manifest``: the commands the Argo containers run.

Each reads the spec (a file or the text Argo passes as a parameter), works through storage,
and writes its small JSON result to ``--output`` for Argo to read as an output parameter:
nothing large goes through stdout, which Argo caps.
"""

from __future__ import annotations

import json
import os

from steps import augment, manifest, shard
from workflows.commands.common import add_spec_arguments, load_spec, positive_int


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("step", help="run one workflow step (what the containers run)")
    steps = parser.add_subparsers(dest="step", required=True, parser_class=type(parser))

    for name, help_text, handler in (
        ("shard", "list the source and write shard key lists", _shard),
        ("augment", "augment one shard", _augment),
        ("manifest", "merge the parts into manifest.jsonl and summary.json", _manifest),
    ):
        sub = steps.add_parser(name, help=help_text)
        add_spec_arguments(sub, positional=False)
        sub.add_argument("--run-id", required=True, help="identifies the run's work folder (Argo: workflow uid)")
        sub.add_argument("--output", help="file to write the step's JSON result to")
        if name == "augment":
            sub.add_argument("--shard", type=int, required=True, help="shard index, from the shard step")
            sub.add_argument("--threads", type=positive_int, help="worker threads (default: all cores)")
            sub.add_argument(
                "--progress-file",
                default=os.environ.get("ARGO_PROGRESS_FILE"),
                help="file to report done/total to (default: $ARGO_PROGRESS_FILE)",
            )
        sub.set_defaults(handler=handler)


def _emit(args, result) -> int:
    shard.write_output(args.output, result)
    if not args.output:
        print(json.dumps(result))
    return 0


def _shard(args) -> int:
    return _emit(args, shard.shard(load_spec(args), args.run_id))


def _augment(args) -> int:
    result = augment.augment_shard(
        load_spec(args), args.run_id, args.shard, threads=args.threads, progress_file=args.progress_file
    )
    return _emit(args, result)


def _manifest(args) -> int:
    return _emit(args, manifest.merge(load_spec(args), args.run_id))
