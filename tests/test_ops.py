"""Tests for steps/operations.py, steps/samplers.py and steps/ops.py.

Generic cases are built from OPERATIONS, so a new operation is tested as soon
as it is declared; it must also get a sampler, an image function and an
op-specific check in BEHAVIOUR_CASES (test_one_row_per_operation_in_every_table).
"""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from jsonschema import Draft202012Validator

from kaleidoscope.steps import ops
from kaleidoscope.steps.operations import OPERATIONS, defaults, get
from kaleidoscope.steps.samplers import SAMPLERS, integers, sample_normalize, uniform

DTYPES = [np.uint8, np.uint16]
LAYOUTS = ["gray", "bgr", "bgra"]
GEOMETRIC = {"rotate_zoom", "rotate", "flip_lr", "flip_ud", "crop", "resize"}
IDENTITY_ON_GRAY = {"saturation", "hue", "grayscale"}
H, W = 48, 64


def make_image(dtype=np.uint8, layout="bgr", height=H, width=W, seed=7):
    """Non-square test image: per-channel noise over gradients, a bright box, gradient alpha."""
    top = np.iinfo(dtype).max
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    planes = [xx / width, yy / height, (xx + yy) / (width + height)]
    colour = np.stack(planes, axis=2) * 0.6 + rng.random((height, width, 3), dtype=np.float32) * 0.3
    colour[height // 4 : height // 2, width // 4 : width // 2] = (0.9, 0.5, 0.2)
    image = np.rint(colour * top).astype(dtype)
    if layout == "gray":
        return np.ascontiguousarray(image[..., 1])
    if layout == "bgra":
        alpha = np.rint(xx / (width - 1) * top).astype(dtype)
        return np.dstack((image, alpha))
    return image


def constant(value, dtype=np.uint8, layout="bgr", height=H, width=W):
    shape = (height, width) if layout == "gray" else (height, width, 4 if layout == "bgra" else 3)
    return np.full(shape, value, dtype=dtype)


def sampled(name, seed=3):
    return SAMPLERS[name](np.random.default_rng(seed), defaults(name))


def full(dtype):
    return np.iinfo(dtype).max


# --------------------------------------------------------------------------
# Generic contract, for every registered operation
# --------------------------------------------------------------------------

CASES = [(n, d, lay) for n in OPERATIONS for d in DTYPES for lay in LAYOUTS]
IDS = [f"{n}-{np.dtype(d).name}-{lay}" for n, d, lay in CASES]


@pytest.mark.parametrize(("name", "dtype", "layout"), CASES, ids=IDS)
def test_contract(name, dtype, layout):
    image = make_image(dtype, layout)
    before = image.copy()
    params = sampled(name)
    out = ops.FUNCTIONS[name](image, params)

    assert out.dtype == image.dtype
    assert out.ndim == image.ndim
    if image.ndim == 3:
        assert out.shape[2] == image.shape[2]
    if name not in {"crop", "resize"}:
        assert out.shape == image.shape
    np.testing.assert_array_equal(image, before, err_msg="input modified in place")
    assert not np.shares_memory(out, image), "output aliases the input"

    again = ops.FUNCTIONS[name](image, json.loads(json.dumps(params)))
    assert again.tobytes() == out.tobytes() and again.shape == out.shape, "not deterministic"

    if not (layout == "gray" and name in IDENTITY_ON_GRAY):
        assert out.shape != image.shape or not np.array_equal(out, image), "op did not change the image"


@pytest.mark.parametrize(("name", "dtype"), [(n, d) for n in OPERATIONS for d in DTYPES])
def test_channels_handled_alike(name, dtype):
    """BGRA colour equals the BGR result; alpha is kept (colour ops) or moved like grey (geometric)."""
    bgra = make_image(dtype, "bgra")
    params = sampled(name)
    out = ops.FUNCTIONS[name](bgra, params)
    np.testing.assert_array_equal(out[..., :3], ops.FUNCTIONS[name](np.ascontiguousarray(bgra[..., :3]), params))
    alpha = np.ascontiguousarray(bgra[..., 3])
    expected_alpha = ops.FUNCTIONS[name](alpha, params) if name in GEOMETRIC else alpha
    np.testing.assert_array_equal(out[..., 3], expected_alpha)


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_sampler_reproducible_and_plain(name):
    def plain(value):
        if isinstance(value, dict):
            return all(type(k) is str and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return type(value) in (int, float, str, bool, type(None))

    first, second = sampled(name, seed=11), sampled(name, seed=11)
    assert first == second
    assert isinstance(first, dict) and plain(first), f"non-plain params: {first!r}"
    json.dumps(first)


# --------------------------------------------------------------------------
# Option fragments
# --------------------------------------------------------------------------

FRAGMENTS = [(n, key, frag) for n, op in OPERATIONS.items() for key, frag in op.options.items()]


@pytest.mark.parametrize(("name", "key", "fragment"), FRAGMENTS, ids=[f"{n}.{k}" for n, k, _ in FRAGMENTS])
def test_option_fragment(name, key, fragment):
    assert isinstance(fragment.get("description"), str) and fragment["description"].strip()
    assert "default" in fragment
    Draft202012Validator.check_schema(fragment)
    Draft202012Validator(fragment).validate(fragment["default"])
    if fragment.get("x-range") and isinstance(fragment["default"], list):
        low, high = fragment["default"]
        assert low <= high


def test_range_fragments_accept_number_or_pair():
    validator = Draft202012Validator(get("contrast").options["factor"])
    assert validator.is_valid(1.0)
    assert validator.is_valid([0.5, 2])
    assert not validator.is_valid([0.5])
    assert not validator.is_valid([0.5, 1, 2])
    assert not validator.is_valid([-1, 1])
    assert not validator.is_valid("1")
    holes = Draft202012Validator(get("cutout").options["holes"])
    assert holes.is_valid([1, 4]) and not holes.is_valid([1.5, 4])


def test_operations_table():
    assert list(OPERATIONS)[:6] == ["rotate_zoom", "contrast", "brightness", "saturation", "flip_lr", "noise"]
    for name, op in OPERATIONS.items():
        assert op.name == name and op.summary and "\n" not in op.summary
        assert ops.FUNCTIONS[name].__doc__, f"{name} has no docstring"
    with pytest.raises(KeyError, match="known operations: rotate_zoom"):
        get("swirl")
    assert defaults("rotate") == {"angle": [-15, 15], "border": "reflect"}
    defaults("noise")["kinds"].append("x")
    assert defaults("noise")["kinds"] == ["gauss", "salt_pepper", "speckle"]


def test_uniform_and_integers():
    rng = np.random.default_rng(0)
    assert uniform(rng, 0.25) == 0.25
    assert integers(rng, 4) == 4
    floats = [uniform(rng, [1.0, 2.0]) for _ in range(200)]
    ints = [integers(rng, [1, 3]) for _ in range(200)]
    assert all(1.0 <= f <= 2.0 for f in floats)
    assert set(ints) == {1, 2, 3}
    assert all(type(i) is int for i in ints) and all(type(f) is float for f in floats)
    # A fixed value still consumes one draw, keeping later draws aligned.
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    uniform(a, 1.0), uniform(b, [0.0, 1.0])
    assert a.random() == b.random()


# --------------------------------------------------------------------------
# Op-specific behaviour
# --------------------------------------------------------------------------


def check_rotate_zoom():
    for dtype in DTYPES:
        for layout in LAYOUTS:
            white = constant(full(dtype), dtype, layout)
            for angle in (-30, 17, 45, 90):
                assert (ops.rotate_zoom(white, {"angle": angle}) == full(dtype)).all()
        image = make_image(dtype)
        np.testing.assert_array_equal(ops.rotate_zoom(image, {"angle": 0.0}), image)
    assert ops.rotate_zoom_factor(45, 11, 11) == pytest.approx(math.sqrt(2))
    assert ops.rotate_zoom_factor(90, 11, 11) == pytest.approx(1.0)
    # "Just enough": with a black constant border, slightly less zoom lets black bleed into the
    # corners, slightly more does not.
    white = constant(255)
    m_centre, angle = ((W - 1) / 2, (H - 1) / 2), 25
    zoom = ops.rotate_zoom_factor(angle, H, W)
    for factor, blank in ((0.97, True), (1.01, False)):
        m = cv2.getRotationMatrix2D(m_centre, angle, zoom * factor)
        out = cv2.warpAffine(white, m, (W, H), borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        assert (out.min() < 255) == blank


def check_rotate():
    square = make_image(np.uint16, "bgra", 40, 40)
    np.testing.assert_array_equal(ops.rotate(square, {"angle": 90, "border": "constant"}), np.rot90(square))
    white = constant(255)

    def corners(im):
        return im[[0, 0, -1, -1], [0, -1, 0, -1]]

    assert (corners(ops.rotate(white, {"angle": 30, "border": "constant"})) == 0).all()
    for border in ("reflect", "replicate"):
        assert (ops.rotate(white, {"angle": 30, "border": border}) == 255).all()


def check_contrast():
    for dtype in DTYPES:
        image = make_image(dtype)
        np.testing.assert_array_equal(ops.contrast(image, {"factor": 1.0}), image)
        assert np.unique(ops.contrast(image, {"factor": 0.0})).tolist() == [(full(dtype) + 1) // 2]
        assert ops.contrast(image, {"factor": 1.3}).std() > image.std()


def check_brightness():
    for dtype in DTYPES:
        image = make_image(dtype, "bgra")
        out = ops.brightness(image, {"delta": 0.1})
        gain = (out[..., :3].astype(float) - image[..., :3]).max()
        assert gain == pytest.approx(0.1 * full(dtype), abs=1)
        assert out[..., :3].mean() > image[..., :3].mean()
        np.testing.assert_array_equal(out[..., 3], image[..., 3])
        assert ops.brightness(image, {"delta": -0.1})[..., :3].mean() < image[..., :3].mean()


def check_saturation():
    for dtype in DTYPES:
        gray = make_image(dtype, "gray")
        np.testing.assert_array_equal(ops.saturation(gray, {"factor": 0.2}), gray)
        image = make_image(dtype, "bgra")
        np.testing.assert_array_equal(ops.saturation(image, {"factor": 1.0}), image)
        grey = ops.saturation(image, {"factor": 0.0})
        assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
        np.testing.assert_array_equal(grey[..., 3], image[..., 3])

        def spread(im):
            return np.ptp(im[..., :3].astype(float), axis=2).mean()

        assert spread(ops.saturation(image, {"factor": 1.5})) > spread(image)


def check_hue():
    for dtype in DTYPES:
        top = full(dtype)
        gray = make_image(dtype, "gray")
        np.testing.assert_array_equal(ops.hue(gray, {"shift": 40}), gray)
        red = np.zeros((4, 4, 4), dtype)
        red[..., 2] = top
        red[..., 3] = top // 3
        green = ops.hue(red, {"shift": 120})
        assert (green[..., 1] == top).all() and (green[..., [0, 2]] == 0).all()
        np.testing.assert_array_equal(green[..., 3], red[..., 3])
        blue = ops.hue(red, {"shift": -120})
        assert (blue[..., 0] == top).all() and (blue[..., [1, 2]] == 0).all()
        np.testing.assert_array_equal(ops.hue(red, {"shift": 0}), red)


def check_flip_lr():
    for dtype in DTYPES:
        for layout in LAYOUTS:
            image = make_image(dtype, layout)
            np.testing.assert_array_equal(ops.flip_lr(image, {}), np.fliplr(image))


def check_flip_ud():
    for dtype in DTYPES:
        for layout in LAYOUTS:
            image = make_image(dtype, layout)
            np.testing.assert_array_equal(ops.flip_ud(image, {}), np.flipud(image))


def check_noise():
    for dtype in DTYPES:
        top = full(dtype)
        image = make_image(dtype, "bgra")
        for kind in ops.NOISE_KINDS:
            params = {"kind": kind, "amount": 0.05, "seed": 1}
            out = ops.noise(image, params)
            assert not np.array_equal(out[..., :3], image[..., :3]), kind
            np.testing.assert_array_equal(out[..., 3], image[..., 3])
            assert not np.array_equal(out, ops.noise(image, {**params, "seed": 2})), kind
        out = ops.noise(image, {"kind": "salt_pepper", "amount": 0.1, "seed": 4})
        hit = (out[..., :3] != image[..., :3]).any(axis=2)
        assert 0.07 < hit.mean() < 0.13
        assert set(np.unique(out[..., :3][hit])) <= {0, top}
        gauss = ops.noise(image, {"kind": "gauss", "amount": 0.05, "seed": 4})
        diff = gauss[..., :3].astype(float) - image[..., :3]
        assert diff.std() == pytest.approx(0.05 * top, rel=0.2)
        black = constant(0, dtype)
        np.testing.assert_array_equal(ops.noise(black, {"kind": "speckle", "amount": 0.5, "seed": 1}), black)
    with pytest.raises(ValueError, match="unknown noise kind"):
        ops.noise(make_image(), {"kind": "pink", "amount": 0.1, "seed": 1})


def check_crop():
    for dtype in DTYPES:
        image = make_image(dtype, "bgra")
        out = ops.crop(image, {"scale": 0.75, "x": 0.0, "y": 1.0})
        assert out.shape == (36, 48, 4)
        np.testing.assert_array_equal(out, image[H - 36 :, :48])
        assert ops.crop(image, {"scale": 0.5, "x": 0.5, "y": 0.5}).shape[:2] == (24, 32)


def check_resize():
    for dtype in DTYPES:
        for layout in LAYOUTS:
            image = make_image(dtype, layout)
            assert ops.resize(image, {"scale": 0.5}).shape[:2] == (24, 32)
            assert ops.resize(image, {"size": 40}).shape[:2] == (30, 40)
            assert ops.resize(image, {"scale": 1.5}).shape[:2] == (72, 96)
    image = make_image()
    np.testing.assert_array_equal(
        ops.resize(image, {"scale": 0.5}), cv2.resize(image, (32, 24), interpolation=cv2.INTER_AREA)
    )


def check_blur():
    for dtype in DTYPES:
        image = make_image(dtype)
        assert ops.blur(image, {"sigma": 1.5}).std() < image.std()
        flat = constant(full(dtype) // 3, dtype)
        np.testing.assert_array_equal(ops.blur(flat, {"sigma": 2.0}), flat)


def check_sharpen():
    for dtype in DTYPES:
        image = make_image(dtype)
        assert np.abs(np.diff(ops.sharpen(image, {"amount": 1.0, "sigma": 1.0}).astype(float), axis=1)).mean() > (
            np.abs(np.diff(image.astype(float), axis=1)).mean()
        )
        np.testing.assert_array_equal(ops.sharpen(image, {"amount": 0.0, "sigma": 1.0}), image)
        flat = constant(full(dtype) // 3, dtype)
        np.testing.assert_array_equal(ops.sharpen(flat, {"amount": 1.5, "sigma": 1.0}), flat)


def check_grayscale():
    for dtype in DTYPES:
        image = make_image(dtype, "bgra")
        out = ops.grayscale(image, {})
        assert out.shape == image.shape
        assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
        np.testing.assert_array_equal(out[..., 3], image[..., 3])
        expected = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_BGR2GRAY)
        np.testing.assert_array_equal(out[..., 0], expected)
        gray = make_image(dtype, "gray")
        np.testing.assert_array_equal(ops.grayscale(gray, {}), gray)


def check_gamma():
    for dtype in DTYPES:
        image = make_image(dtype, "bgra")
        np.testing.assert_array_equal(ops.gamma(image, {"gamma": 1.0}), image)
        dark = ops.gamma(image, {"gamma": 1.5})
        assert dark[..., :3].mean() < image[..., :3].mean()
        np.testing.assert_array_equal(dark[..., 3], image[..., 3])
        ends = np.array([[0, full(dtype)]], dtype)
        np.testing.assert_array_equal(ops.gamma(ends, {"gamma": 2.2}), ends)


def check_cutout():
    for dtype in DTYPES:
        top = full(dtype)
        image = make_image(dtype, "bgra")
        params = {"boxes": [{"x": 0.0, "y": 0.0, "size": 0.25}, {"x": 1.0, "y": 1.0, "size": 0.5}], "fill": 1.0}
        out = ops.cutout(image, params)
        mask = np.zeros((H, W), bool)
        mask[:12, :12] = True
        mask[H - 24 :, W - 24 :] = True
        assert (out[..., :3][mask] == top).all()
        np.testing.assert_array_equal(out[~mask], image[~mask])
        np.testing.assert_array_equal(out[..., 3], image[..., 3])
        gray = ops.cutout(make_image(dtype, "gray"), {"boxes": [{"x": 0.5, "y": 0.5, "size": 0.1}], "fill": 0.0})
        assert (gray == 0).sum() >= 25


def check_jpeg_quality():
    for dtype in DTYPES:
        for layout in LAYOUTS:
            image = make_image(dtype, layout)
            out = ops.jpeg_quality(image, {"quality": 10})
            assert out.shape == image.shape and out.dtype == image.dtype
            assert not np.array_equal(out, image)
            if layout == "bgra":
                np.testing.assert_array_equal(out[..., 3], image[..., 3])
            if dtype == np.uint16:
                assert (out[..., :3] % 257 == 0).all()
        low = ops.jpeg_quality(make_image(dtype), {"quality": 10}).astype(float)
        high = ops.jpeg_quality(make_image(dtype), {"quality": 95}).astype(float)
        reference = make_image(dtype).astype(float)
        assert np.abs(low - reference).mean() > np.abs(high - reference).mean()


BEHAVIOUR_CASES = {
    "rotate_zoom": check_rotate_zoom,
    "rotate": check_rotate,
    "contrast": check_contrast,
    "brightness": check_brightness,
    "saturation": check_saturation,
    "hue": check_hue,
    "flip_lr": check_flip_lr,
    "flip_ud": check_flip_ud,
    "noise": check_noise,
    "crop": check_crop,
    "resize": check_resize,
    "blur": check_blur,
    "sharpen": check_sharpen,
    "grayscale": check_grayscale,
    "gamma": check_gamma,
    "cutout": check_cutout,
    "jpeg_quality": check_jpeg_quality,
}


def test_one_row_per_operation_in_every_table():
    """An operation declared in OPERATIONS has a sampler, an image function and a test case."""
    declared = set(OPERATIONS)
    assert set(SAMPLERS) == declared, "steps/samplers.py SAMPLERS must have one sampler per operation"
    assert set(ops.FUNCTIONS) == declared, "steps/ops.py FUNCTIONS must have one image function per operation"
    assert set(BEHAVIOUR_CASES) == declared, "add a check_<op> to BEHAVIOUR_CASES for every operation"


@pytest.mark.parametrize("name", sorted(BEHAVIOUR_CASES))
def test_behaviour(name):
    BEHAVIOUR_CASES[name]()


# --------------------------------------------------------------------------
# Fast paths, pinned to slow exact formulas
# --------------------------------------------------------------------------
#
# steps/ops.py computes several operations in a faster way than their definition reads
# (tables, integer shifts, masked writes, cached noise terms, one matrix pass). These tests
# compute the definition directly, per value, on small images of both depths and every
# layout, and require the same bytes (or, for saturation, the documented bound).


def colour_and_alpha(image):
    """(colour planes as float64, alpha plane or None)."""
    if image.ndim == 3 and image.shape[2] == 4:
        return image[..., :3].astype(np.float64), image[..., 3]
    return image.astype(np.float64), None


def assemble(colour, alpha, dtype):
    colour = np.clip(colour, 0, full(dtype)).astype(dtype)
    return colour if alpha is None else np.dstack((colour, alpha))


def exact_curve(image, curve):
    """A tone curve applied per value with float arithmetic, no table."""
    colour, alpha = colour_and_alpha(image)
    return assemble(np.rint(curve(colour.astype(np.float32))), alpha, image.dtype)


BRIGHTNESS_DELTAS = [0.0, 0.12, -0.12, 0.25, -0.25, 0.999, -0.999, 1.0, -1.0, 0.1, 0.3 / 65535, -7.5 / 65535]
# deltas whose offset is exactly a half: the table rounds v + offset half to even, so it is
# no shift (0.1 * 255 = 25.5), and must not take the integer path
BRIGHTNESS_TIES = [(k + 0.5) / 255 for k in (-3, 0, 25, 100)] + [(k + 0.5) / 65535 for k in (-300, 0, 7)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_tone_curves_equal_their_formulas(dtype, layout):
    image = make_image(dtype, layout)
    top = full(dtype)
    for delta in BRIGHTNESS_DELTAS + BRIGHTNESS_TIES:
        expected = exact_curve(image, lambda v, d=delta: v + np.float32(d * top))
        np.testing.assert_array_equal(ops.brightness(image, {"delta": delta}), expected, err_msg=str(delta))
    for factor in (0.0, 0.5, 0.6685193337148995, 1.0, 1.4, 3.7, 10.0):
        expected = exact_curve(
            image, lambda v, f=factor: (v - np.float32(top / 2)) * np.float32(f) + np.float32(top / 2)
        )
        np.testing.assert_array_equal(ops.contrast(image, {"factor": factor}), expected, err_msg=str(factor))


@pytest.mark.parametrize("dtype", DTYPES)
def test_brightness_shift_path_on_every_value(dtype):
    """The integer add/subtract path against the table's definition for all 256 / 65536
    values, in both OpenCV code paths (one long row; one-pixel rows)."""
    top = full(dtype)
    values = np.arange(top + 1, dtype=dtype)
    row = np.dstack([values.reshape(1, -1)] * 3)
    padded = np.zeros((top + 1, 8, 3), dtype)
    padded[:, 0] = values[:, None]
    column = padded[:, :1]
    for delta in BRIGHTNESS_DELTAS + BRIGHTNESS_TIES:
        expected = np.clip(np.rint(values.astype(np.float32) + np.float32(delta * top)), 0, top).astype(dtype)
        for image in (row, column):
            out = ops.brightness(image, {"delta": delta})
            assert (out == expected.reshape(image.shape[:2])[..., None]).all(), delta
    assert ops._curve_table("brightness", 0.12, np.dtype(np.uint8).str)[1] == 31
    assert ops._curve_table("brightness", 0.1, np.dtype(np.uint8).str)[1] is None  # 25.5: no shift


@pytest.mark.parametrize("dtype", DTYPES)
def test_gamma_table_is_the_correctly_rounded_curve(dtype):
    """Every entry equals math.pow's curve rounded: a float32 power differs in its last bit
    from CPU to CPU (numpy's AVX-512 code), which moved 16-bit entries across a rounding edge."""
    top = full(dtype)
    for g in (0.05, 0.7685193337148994, 1.5, 2.2, 10.0):
        table = ops._curve_table("gamma", g, np.dtype(dtype).str)[0]
        expected = [min(top, max(0, round(top * math.pow(v / top, g)))) for v in range(top + 1)]
        assert table.tolist() == expected, g
    image = make_image(dtype, "bgra")
    colour, alpha = colour_and_alpha(image)
    expected = assemble(np.rint(top * np.power(colour / top, 1.3)), alpha, dtype)
    np.testing.assert_array_equal(ops.gamma(image, {"gamma": 1.3}), expected)


def exact_noise(image, kind, amount, seed):
    """noise as its docstring defines it, with numpy alone and no cache."""
    top = full(image.dtype)
    colour, alpha = colour_and_alpha(image)
    rng = np.random.default_rng(seed)
    if kind == "salt_pepper":
        u = rng.random(image.shape[:2], dtype=np.float32)
        out = colour.copy()
        out[u < amount / 2] = 0
        out[(u >= amount / 2) & (u < amount)] = top
        return assemble(out, alpha, image.dtype)
    n = rng.standard_normal(colour.shape, dtype=np.float32)
    if kind == "gauss":
        return assemble(colour + np.rint(n * np.float32(amount * top)), alpha, image.dtype)
    factor = n * np.float32(amount) + np.float32(1)
    return assemble(np.rint(colour.astype(np.float32) * factor), alpha, image.dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kind", ops.NOISE_KINDS)
def test_noise_equals_its_formula(dtype, layout, kind):
    image = make_image(dtype, layout)
    for amount, seed in ((0.0, 1), (0.05, 2), (0.3, 3), (1.0, 4)):
        params = {"kind": kind, "amount": amount, "seed": seed}
        expected = exact_noise(image, kind, amount, seed)
        first = ops.noise(image, params)  # fills the per-thread cache
        np.testing.assert_array_equal(first, expected, err_msg=str(params))
        np.testing.assert_array_equal(ops.noise(image, params), first)  # from the cache
        assert not np.shares_memory(first, ops.noise(image, params))


def exact_blend(image, factor):
    colour, alpha = colour_and_alpha(image)
    luma = colour @ np.array([0.114, 0.587, 0.299])
    return colour * factor + (1 - factor) * luma[..., None], alpha


def test_saturation_8bit_within_one_of_the_exact_blend():
    """8 bit is one fixed-point matrix pass (16 bit keeps the grey image and the blend)."""
    image = make_image(np.uint8, "bgra", 40, 56)
    for factor in (0.0, 0.3, 0.5856491671436244, 1.0, 1.5, 4.0, 10.0):
        blend, alpha = exact_blend(image, factor)
        out = ops.saturation(image, {"factor": factor})
        np.testing.assert_array_equal(out[..., 3], alpha)
        error = np.abs(out[..., :3].astype(np.float64) - np.rint(np.clip(blend, 0, 255)))
        assert error.max() <= 1, factor
        if factor == 1.0:
            np.testing.assert_array_equal(out, image)
        # The same pixel gives the same value wherever it is: rows become columns.
        colour = np.ascontiguousarray(image[..., :3])
        turned = np.ascontiguousarray(colour.transpose(1, 0, 2))
        np.testing.assert_array_equal(
            ops.saturation(turned, {"factor": factor}), ops.saturation(colour, {"factor": factor}).transpose(1, 0, 2)
        )


def test_hue_8bit_equals_the_hue_plane_lookup():
    for layout in ("bgr", "bgra"):
        image = make_image(np.uint8, layout)
        colour = np.ascontiguousarray(image[..., :3])
        for shift in (-180, -17.3, -1, 0.9, 1, 3, 44.4, 120, 179, 180):
            steps = round(shift / 2) % 180
            if steps == 0:
                expected = colour
            else:
                hsv = cv2.cvtColor(colour, cv2.COLOR_BGR2HSV)
                hsv[..., 0] = ((hsv[..., 0].astype(np.int64) + steps) % 180).astype(np.uint8)
                expected = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
            out = ops.hue(image, {"shift": shift})
            np.testing.assert_array_equal(out[..., :3], expected, err_msg=str(shift))
            if layout == "bgra":
                np.testing.assert_array_equal(out[..., 3], image[..., 3])


def test_jpeg_16bit_reduction_on_every_value():
    values = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    expected = ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)
    np.testing.assert_array_equal(cv2.convertScaleAbs(values, alpha=1 / 257), expected)
    image = make_image(np.uint16, "bgr")
    small = ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    ok, buffer = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 40])
    assert ok
    expected_image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED).astype(np.uint16) * np.uint16(257)
    np.testing.assert_array_equal(ops.jpeg_quality(image, {"quality": 40}), expected_image)


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_strided_bgra_input(name):
    """A BGRA view (negative strides, a column step) gives what its contiguous copy gives."""
    for dtype in DTYPES:
        base = make_image(dtype, "bgra", 50, 70)
        view = base[::-1, 1::2]
        params = sampled(name)
        out = ops.FUNCTIONS[name](view, params)
        np.testing.assert_array_equal(out, ops.FUNCTIONS[name](np.ascontiguousarray(view), params))
        assert not np.shares_memory(out, base)


# --------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("height", "width", "size"), [(48, 64, 32), (64, 48, 32), (30, 30, 50)])
def test_normalize(dtype, layout, height, width, size):
    image = make_image(dtype, layout, height, width)
    before = image.copy()
    params = sample_normalize(np.random.default_rng(9), height, width, size)
    assert params == sample_normalize(np.random.default_rng(9), height, width, size)
    json.dumps(params)
    out = ops.normalize(image, params)
    assert out.shape[:2] == (size, size) and out.dtype == image.dtype and out.ndim == image.ndim
    assert out.tobytes() == ops.normalize(image, params).tobytes()
    np.testing.assert_array_equal(image, before)


def test_normalize_picks_the_square():
    image = make_image(np.uint8, "bgr", 48, 64)
    same_size = ops.normalize(image, {"x": 1.0, "y": 0.3, "side": 1.0, "size": 48})
    np.testing.assert_array_equal(same_size, image[:, 16:])
    half = ops.normalize(image, {"x": 0.0, "y": 0.0, "side": 1.0, "size": 24})
    np.testing.assert_array_equal(half, cv2.resize(image[:, :48], (24, 24), interpolation=cv2.INTER_AREA))
