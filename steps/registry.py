"""The one table of augmentation operations.

Each ``Operation`` ties together the pure image function (``steps/ops.py``),
the options a user may set in the spec (JSON-schema fragments, each with a
``default`` and a ``description``, from which the docs are generated) and a
sampler that turns options into concrete, JSON-serialisable params.

Range options accept either a single number (a fixed value) or ``[low,
high]``; their fragments carry ``"x-range": true`` so the spec validator can
also check ``low <= high``, which JSON schema cannot express.

This module does no I/O.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from kaleidoscope.steps import ops

Sampler = Callable[[np.random.Generator, Mapping[str, Any]], dict]


@dataclass(frozen=True)
class Operation:
    """One augmentation operation.

    Attributes:
        name: Name used in specs and output paths.
        summary: One line for the generated list of operations.
        apply: Pure function ``(image, params) -> new image``.
        options: Option name -> JSON-schema (draft 2020-12) fragment with
            ``default`` and ``description``.
        sample: ``(rng, options with defaults filled) -> params``; params are
            plain Python values (float/int/str/list/dict).
    """

    name: str
    summary: str
    apply: Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]
    options: Mapping[str, dict]
    sample: Sampler


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
# Sampling helpers
# --------------------------------------------------------------------------


def _bounds(value: Any) -> tuple[Any, Any]:
    if isinstance(value, (list, tuple)):
        low, high = value
        return low, high
    return value, value


def uniform(rng: np.random.Generator, value: float | list[float]) -> float:
    """Draws a float from a fixed number or a ``[low, high]`` range.

    Always consumes exactly one draw, even for a fixed value, so turning one
    option from a range into a constant does not shift later draws.
    """
    low, high = _bounds(value)
    u = float(rng.random())
    return float(low) + (float(high) - float(low)) * u


def integers(rng: np.random.Generator, value: int | list[int]) -> int:
    """Draws an int from a fixed number or an inclusive ``[low, high]`` range.

    Consumes exactly one draw, like ``uniform`` (``Generator.integers`` would
    skip the draw for an empty range).
    """
    low, high = (int(v) for v in _bounds(value))
    u = float(rng.random())
    return min(high, low + math.floor(u * (high - low + 1)))


def _seed(rng: np.random.Generator) -> int:
    return integers(rng, [0, 2**31 - 1])


def _uniforms(*names: str) -> Sampler:
    """Sampler drawing ``uniform`` for each named option, in the given order."""

    def sample(rng: np.random.Generator, options: Mapping[str, Any]) -> dict:
        return {name: uniform(rng, options[name]) for name in names}

    return sample


def _no_params(rng: np.random.Generator, options: Mapping[str, Any]) -> dict:
    return {}


def _sample_rotate(rng: np.random.Generator, options: Mapping[str, Any]) -> dict:
    return {"angle": uniform(rng, options["angle"]), "border": str(options["border"])}


def _sample_noise(rng: np.random.Generator, options: Mapping[str, Any]) -> dict:
    kinds = list(options["kinds"])
    kind = kinds[integers(rng, [0, len(kinds) - 1])]
    return {"kind": str(kind), "amount": uniform(rng, options["amount"]), "seed": _seed(rng)}


def _sample_crop(rng: np.random.Generator, options: Mapping[str, Any]) -> dict:
    scale = uniform(rng, options["scale"])
    x, y = float(rng.random()), float(rng.random())
    return {"scale": scale, "x": x, "y": y}


def _sample_resize(rng: np.random.Generator, options: Mapping[str, Any]) -> dict:
    if options.get("size") is not None:
        return {"size": int(options["size"])}
    return {"scale": uniform(rng, options["scale"])}


def _sample_sharpen(rng: np.random.Generator, options: Mapping[str, Any]) -> dict:
    return {"amount": uniform(rng, options["amount"]), "sigma": uniform(rng, options["sigma"])}


def _sample_cutout(rng: np.random.Generator, options: Mapping[str, Any]) -> dict:
    boxes = []
    for _ in range(integers(rng, options["holes"])):
        size = uniform(rng, options["size"])
        x, y = float(rng.random()), float(rng.random())
        boxes.append({"x": x, "y": y, "size": size})
    return {"boxes": boxes, "fill": uniform(rng, options["fill"])}


def _sample_jpeg(rng: np.random.Generator, options: Mapping[str, Any]) -> dict:
    return {"quality": integers(rng, options["quality"])}


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------

_OPERATIONS = [
    # The six original operations first, then the rest.
    Operation(
        "rotate_zoom",
        "Rotate about the centre and zoom in just enough that no blank corner shows.",
        ops.rotate_zoom,
        {"angle": number_range(-180, 180, [-30, 30], "Rotation in degrees, positive is counter-clockwise.")},
        _uniforms("angle"),
    ),
    Operation(
        "contrast",
        "Scale contrast around mid-grey.",
        ops.contrast,
        {"factor": number_range(0, 10, [0.6, 1.4], "Contrast factor; 1 keeps the image, 0 gives flat grey.")},
        _uniforms("factor"),
    ),
    Operation(
        "brightness",
        "Add a constant brightness offset.",
        ops.brightness,
        {"delta": number_range(-1, 1, [-0.25, 0.25], "Offset as a fraction of full scale (255 or 65535).")},
        _uniforms("delta"),
    ),
    Operation(
        "saturation",
        "Scale colour saturation (no effect on grey images).",
        ops.saturation,
        {"factor": number_range(0, 10, [0.5, 1.5], "Saturation factor; 1 keeps the image, 0 gives grey.")},
        _uniforms("factor"),
    ),
    Operation(
        "flip_lr",
        "Mirror left-right.",
        ops.flip_lr,
        {},
        _no_params,
    ),
    Operation(
        "noise",
        "Add seeded gaussian, salt-and-pepper or speckle noise.",
        ops.noise,
        {
            "kinds": subset(
                list(ops.NOISE_KINDS),
                list(ops.NOISE_KINDS),
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
        _sample_noise,
    ),
    Operation(
        "rotate",
        "Rotate about the centre without zoom, filling the corners by a border mode.",
        ops.rotate,
        {
            "angle": number_range(-180, 180, [-15, 15], "Rotation in degrees, positive is counter-clockwise."),
            "border": choice(
                ["reflect", "replicate", "constant"],
                "reflect",
                "How the uncovered corners are filled: mirror, smear the edge, or black/transparent.",
            ),
        },
        _sample_rotate,
    ),
    Operation(
        "hue",
        "Rotate hue (no effect on grey images).",
        ops.hue,
        {"shift": number_range(-180, 180, [-18, 18], "Hue shift in degrees (8-bit images use 2-degree steps).")},
        _uniforms("shift"),
    ),
    Operation(
        "flip_ud",
        "Mirror top-bottom.",
        ops.flip_ud,
        {},
        _no_params,
    ),
    Operation(
        "crop",
        "Crop a random window with the same aspect ratio (the output is smaller).",
        ops.crop,
        {"scale": number_range(0.01, 1, [0.7, 0.9], "Window side as a fraction of the image side.")},
        _sample_crop,
    ),
    Operation(
        "resize",
        "Resize keeping the aspect ratio, by a factor or to a longest side.",
        ops.resize,
        {
            "scale": number_range(0.01, 10, 0.5, "Factor for both sides; ignored when size is set."),
            "size": {
                "description": "Target length of the longer side in pixels; overrides scale when set.",
                "default": None,
                "anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}],
            },
        },
        _sample_resize,
    ),
    Operation(
        "blur",
        "Gaussian blur.",
        ops.blur,
        {"sigma": number_range(0.1, 20, [0.5, 2.0], "Gaussian standard deviation in pixels.")},
        _uniforms("sigma"),
    ),
    Operation(
        "sharpen",
        "Sharpen with an unsharp mask.",
        ops.sharpen,
        {
            "amount": number_range(0, 10, [0.5, 1.5], "Strength; 0 keeps the image."),
            "sigma": number_range(0.1, 20, 1.0, "Blur radius in pixels that sets which details are boosted."),
        },
        _sample_sharpen,
    ),
    Operation(
        "grayscale",
        "Convert to grey, keeping the channel count.",
        ops.grayscale,
        {},
        _no_params,
    ),
    Operation(
        "gamma",
        "Apply a gamma curve.",
        ops.gamma,
        {"gamma": number_range(0.05, 10, [0.7, 1.5], "Exponent; above 1 darkens mid-tones, below 1 brightens.")},
        _uniforms("gamma"),
    ),
    Operation(
        "cutout",
        "Fill random square boxes with a constant colour.",
        ops.cutout,
        {
            "holes": int_range(1, 20, [1, 3], "Number of boxes."),
            "size": number_range(0.01, 1, [0.1, 0.25], "Box side as a fraction of the shorter image side."),
            "fill": number_range(0, 1, 0, "Fill value as a fraction of full scale (0 is black)."),
        },
        _sample_cutout,
    ),
    Operation(
        "jpeg_quality",
        "Round-trip through JPEG to add compression artefacts.",
        ops.jpeg_quality,
        {"quality": int_range(1, 100, [30, 90], "JPEG quality; lower means stronger artefacts.")},
        _sample_jpeg,
    ),
]

REGISTRY: dict[str, Operation] = {op.name: op for op in _OPERATIONS}


def get(name: str) -> Operation:
    """Returns the operation called ``name``.

    Raises:
        KeyError: If there is no such operation; the message lists the known ones.
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown operation {name!r}; known operations: {', '.join(REGISTRY)}") from None


def defaults(name: str) -> dict:
    """Returns ``{option: default}`` for operation ``name`` (a fresh copy)."""
    return {key: copy.deepcopy(fragment["default"]) for key, fragment in get(name).options.items()}
