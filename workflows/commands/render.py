"""``kaleidoscope render SPEC --kind workflow|workflowtemplate|cronworkflow``: print the Argo manifest.

The same YAML as the builder's :func:`~workflows.builder.render` (and the files committed in
``workflows/``); ``argo submit`` takes it as is.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kaleidoscope.steps.errors import InvalidInput, KaleidoscopeError
from kaleidoscope.workflows import builder
from kaleidoscope.workflows.commands._build_flags import (
    add_build_arguments,
    add_schedule_arguments,
    build_options,
    cron_schedule,
    with_flags,
)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "render", help="print the Argo Workflow, WorkflowTemplate or CronWorkflow for a spec"
    )
    add_build_arguments(parser)
    parser.add_argument("--kind", choices=builder.KINDS, default="workflow", help="what to render (default workflow)")
    add_schedule_arguments(parser)
    parser.add_argument("-o", "--output", metavar="FILE", help="write the YAML to FILE instead of printing it")
    parser.set_defaults(handler=run)


def run(args) -> int:
    spec = Path(args.spec)
    try:
        text = builder.render(spec, args.kind, build_options(args), cron_schedule(args, args.kind))
    except InvalidInput as error:
        raise with_flags(error) from None
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as error:
            raise KaleidoscopeError(f"{args.output}: cannot write: {error.strerror or error}") from error
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
