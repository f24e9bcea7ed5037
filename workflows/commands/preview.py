"""``kaleidoscope preview SPEC IMAGE -o sheet.png``: one image's variants on a contact sheet."""

from __future__ import annotations

from pathlib import Path

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.commands.common import add_spec_arguments, load_spec, positive_int


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("preview", help="render one image's variants as a labelled contact sheet")
    add_spec_arguments(parser)
    parser.add_argument("image", metavar="IMAGE", help="a local image file")
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--max-tiles", type=positive_int, default=64, help="most variants shown (default 64)")
    parser.set_defaults(handler=run)


def write_preview(spec, image_path: Path, output: Path, max_tiles: int = 64) -> int:
    from kaleidoscope.steps import imageio, preview  # OpenCV only when a sheet is drawn
    from kaleidoscope.steps.storage import LocalStorage

    try:
        data = image_path.read_bytes()
    except OSError as error:
        raise InvalidInput(f"{image_path}: cannot read the image: {error.strerror or error}") from None
    try:
        sheet = preview.contact_sheet(spec, data, image_path.name, max_tiles=max_tiles)
    except imageio.ImageError as error:
        raise InvalidInput(f"{image_path}: {error}") from None
    output = output.resolve()
    LocalStorage(output.parent).write(output.name, imageio.encode(sheet, "png"))
    return len(sheet)


def run(args) -> int:
    spec = load_spec(args)
    write_preview(spec, Path(args.image), Path(args.output), args.max_tiles)
    print(f"wrote {args.output}")
    return 0
