"""``kaleidoscope validate SPEC``: check a spec without doing any work."""

from __future__ import annotations

from kaleidoscope.workflows.commands.common import add_spec_arguments, load_spec


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("validate", help="check a spec; exit 2 listing every problem")
    add_spec_arguments(parser)
    parser.set_defaults(handler=run)


def run(args) -> int:
    spec = load_spec(args)
    print(
        f"{args.spec}: valid — {len(spec.transforms)} transforms, "
        f"{spec.outputs_per_image} outputs per image, {spec.output_format}"
    )
    return 0
