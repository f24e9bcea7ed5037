"""``kaleidoscope render SPEC --kind workflow|workflowtemplate|cronworkflow``: print the Argo manifest.

The same YAML as the builder's :func:`~workflows.builder.render` (and the files committed in
``workflows/``); ``argo submit`` takes it as is. The outputs per image and, for a folder source
(or with ``--count``, any source), the total go to stderr, so stdout stays the YAML alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kaleidoscope.steps import spec as spec_module
from kaleidoscope.steps.errors import InvalidInput, KaleidoscopeError
from kaleidoscope.workflows import builder
from kaleidoscope.workflows.commands._build_flags import (
    add_build_arguments,
    add_schedule_arguments,
    build_options,
    cron_schedule,
    with_flags,
)
from kaleidoscope.workflows.commands.common import add_count_argument, configure_s3, outputs_line


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "render", help="print the Argo Workflow, WorkflowTemplate or CronWorkflow for a spec"
    )
    add_build_arguments(parser)
    parser.add_argument("--kind", choices=builder.KINDS, default="workflow", help="what to render (default workflow)")
    add_schedule_arguments(parser)
    parser.add_argument("-o", "--output", metavar="FILE", help="write the YAML to FILE instead of printing it")
    add_count_argument(parser)
    parser.set_defaults(handler=run)


def run(args) -> int:
    spec = Path(args.spec)
    try:
        text = builder.render(spec, args.kind, build_options(args), cron_schedule(args, args.kind))
    except InvalidInput as error:
        raise with_flags(error) from None
    # The source named by --source, else the spec's (a run may give another: -p source=...).
    # Counted before anything is written: a listing that fails leaves no manifest behind.
    parsed = spec_module.load(str(spec), source=args.source or None, destination=args.destination or None)
    if args.count:
        configure_s3(args)  # the s3-endpoint parameter's default: the endpoint a run would use
    counted = outputs_line(parsed, count=args.count)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as error:
            raise KaleidoscopeError(f"{args.output}: cannot write: {error.strerror or error}") from error
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    print(counted, file=sys.stderr)
    return 0
