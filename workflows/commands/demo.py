"""``kaleidoscope demo [FOLDER]``: a demo job on real photographs, end to end.

Writes scikit-image's bundled photographs (the ``demo`` extra) into ``FOLDER/photos``, a spec
with the original project's six transforms into ``FOLDER/demo-spec.yaml``, runs it into
``FOLDER/augmented`` and draws ``FOLDER/preview.png`` for the first photo.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from kaleidoscope.steps.errors import KaleidoscopeError
from kaleidoscope.steps.spec import load
from kaleidoscope.workflows.local import run_locally

#: scikit-image sample names: colour photographs of different sizes and aspect ratios.
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "retina", "immunohistochemistry")

DEMO_SPEC = {
    "source": "photos",
    "destination": "augmented",
    "seed": 7,
    "normalize": {"size": 400},
    "transforms": ["rotate_zoom", "contrast", "brightness", "saturation", "flip_lr", "noise"],
    "output": {"format": "jpg", "quality": 90},
    "shards": 4,
}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="augment scikit-image's sample photographs (needs the demo extra)")
    parser.add_argument("folder", nargs="?", default="demo-out", help="where to put everything (default demo-out)")
    parser.set_defaults(handler=run)


def write_photos(folder: Path) -> list[Path]:
    try:
        import skimage.data
    except ImportError as error:
        raise KaleidoscopeError("the demo needs scikit-image: pip install 'kaleidoscope[demo]'") from error
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in PHOTOS:
        rgb = getattr(skimage.data, name)()
        path = folder / f"{name}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        written.append(path)
    return written


def run(args) -> int:
    from kaleidoscope.steps.preview import write_contact_sheet  # OpenCV, like write_photos: not at import

    folder = Path(args.folder).resolve()
    photos = write_photos(folder / "photos")
    spec_path = folder / "demo-spec.yaml"
    document = {**DEMO_SPEC, "source": str(folder / "photos"), "destination": str(folder / "augmented")}
    spec_path.write_text(yaml.safe_dump(document, sort_keys=False))
    spec = load(str(spec_path))
    result = run_locally(spec)
    write_contact_sheet(spec, photos[0], folder / "preview.png")
    print(
        f"{result['outputs']} images from {result['inputs']} photos in {result['seconds']} s\n"
        f"spec:     {spec_path}\nimages:   {folder / 'augmented'}\nmanifest: {result['manifest']}\n"
        f"preview:  {folder / 'preview.png'}"
    )
    return 0
