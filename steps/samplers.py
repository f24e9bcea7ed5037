"""Samplers: an operation's options -> its concrete params, drawn from a numpy generator.

:data:`SAMPLERS` has one sampler per operation of :data:`steps.operations.OPERATIONS`, under the
same name. Params are plain JSON values (float, int, str, list, dict), recorded in the manifest,
so a record reproduces its output exactly. Every draw goes through :func:`uniform` or
:func:`integers`, each consuming exactly one number, so making a range option fixed does not
shift later draws.

numpy only: no OpenCV, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Sampler = Callable[[np.random.Generator, Mapping[str, Any]], dict]


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


#: Operation name -> its sampler ``(rng, options with defaults filled) -> params``.
SAMPLERS: dict[str, Sampler] = {
    "rotate_zoom": _uniforms("angle"),
    "contrast": _uniforms("factor"),
    "brightness": _uniforms("delta"),
    "saturation": _uniforms("factor"),
    "flip_lr": _no_params,
    "noise": _sample_noise,
    "rotate": _sample_rotate,
    "hue": _uniforms("shift"),
    "flip_ud": _no_params,
    "crop": _sample_crop,
    "resize": _sample_resize,
    "blur": _uniforms("sigma"),
    "sharpen": _sample_sharpen,
    "grayscale": _no_params,
    "gamma": _uniforms("gamma"),
    "cutout": _sample_cutout,
    "jpeg_quality": _sample_jpeg,
}


def sample_normalize(rng: np.random.Generator, height: int, width: int, size: int) -> dict:
    """Samples ``normalize`` params: the largest square at a random position.

    Always draws exactly two uniforms (x then y), even when the image is
    already square, so the rng stream does not depend on the image shape.

    Args:
        rng: Random generator.
        height: Source image height (kept for the signature; the params are
            fractions and do not depend on it).
        width: Source image width (likewise).
        size: Output side in pixels.

    Returns:
        ``{"x": float, "y": float, "side": 1.0, "size": int}``.
    """
    del height, width
    x, y = float(rng.random()), float(rng.random())
    return {"x": x, "y": y, "side": 1.0, "size": int(size)}
