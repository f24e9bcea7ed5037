"""The one table of augmentation operations: what a spec may name and set.

Each :class:`Operation` row declares an operation's name, its one-line summary and its options,
as JSON-schema fragments (each with a ``default`` and a ``description``) from which the spec's
schema and the docs are generated. The sampler that turns options into params
(:data:`steps.samplers.SAMPLERS`) and the image function that applies them
(:data:`steps.ops.FUNCTIONS`) are keyed by the same names; a test keeps the three tables' keys
equal.

Range options accept either a single number (a fixed value) or ``[low, high]``; their fragments
carry ``"x-range": true`` so the spec validator can also check ``low <= high``, which JSON
schema cannot express.

Pure Python, no I/O: validating a spec imports neither numpy nor OpenCV.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The noise kinds ``noise`` draws from; its image function refuses any other.
NOISE_KINDS = ("gauss", "salt_pepper", "speckle")
#: How ``rotate`` fills the uncovered corners.
BORDERS = ("reflect", "replicate", "constant")


@dataclass(frozen=True)
class Operation:
    """One augmentation operation, as a spec sees it.

    Attributes:
        name: Name used in specs and output paths.
        summary: One line for the generated list of operations.
        options: Option name -> JSON-schema (draft 2020-12) fragment with ``default`` and
            ``description``.
    """

    name: str
    summary: str
    options: Mapping[str, dict]


# --------------------------------------------------------------------------
# Schema fragment builders
# --------------------------------------------------------------------------


def _range(item: dict, default: Any, description: str) -> dict:
    return {
        "description": description,
        "default": default,
        "x-range": True,
        "anyOf": [item, {"type": "array", "items": item, "minItems": 2, "maxItems": 2}],
    }


def number_range(minimum: float, maximum: float, default: float | list[float], description: str) -> dict:
    """Fragment for a number or a ``[low, high]`` range within ``[minimum, maximum]``.

    Args:
        minimum: Smallest allowed value.
        maximum: Largest allowed value.
        default: A number or a two-item list.
        description: Text for the docs.

    Returns:
        A JSON-schema fragment marked ``"x-range": true``.
    """
    return _range({"type": "number", "minimum": minimum, "maximum": maximum}, default, description)


def int_range(minimum: int, maximum: int, default: int | list[int], description: str) -> dict:
    """Like ``number_range`` but for integers (ranges are inclusive)."""
    return _range({"type": "integer", "minimum": minimum, "maximum": maximum}, default, description)


def choice(values: list[str], default: str, description: str) -> dict:
    """Fragment for one string out of ``values``."""
    return {"description": description, "default": default, "enum": list(values)}


def subset(values: list[str], default: list[str], description: str) -> dict:
    """Fragment for a non-empty list of distinct strings out of ``values``."""
    return {
        "description": description,
        "default": list(default),
        "type": "array",
        "items": {"enum": list(values)},
        "minItems": 1,
        "uniqueItems": True,
    }


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------

_OPERATIONS = [
    # The six original operations first, then the rest.
    Operation(
        "rotate_zoom",
        "Rotate about the centre and zoom in just enough that no blank corner shows.",
        {"angle": number_range(-180, 180, [-30, 30], "Rotation in degrees, positive is counter-clockwise.")},
    ),
    Operation(
        "contrast",
        "Scale contrast around mid-grey.",
        {"factor": number_range(0, 10, [0.6, 1.4], "Contrast factor; 1 keeps the image, 0 gives flat grey.")},
    ),
    Operation(
        "brightness",
        "Add a constant brightness offset.",
        {"delta": number_range(-1, 1, [-0.25, 0.25], "Offset as a fraction of full scale (255 or 65535).")},
    ),
    Operation(
        "saturation",
        "Scale colour saturation (no effect on grey images).",
        {"factor": number_range(0, 10, [0.5, 1.5], "Saturation factor; 1 keeps the image, 0 gives grey.")},
    ),
    Operation("flip_lr", "Mirror left-right.", {}),
    Operation(
        "noise",
        "Add seeded gaussian, salt-and-pepper or speckle noise.",
        {
            "kinds": subset(
                list(NOISE_KINDS),
                list(NOISE_KINDS),
                "Noise kinds to choose from; one is picked at random per image.",
            ),
            "amount": number_range(
                0,
                1,
                [0.02, 0.08],
                "Standard deviation as a fraction of full scale (gauss, speckle) "
                "or fraction of pixels hit (salt_pepper).",
            ),
        },
    ),
    Operation(
        "rotate",
        "Rotate about the centre without zoom, filling the corners by a border mode.",
        {
            "angle": number_range(-180, 180, [-15, 15], "Rotation in degrees, positive is counter-clockwise."),
            "border": choice(
                list(BORDERS),
                "reflect",
                "How the uncovered corners are filled: mirror, smear the edge, or black/transparent.",
            ),
        },
    ),
    Operation(
        "hue",
        "Rotate hue (no effect on grey images).",
        {"shift": number_range(-180, 180, [-18, 18], "Hue shift in degrees (8-bit images use 2-degree steps).")},
    ),
    Operation("flip_ud", "Mirror top-bottom.", {}),
    Operation(
        "crop",
        "Crop a random window with the same aspect ratio (the output is smaller).",
        {"scale": number_range(0.01, 1, [0.7, 0.9], "Window side as a fraction of the image side.")},
    ),
    Operation(
        "resize",
        "Resize keeping the aspect ratio, by a factor or to a longest side.",
        {
            "scale": number_range(0.01, 10, 0.5, "Factor for both sides; ignored when size is set."),
            "size": {
                "description": "Target length of the longer side in pixels; overrides scale when set.",
                "default": None,
                "anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}],
            },
        },
    ),
    Operation(
        "blur",
        "Gaussian blur.",
        {"sigma": number_range(0.1, 20, [0.5, 2.0], "Gaussian standard deviation in pixels.")},
    ),
    Operation(
        "sharpen",
        "Sharpen with an unsharp mask.",
        {
            "amount": number_range(0, 10, [0.5, 1.5], "Strength; 0 keeps the image."),
            "sigma": number_range(0.1, 20, 1.0, "Blur radius in pixels that sets which details are boosted."),
        },
    ),
    Operation("grayscale", "Convert to grey, keeping the channel count.", {}),
    Operation(
        "gamma",
        "Apply a gamma curve.",
        {"gamma": number_range(0.05, 10, [0.7, 1.5], "Exponent; above 1 darkens mid-tones, below 1 brightens.")},
    ),
    Operation(
        "cutout",
        "Fill random square boxes with a constant colour.",
        {
            "holes": int_range(1, 20, [1, 3], "Number of boxes."),
            "size": number_range(0.01, 1, [0.1, 0.25], "Box side as a fraction of the shorter image side."),
            "fill": number_range(0, 1, 0, "Fill value as a fraction of full scale (0 is black)."),
        },
    ),
    Operation(
        "jpeg_quality",
        "Round-trip through JPEG to add compression artefacts.",
        {"quality": int_range(1, 100, [30, 90], "JPEG quality; lower means stronger artefacts.")},
    ),
]

OPERATIONS: dict[str, Operation] = {op.name: op for op in _OPERATIONS}


def get(name: str) -> Operation:
    """Returns the operation called ``name``.

    Raises:
        KeyError: If there is no such operation; the message lists the known ones.
    """
    try:
        return OPERATIONS[name]
    except KeyError:
        raise KeyError(f"unknown operation {name!r}; known operations: {', '.join(OPERATIONS)}") from None


def defaults(name: str) -> dict:
    """Returns ``{option: default}`` for operation ``name`` (a fresh copy)."""
    return {key: copy.deepcopy(fragment["default"]) for key, fragment in get(name).options.items()}
