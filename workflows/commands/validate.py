"""``kaleidoscope validate SPEC``: check a spec without doing any work.

It also prints the outputs per image and, for a folder source (or with ``--count``, any source),
how many images the run would take and the total outputs.
"""

from __future__ import annotations

from kaleidoscope.workflows.commands.common import add_count_argument, add_spec_arguments, load_spec, outputs_line


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("validate", help="check a spec; exit 2 listing every problem")
    add_spec_arguments(parser)
    add_count_argument(parser)
    parser.set_defaults(handler=run)


def run(args) -> int:
    spec = load_spec(args)
    counted = outputs_line(spec, count=args.count)  # first: a listing that fails prints no verdict
    print(
        f"{args.spec}: valid — {len(spec.transforms)} transforms, "
        f"{spec.outputs_per_image} outputs per image, {spec.output_format}"
    )
    print(counted)
    return 0
