"""A contact sheet of one image's variants, each tile captioned with its operations, so a user
sees what a chain does before paying for a million images."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from kaleidoscope.steps import imageio, naming
from kaleidoscope.steps.augment import images
from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.steps.spec import Spec
from kaleidoscope.steps.storage import LocalStorage

TILE = 192
CAPTION = 34
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _to_display(image: np.ndarray) -> np.ndarray:
    """8-bit BGR for the sheet, whatever the variant's depth and channels."""
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        return (image[:, :, :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return image


def _caption(tile: np.ndarray, text: str) -> None:
    # Long chains wrap over two lines at '+' so every label stays readable at tile width.
    words, lines, line = text.split("+"), [], ""
    for word in words:
        candidate = f"{line}+{word}" if line else word
        if cv2.getTextSize(candidate, FONT, 0.4, 1)[0][0] > TILE - 6 and line:
            lines.append(line + "+")
            line = word
        else:
            line = candidate
    lines.append(line)
    for number, content in enumerate(lines[:2]):
        cv2.putText(tile, content, (3, TILE + 13 + 14 * number), FONT, 0.4, (20, 20, 20), 1, cv2.LINE_AA)


def contact_sheet(spec: Spec, data: bytes, source_key: str, *, max_tiles: int = 64) -> np.ndarray:
    """Render the variants of one image (same parameters a run would sample for ``source_key``)."""
    _crop, _parameters, walk = images(spec, source_key, data)
    tiles: list[np.ndarray] = []
    for subset, variant in walk:
        if len(tiles) == max_tiles:
            break
        display = _to_display(variant)
        scale = TILE / max(display.shape[:2])
        display = cv2.resize(display, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        tile = np.full((TILE + CAPTION, TILE, 3), 255, np.uint8)
        tile[: display.shape[0], : display.shape[1]] = display
        _caption(tile, naming.subset_label([spec.transforms[index].label for index in subset]))
        tiles.append(tile)
    columns = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    sheet = np.full((rows * (TILE + CAPTION + 4) + 4, columns * (TILE + 4) + 4, 3), 230, np.uint8)
    for number, tile in enumerate(tiles):
        row, column = divmod(number, columns)
        top, left = 4 + row * (TILE + CAPTION + 4), 4 + column * (TILE + 4)
        sheet[top : top + tile.shape[0], left : left + tile.shape[1]] = tile
    return sheet


def write_contact_sheet(spec: Spec, image_path: Path, output: Path, *, max_tiles: int = 64) -> None:
    """Draw the contact sheet of a local image file and write it to ``output`` as a PNG.

    Args:
        spec: The transforms and their options.
        image_path: The image; its file name stands in for the source key that seeds the samplers.
        output: The PNG file to write (atomically).
        max_tiles: Most variants shown.

    Raises:
        InvalidInput: the image cannot be read or decoded.
    """
    try:
        data = image_path.read_bytes()
    except OSError as error:
        raise InvalidInput(f"{image_path}: cannot read the image: {error.strerror or error}") from error
    try:
        sheet = contact_sheet(spec, data, image_path.name, max_tiles=max_tiles)
    except imageio.ImageError as error:
        raise InvalidInput(f"{image_path}: {error}") from error
    output = output.resolve()
    LocalStorage(output.parent).write(output.name, imageio.encode(sheet, "png"))
