"""``kaleidoscope run SPEC``: render the Workflow for the spec and run that very manifest here
(see :mod:`workflows.local`)."""

from __future__ import annotations

import sys

from kaleidoscope.workflows.commands.common import add_spec_arguments, load_spec, positive_int, seconds
from kaleidoscope.workflows.commands.run_workflow import add_runtime_argument
from kaleidoscope.workflows.local import run_locally


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("run", help="augment a dataset on this machine (runs the rendered Workflow)")
    add_spec_arguments(parser)
    parser.add_argument("--workers", type=positive_int, help="shards augmented at once (default: cores)")
    parser.add_argument(
        "--incremental", action="store_true", help="process only sources not yet in the destination's manifest"
    )
    parser.add_argument("--workdir", help="keep every node's folder (logs, outputs) here")
    parser.add_argument(
        "--wait-for-destination",
        type=seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another run that holds the destination (default 0: refuse, exit 4)",
    )
    add_runtime_argument(parser)
    parser.add_argument(
        "--image",
        metavar="REFERENCE",
        help="the steps' container image in the rendered Workflow (default: the release's); "
        "with --runtime podman it must be on this machine, e.g. built by images/build.sh",
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    spec = load_spec(args)
    result = run_locally(
        spec,
        workers=args.workers,
        incremental=args.incremental,
        s3_endpoint=args.s3_endpoint,
        workdir=args.workdir,
        show_progress=True,
        wait_for_destination=args.wait_for_destination,
        runtime=args.runtime,
        image=args.image,
    )
    print(
        f"{result['outputs']} images from {result['inputs']} inputs ({result['failed']} failed) "
        f"in {result['seconds']} s\nmanifest: {result['manifest']}\nsummary:  {result['summary']}",
        file=sys.stdout,
    )
    return 0
