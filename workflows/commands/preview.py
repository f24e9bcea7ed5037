"""``kaleidoscope preview SPEC IMAGE -o sheet.png``: one image's variants on a contact sheet."""

from __future__ import annotations

from pathlib import Path

from kaleidoscope.workflows.commands.common import add_spec_arguments, load_spec, positive_int


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("preview", help="render one image's variants as a labelled contact sheet")
    add_spec_arguments(parser)
    parser.add_argument("image", metavar="IMAGE", help="a local image file")
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--max-tiles", type=positive_int, default=64, help="most variants shown (default 64)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from kaleidoscope.steps.preview import write_contact_sheet  # OpenCV only when a sheet is drawn

    write_contact_sheet(load_spec(args), Path(args.image), Path(args.output), max_tiles=args.max_tiles)
    print(f"wrote {args.output}")
    return 0
