"""Pure image operations used by the transform tree.

Every operation has the signature ``fn(image, params) -> new_image`` and
obeys the same contract (``steps/operations.py`` declares the options users
set, ``steps/samplers.py`` turns them into ``params``; :data:`FUNCTIONS` maps
each operation's name to its function here):

* ``image`` is ``uint8`` or ``uint16`` with shape ``(H, W)`` (grey),
  ``(H, W, 3)`` (BGR) or ``(H, W, 4)`` (BGRA). The result has the same dtype
  and channel layout; only the geometric ops ``crop`` and ``resize`` change
  ``H`` and ``W``.
* The input is never modified and the result never shares memory with it:
  a parent image in the tree is reused for all of its child subsets.
* Results depend only on ``(image, params)``. Randomness (noise) is seeded
  from ``params["seed"]``; everything else random is drawn by the sampler and
  stored in ``params``, so a params record reproduces an output exactly.
* Intensities given in params (brightness delta, noise amount, fill values)
  are fractions of full scale (255 or 65535), so one spec serves both depths.
* Colour ops touch the colour channels only; alpha passes through unchanged.
  Geometric ops move alpha together with the colour.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

import cv2
import numpy as np

from kaleidoscope.steps.operations import NOISE_KINDS

Params = Mapping[str, Any]
ImageFunction = Callable[[np.ndarray, Params], np.ndarray]

_BORDERS = {
    # REFLECT_101 (gfedcb|abcdefg) rather than REFLECT (fedcba|abcdefg): it
    # does not duplicate the edge pixel, so no visible seam.
    "reflect": cv2.BORDER_REFLECT_101,
    "replicate": cv2.BORDER_REPLICATE,
    "constant": cv2.BORDER_CONSTANT,
}


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def full_scale(dtype: np.dtype | type) -> int:
    """Returns the largest value of a supported image dtype (255 or 65535).

    Raises:
        TypeError: If the dtype is neither uint8 nor uint16.
    """
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return 255
    if dtype == np.uint16:
        return 65535
    raise TypeError(f"unsupported image dtype {dtype}; expected uint8 or uint16")


def _check(image: np.ndarray) -> None:
    full_scale(image.dtype)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        raise ValueError(f"unsupported image shape {image.shape}; expected (H, W), (H, W, 3) or (H, W, 4)")


def _to_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Rounds and clips float values into ``dtype`` (in place on ``values``)."""
    np.rint(values, out=values)
    np.clip(values, 0, full_scale(dtype), out=values)
    return values.astype(dtype)


def _contrast_curve(levels: np.ndarray, factor: float, top: int) -> np.ndarray:
    mid = top / 2
    return (levels.astype(np.float32) - mid) * factor + mid


def _brightness_curve(levels: np.ndarray, delta: float, top: int) -> np.ndarray:
    return levels.astype(np.float32) + delta * top


def _gamma_curve(levels: np.ndarray, gamma: float, top: int) -> np.ndarray:
    # float64: numpy's float32 power differs in the last bit between CPUs (its AVX-512 code
    # is another approximation), which moved 16-bit table entries across a rounding edge;
    # float64's error is far below the rounding step, so the table is the same everywhere.
    return top * np.power(levels.astype(np.float64) / top, gamma)


#: Curve name -> ``(levels, value, top) -> float values``. contrast and brightness are
#: IEEE float32 sums and products, exactly rounded and the same on every CPU.
_CURVES: dict[str, Callable[[np.ndarray, float, int], np.ndarray]] = {
    "contrast": _contrast_curve,
    "brightness": _brightness_curve,
    "gamma": _gamma_curve,
}


@functools.lru_cache(maxsize=32)
def _curve_table(curve: str, value: float, dtype: str) -> tuple[np.ndarray, int | None]:
    """The lookup table of a tone curve over every value of ``dtype``, and its shift if it is one.

    Returns ``(table, shift)``: ``table[v]`` is the curve at ``v`` rounded half to even and
    clipped (read-only); ``shift`` is the integer ``k`` when ``table[v] == clip(v + k)`` for
    every ``v`` (always so for brightness unless an offset falls within float32 rounding of
    a half, and for the identity), else None. Cached: in the tree an operation's params repeat
    for every subset that ends in it.
    """
    top = full_scale(np.dtype(dtype))
    levels = np.arange(top + 1, dtype=np.int64)
    table = _to_dtype(_CURVES[curve](levels, value, top), np.dtype(dtype))
    k = int(table[0]) if table[0] > 0 else int(table[top]) - top
    shift = k if np.array_equal(table, np.clip(levels + k, 0, top)) else None
    table.flags.writeable = False
    return table, shift


def _has_alpha(image: np.ndarray) -> bool:
    return image.ndim == 3 and image.shape[2] == 4


def _on_colour(image: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` applied to the colour planes of ``image``; an alpha plane is kept unchanged.

    ``fn`` receives ``(H, W)`` or ``(H, W, 3)`` and returns a new array of that shape.
    """
    if _has_alpha(image):
        # OpenCV's channel copies: a strided numpy slice and np.dstack cost ~0.7 ms each
        # on a 400x400 image, ten times these.
        out = cv2.cvtColor(fn(cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)), cv2.COLOR_BGR2BGRA)
        cv2.mixChannels([image], [out], [3, 3])
        return out
    return fn(image)


def _colour_scalar(image: np.ndarray, value: float, alpha: float) -> Any:
    """A per-channel OpenCV scalar: ``value`` for the colour channels, ``alpha`` for BGRA's alpha.

    Always four values: OpenCV reads a scalar as one value per channel. (Typed ``Any``:
    OpenCV's stubs declare only arrays where its functions also take a scalar.)
    """
    return (value, value, value, alpha if _has_alpha(image) else value)


def _apply_curve(image: np.ndarray, curve: str, value: float) -> np.ndarray:
    """Applies a per-value tone curve to the colour channels through a lookup table.

    A table over every possible value (256 or 65536 entries) is cheaper than
    float maths on a 400x400 image and gives exactly the same rounding. A table
    that is a saturating shift (brightness) is applied as a saturating integer
    add or subtract of the whole image instead (0 on alpha), several times
    faster than the lookup and the same bytes: both are ``clip(v + k)``.
    """
    _check(image)
    table, shift = _curve_table(curve, float(value), image.dtype.str)
    if shift == 0:
        return image.copy()
    if shift is not None:
        scalar = _colour_scalar(image, float(abs(shift)), 0.0)
        return cv2.add(image, scalar) if shift > 0 else cv2.subtract(image, scalar)
    if image.dtype == np.uint8:
        return _on_colour(image, lambda colour: cv2.LUT(colour, table))
    # np.take is several times faster than fancy indexing for a 1-D table.
    return _on_colour(image, lambda colour: np.take(table, colour))


def _colour_only(fn: ImageFunction) -> ImageFunction:
    """Wraps a colour op so that it sees only the colour planes.

    The wrapped function receives ``(H, W)`` or ``(H, W, 3)`` and must return
    a new array of the same shape; an alpha plane is split off before and
    re-attached unchanged after.
    """

    @functools.wraps(fn)
    def wrapper(image: np.ndarray, params: Params) -> np.ndarray:
        _check(image)
        return _on_colour(image, lambda colour: fn(colour, params))

    return wrapper


#: The luma weights of OpenCV's BGR -> grey conversion (ITU-R BT.601), in B, G, R order.
_LUMA_BGR = (0.114, 0.587, 0.299)


def _has_colour(image: np.ndarray) -> bool:
    return image.ndim == 3


# --------------------------------------------------------------------------
# Geometric operations (alpha moves with the colour)
# --------------------------------------------------------------------------


def rotate_zoom_factor(angle: float, height: int, width: int) -> float:
    """Returns the smallest zoom that hides all corners after a rotation.

    The four output corners, mapped back into the source, must land inside
    the source's pixel-centre rectangle with half-extents ``a = (W-1)/2`` and
    ``b = (H-1)/2``; solving for both axes gives
    ``|cos| + max(a/b, b/a) * |sin|``.

    Args:
        angle: Rotation in degrees.
        height: Image height in pixels.
        width: Image width in pixels.

    Returns:
        The zoom factor (>= 1).
    """
    if height < 2 or width < 2:
        return 1.0
    a, b = (width - 1) / 2, (height - 1) / 2
    rad = math.radians(angle)
    return abs(math.cos(rad)) + max(a / b, b / a) * abs(math.sin(rad))


def rotate_zoom(image: np.ndarray, params: Params) -> np.ndarray:
    """Rotates about the centre and zooms in until no blank corner shows.

    Params:
        angle (float): Degrees, positive is counter-clockwise.

    The zoom is the minimum from ``rotate_zoom_factor``. Replicate borders are
    only a guard against sub-pixel rounding at the exact edge; with the exact
    zoom no sample falls outside the source.
    """
    _check(image)
    h, w = image.shape[:2]
    angle = float(params["angle"])
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, rotate_zoom_factor(angle, h, w))
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def rotate(image: np.ndarray, params: Params) -> np.ndarray:
    """Rotates about the centre without zoom; the corners are filled by ``border``.

    Params:
        angle (float): Degrees, positive is counter-clockwise.
        border (str): ``reflect`` (mirror without repeating the edge pixel),
            ``replicate`` (smear the edge) or ``constant`` (0 in every
            channel, so BGRA corners become transparent).
    """
    _check(image)
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), float(params["angle"]), 1.0)
    return cv2.warpAffine(
        image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=_BORDERS[params["border"]], borderValue=0
    )


def flip_lr(image: np.ndarray, params: Params) -> np.ndarray:
    """Mirrors left-right. Params: none."""
    _check(image)
    return cv2.flip(image, 1)


def flip_ud(image: np.ndarray, params: Params) -> np.ndarray:
    """Mirrors top-bottom. Params: none."""
    _check(image)
    return cv2.flip(image, 0)


def _window(length: int, span: int, position: float) -> int:
    """Start of a ``span``-long window placed at ``position`` (0..1) of the free room."""
    return round(float(position) * (length - span))


def crop(image: np.ndarray, params: Params) -> np.ndarray:
    """Cuts out a smaller window with the same aspect ratio.

    Params:
        scale (float): Side of the window as a fraction of the image side.
        x, y (float): Window position as a fraction (0..1) of the free room
            to the right/below, so any value in 0..1 keeps the window inside
            the image whatever its resolution.
    """
    _check(image)
    h, w = image.shape[:2]
    scale = float(params["scale"])
    cw, ch = max(1, round(w * scale)), max(1, round(h * scale))
    x0, y0 = _window(w, cw, params["x"]), _window(h, ch, params["y"])
    # Copy: a view would alias the parent image that siblings still use.
    return image[y0 : y0 + ch, x0 : x0 + cw].copy()


def _resize_to(image: np.ndarray, width: int, height: int) -> np.ndarray:
    # INTER_AREA averages source pixels when shrinking (no aliasing) but is
    # blocky when enlarging, where bilinear is the better choice.
    h, w = image.shape[:2]
    interp = cv2.INTER_AREA if width * height < w * h else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interp)


def resize(image: np.ndarray, params: Params) -> np.ndarray:
    """Resizes keeping the aspect ratio.

    Params (exactly one of):
        scale (float): Factor applied to both sides.
        size (int): Target length of the longer side.

    Uses INTER_AREA when shrinking and INTER_LINEAR when enlarging.
    """
    _check(image)
    h, w = image.shape[:2]
    if params.get("size") is not None:
        factor = int(params["size"]) / max(h, w)
    else:
        factor = float(params["scale"])
    return _resize_to(image, max(1, round(w * factor)), max(1, round(h * factor)))


def cutout(image: np.ndarray, params: Params) -> np.ndarray:
    """Fills square boxes with a constant (colour channels only; alpha is kept).

    Params:
        boxes (list[dict]): Each ``{"x", "y", "size"}``; ``size`` is the box
            side as a fraction of the shorter image side, ``x``/``y`` place
            the box at that fraction (0..1) of the free room along the width
            and height, so every box lies fully inside the image.
        fill (float): Fill value as a fraction of full scale.
    """
    _check(image)
    out = image.copy()
    h, w = image.shape[:2]
    top = full_scale(image.dtype)
    fill = min(top, max(0, round(float(params["fill"]) * top)))
    for box in params["boxes"]:
        side = max(1, round(float(box["size"]) * min(h, w)))
        x0, y0 = _window(w, side, box["x"]), _window(h, side, box["y"])
        region = out[y0 : y0 + side, x0 : x0 + side]
        if image.ndim == 3:
            region[..., :3] = fill
        else:
            region[...] = fill
    return out


# --------------------------------------------------------------------------
# Colour operations (alpha passes through)
# --------------------------------------------------------------------------


def contrast(image: np.ndarray, params: Params) -> np.ndarray:
    """Scales the distance of every value from mid-grey.

    Params:
        factor (float): 1 is the identity, 0 gives flat mid-grey.

    Pivoting on the fixed mid-grey (rather than the image mean) keeps the op
    a pure per-value curve, so it runs as a lookup table.
    """
    return _apply_curve(image, "contrast", params["factor"])


def brightness(image: np.ndarray, params: Params) -> np.ndarray:
    """Adds a constant to every colour value.

    Params:
        delta (float): Offset as a fraction of full scale (0.1 = +25.5 on 8 bit).
    """
    return _apply_curve(image, "brightness", params["delta"])


def gamma(image: np.ndarray, params: Params) -> np.ndarray:
    """Applies the power curve ``out = full * (in / full) ** gamma``.

    Params:
        gamma (float): Above 1 darkens mid-tones, below 1 brightens them;
            black and white stay fixed.
    """
    return _apply_curve(image, "gamma", params["gamma"])


@_colour_only
def saturation(image: np.ndarray, params: Params) -> np.ndarray:
    """Blends every colour value with the pixel's luma (identity on grey images).

    Params:
        factor (float): 1 is the identity, 0 gives grey, above 1 is more vivid.

    ``out = factor * v + (1 - factor) * luma``, luma with OpenCV's BT.601
    weights. Blending with luma (as torchvision does) instead of scaling HSV
    saturation needs no colour-space round trip and works at 16 bit. 8-bit
    images take one fixed-point matrix pass, within 1 of the exact blend;
    16-bit images blend with their rounded grey image.
    """
    if not _has_colour(image):
        return image.copy()
    factor = float(params["factor"])
    if image.dtype == np.uint8:
        # One pass of a 3x3 matrix, twice as fast as a grey image and a blend, and closer to
        # the exact blend: the grey image's rounding, scaled by 1 - factor, put the blend up
        # to 5 off at factor 10; OpenCV's 8-bit transform is fixed-point, within 1 and the
        # same for a pixel wherever it is in the row.
        blend = factor * np.eye(3) + (1.0 - factor) * np.array([_LUMA_BGR] * 3)
        return cv2.transform(image, blend)
    # 16 bit: OpenCV's float transform rounds differently in its vector body and scalar
    # tail (a pixel's result would depend on its position), the blend does not.
    grey = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return cv2.addWeighted(image, factor, grey, 1.0 - factor, 0.0)


@_colour_only
def hue(image: np.ndarray, params: Params) -> np.ndarray:
    """Rotates the HSV hue (identity on grey images).

    Params:
        shift (float): Degrees, wrapping around 360.

    8-bit images use OpenCV's 8-bit HSV (hue 0..179, i.e. 2-degree steps, so
    the shift is rounded to a multiple of 2 degrees) with a lookup table on
    the hue plane, the fast path. OpenCV has no 16-bit HSV, so 16-bit images
    go through float32 HSV (hue 0..360) to keep their precision.
    """
    if not _has_colour(image):
        return image.copy()
    shift = float(params["shift"])
    if image.dtype == np.uint8:
        steps = round(shift / 2) % 180
        if steps == 0:
            return image.copy()
        lut = ((np.arange(256) + steps) % 180).astype(np.uint8)
        h, s, v = cv2.split(cv2.cvtColor(image, cv2.COLOR_BGR2HSV))
        # split/LUT/merge: a third of numpy's strided fancy indexing of the hue plane.
        return cv2.cvtColor(cv2.merge((cv2.LUT(h, lut), s, v)), cv2.COLOR_HSV2BGR)
    top = full_scale(image.dtype)
    hsv = cv2.cvtColor(image.astype(np.float32) * np.float32(1 / top), cv2.COLOR_BGR2HSV)
    hsv[..., 0] = np.mod(hsv[..., 0] + np.float32(shift), np.float32(360))
    return _to_dtype(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR) * np.float32(top), image.dtype)


def grayscale(image: np.ndarray, params: Params) -> np.ndarray:
    """Replaces colour by luma, keeping the channel count (B = G = R).

    Params: none. Keeping three channels lets later colour ops and the
    writer treat every output of the tree alike.
    """
    _check(image)
    if not _has_colour(image):
        return image.copy()
    if _has_alpha(image):  # grey straight from BGRA: the same luma, one conversion fewer
        out = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY), cv2.COLOR_GRAY2BGRA)
        cv2.mixChannels([image], [out], [3, 3])
        return out
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


@_colour_only
def blur(image: np.ndarray, params: Params) -> np.ndarray:
    """Gaussian blur.

    Params:
        sigma (float): Standard deviation in pixels; the kernel size follows
            from it (OpenCV's ``ksize=(0, 0)`` rule).
    """
    sigma = float(params["sigma"])
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)


@_colour_only
def sharpen(image: np.ndarray, params: Params) -> np.ndarray:
    """Unsharp mask: ``out = image + amount * (image - blur(image, sigma))``.

    Params:
        amount (float): Strength; 0 is the identity.
        sigma (float): Blur radius in pixels that sets the size of the
            details that get boosted.
    """
    amount, sigma = float(params["amount"]), float(params["sigma"])
    blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)
    # addWeighted saturates and rounds into the input dtype in one pass.
    return cv2.addWeighted(image, 1.0 + amount, blurred, -amount, 0.0)


_TERMS = threading.local()
_TERMS_KEPT = 2


def _noise_terms(
    kind: str, amount: float, seed: int, shape: tuple[int, ...], dtype: np.dtype
) -> tuple[np.ndarray, ...]:
    """What ``noise`` applies for these params, from its seeded field; cached per thread.

    In the transform tree every subset that ends in ``noise`` gets the same params and shape:
    2^(N-1) identical draws per image, and drawing (4 ms for a normal field of 400x400x3)
    dominates the operation. A small per-thread cache makes that one draw and one derivation.
    The arrays are read-only, so no result ever aliases them.

    Returns, by kind:
        salt_pepper: ``(pepper, salt)``, uint8 masks (1 = hit) over ``shape[:2]`` from one
            uniform draw per pixel: ``u < amount/2`` is pepper, ``amount/2 <= u < amount`` salt.
        gauss: ``(up, down)`` in ``dtype``: the offset ``rint(n * amount * full scale)``
            (float32 product, half to even) split into its positive and negative parts, each
            clipped to full scale; ``sat(sat(v + up) - down) == clip(v + offset)``.
        speckle: ``(factor,)``, the float32 field ``1 + amount * n``.

    For a BGRA ``shape`` the field is drawn for the colour planes alone, as for BGR, and the
    terms get an alpha plane that leaves alpha unchanged (offsets 0, factor 1).
    """
    cache = _TERMS.__dict__.setdefault("cache", {})
    key = (kind, amount, seed, tuple(shape), np.dtype(dtype).str)
    cached = cache.get(key)
    if cached is not None:
        return cached
    terms: tuple[np.ndarray, ...]
    rng = np.random.default_rng(seed)
    top = full_scale(dtype)
    alpha = len(shape) == 3 and shape[2] == 4
    colour_shape = (shape[0], shape[1], 3) if alpha else tuple(shape)
    if kind == "salt_pepper":
        u = rng.random(shape[:2], dtype=np.float32)
        terms = ((u < amount / 2).view(np.uint8), ((u >= amount / 2) & (u < amount)).view(np.uint8))
    elif kind == "gauss":
        offset = np.rint(rng.standard_normal(colour_shape, dtype=np.float32) * np.float32(amount * top))
        terms = tuple(np.clip(part, 0, top).astype(dtype) for part in (offset, -offset))
        if alpha:  # (cvtColor and mixChannels: np.dstack is ten times slower)
            zero = np.zeros(shape[:2], dtype)
            terms = tuple(
                cv2.mixChannels([zero], [cv2.cvtColor(part, cv2.COLOR_BGR2BGRA)], [0, 3])[0] for part in terms
            )
    else:
        factor = rng.standard_normal(colour_shape, dtype=np.float32)
        factor *= np.float32(amount)
        factor += np.float32(1)
        # BGR -> BGRA on float32 sets alpha to 1.0, the factor that keeps alpha.
        terms = (cv2.cvtColor(factor, cv2.COLOR_BGR2BGRA) if alpha else factor,)
    for array in terms:
        array.flags.writeable = False
    if len(cache) >= _TERMS_KEPT:
        cache.pop(next(iter(cache)))
    cache[key] = terms
    return terms


def noise(image: np.ndarray, params: Params) -> np.ndarray:
    """Adds seeded random noise.

    Params:
        kind (str): ``gauss`` adds N(0, amount * full scale) per value (the
            offset rounded half to even, then added with saturation);
            ``speckle`` multiplies by 1 + N(0, amount) (float32, the product
            rounded), so a full-scale value gets the same spread as ``gauss``
            while black stays black; ``salt_pepper`` sets a fraction
            ``amount`` of pixels (all colour channels together) to black or
            white, half each.
        amount (float): See ``kind``.
        seed (int): Seeds ``np.random.default_rng``; the only randomness.
    """
    _check(image)
    kind, amount, seed = params["kind"], float(params["amount"]), int(params["seed"])
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {', '.join(NOISE_KINDS)}")
    if kind == "salt_pepper":
        pepper, salt = _noise_terms(kind, amount, seed, image.shape, image.dtype)
        top = float(full_scale(image.dtype))
        # Masked OpenCV writes (a non-zero mask byte selects all channels of its pixel; alpha
        # is ANDed with all ones, ORed with 0): five times faster than numpy's boolean-mask
        # assignment, the same pixels.
        out = image.copy()
        cv2.bitwise_and(out, _colour_scalar(image, 0.0, top), dst=out, mask=pepper)
        cv2.bitwise_or(out, _colour_scalar(image, top, 0.0), dst=out, mask=salt)
        return out
    terms = _noise_terms(kind, amount, seed, image.shape, image.dtype)
    if kind == "gauss":
        up, down = terms
        # Two saturating integer passes: the bytes of cv2.add(image, float offset), which
        # rounds the offset half to even and saturates, at a fifth of its cost.
        return cv2.subtract(cv2.add(image, up), down)
    # One pass: the image times a float32 array, rounded and saturated into its dtype.
    return cv2.multiply(image, terms[0], dtype=cv2.CV_8U if image.dtype == np.uint8 else cv2.CV_16U)


@_colour_only
def jpeg_quality(image: np.ndarray, params: Params) -> np.ndarray:
    """Encodes to JPEG and decodes back, adding real compression artefacts.

    Params:
        quality (int): JPEG quality 1..100.

    JPEG is 8-bit, so 16-bit images are reduced to 8 bit, compressed and
    scaled back by 257 (255 * 257 = 65535): the result is what saving the
    image as a JPEG and reading it back would give.
    """
    if image.dtype == np.uint8:
        small = image
    else:
        # round(v / 257) in one pass: v / 257 is never within 1/514 of a half, far beyond
        # float32's error, so this is exactly (v + 128) // 257.
        small = cv2.convertScaleAbs(image, alpha=1 / 257)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, int(params["quality"])])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise RuntimeError("JPEG decoding failed")
    if image.dtype == np.uint8:
        return decoded
    return decoded.astype(np.uint16) * np.uint16(257)


# --------------------------------------------------------------------------
# Normalisation (before the tree)
# --------------------------------------------------------------------------


def normalize(image: np.ndarray, params: Params) -> np.ndarray:
    """Crops a square and resizes it to ``size`` x ``size``.

    Params:
        x, y (float): Square position as a fraction (0..1) of the free room
            along the width/height.
        side (float): Square side as a fraction of the shorter image side.
        size (int): Output side in pixels.

    Fractions rather than pixels keep a params record valid for any
    resolution of the same picture. Shrinking uses INTER_AREA, enlarging
    INTER_LINEAR.
    """
    _check(image)
    h, w = image.shape[:2]
    side = max(1, round(float(params["side"]) * min(h, w)))
    x0, y0 = _window(w, side, params["x"]), _window(h, side, params["y"])
    size = int(params["size"])
    return _resize_to(image[y0 : y0 + side, x0 : x0 + side], size, size)


#: Operation name -> its image function, for every operation of ``operations.OPERATIONS``.
FUNCTIONS: dict[str, ImageFunction] = {
    "rotate_zoom": rotate_zoom,
    "contrast": contrast,
    "brightness": brightness,
    "saturation": saturation,
    "flip_lr": flip_lr,
    "noise": noise,
    "rotate": rotate,
    "hue": hue,
    "flip_ud": flip_ud,
    "crop": crop,
    "resize": resize,
    "blur": blur,
    "sharpen": sharpen,
    "grayscale": grayscale,
    "gamma": gamma,
    "cutout": cutout,
    "jpeg_quality": jpeg_quality,
}
