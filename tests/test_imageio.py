"""Tests for steps.imageio; every image is built in-process with OpenCV or by hand."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from kaleidoscope.steps import formats, imageio
from kaleidoscope.steps.imageio import ImageError, decode, encode, read_dimensions
from tests.prerequisites import missing

# --------------------------------------------------------------------------- helpers


def _enc(ext: str, image: np.ndarray, params: tuple = ()) -> bytes:
    ok, buf = cv2.imencode(ext, image, list(params))
    assert ok
    return buf.tobytes()


def _asym(h: int = 48, w: int = 64) -> np.ndarray:
    """BGR image with 16-px blocks of distinct colours: no flip or rotation maps it onto itself."""
    rng = np.random.default_rng(7)
    # Mid-range colours keep 4:2:0 chroma error at block edges small enough for tight tolerances.
    blocks = rng.integers(64, 192, (h // 16, w // 16, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.repeat(np.repeat(blocks, 16, axis=0), 16, axis=1))


def _noise(shape, dtype=np.uint8, seed=0) -> np.ndarray:
    hi = 256 if dtype == np.uint8 else 65536
    return np.random.default_rng(seed).integers(0, hi, shape, dtype=dtype)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png(width, height, bit_depth, colour_type, rows: list[bytes], extra: bytes = b"") -> bytes:
    """Hand-made PNG, for colour types cv2.imencode cannot write (gray+alpha, palette)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(b"".join(b"\0" + r for r in rows))
    return (
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + extra + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    )


def _tiff_gray8(pixels: np.ndarray, order: str = "<", orientation: int = 1) -> bytes:
    """Uncompressed 8-bit grayscale TIFF, in either byte order, with an orientation tag."""
    h, w = pixels.shape
    entries = [
        (256, 3, w),
        (257, 3, h),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, None),
        (274, 3, orientation),
        (277, 3, 1),
        (278, 3, h),
        (279, 4, w * h),
    ]
    data_offset = 8 + 2 + 12 * len(entries) + 4
    out = (b"II" if order == "<" else b"MM") + struct.pack(order + "HI", 42, 8)
    out += struct.pack(order + "H", len(entries))
    for tag, kind, value in entries:
        value = data_offset if value is None else value
        packed = struct.pack(order + "H", value) + b"\0\0" if kind == 3 else struct.pack(order + "I", value)
        out += struct.pack(order + "HHI", tag, kind, 1) + packed
    return out + struct.pack(order + "I", 0) + pixels.tobytes()


def _exif_tiff(orientation: int, order: str = "<", ifd_offset: int = 8, before: int = 0) -> bytes:
    """EXIF TIFF structure whose IFD0 holds `before` unrelated tags, then Orientation."""
    entries = [
        struct.pack(order + "HHI", 0x010F + i, 3, 1) + struct.pack(order + "H", 0) + b"\0\0" for i in range(before)
    ]
    entries.append(struct.pack(order + "HHI", 0x0112, 3, 1) + struct.pack(order + "H", orientation) + b"\0\0")
    head = (b"II" if order == "<" else b"MM") + struct.pack(order + "HI", 42, ifd_offset)
    return (
        head
        + b"\0" * (ifd_offset - 8)
        + struct.pack(order + "H", len(entries))
        + b"".join(entries)
        + struct.pack(order + "I", 0)
    )


def _with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """Splice an APP1 segment right after SOI."""
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


# Reference orientation transforms, written independently of the module (numpy only).
_ORIENT = {
    1: lambda a: a,
    2: np.fliplr,
    3: lambda a: np.rot90(a, 2),
    4: np.flipud,
    5: lambda a: np.rot90(np.fliplr(a), 1),  # transpose
    6: lambda a: np.rot90(a, -1),  # 90 degrees clockwise
    7: lambda a: np.rot90(np.fliplr(a), -1),  # transverse
    8: lambda a: np.rot90(a, 1),  # 90 degrees counter-clockwise
}


@pytest.fixture(params=["metadata-api", "app1-parser"])
def exif_path(request, monkeypatch):
    """Run EXIF tests through cv2.imdecodeWithMetadata and through the fallback JPEG parser."""
    if request.param == "app1-parser":
        monkeypatch.delattr(cv2, "imdecodeWithMetadata", raising=False)
    elif not hasattr(cv2, "imdecodeWithMetadata"):
        missing("OpenCV without imdecodeWithMetadata")
    return request.param


# --------------------------------------------------------------------------- decode: round trips

BGR8 = _noise((24, 40, 3))
GRAY8 = _noise((24, 40))
BGR16 = _noise((24, 40, 3), np.uint16)
GRAY16 = _noise((24, 40), np.uint16)
BGRA8 = _noise((24, 40, 4))
BGRA8[:, :, 3] |= 1  # lossless WebP may zero the colour of fully transparent pixels
BGRA16 = _noise((24, 40, 4), np.uint16)


@pytest.mark.parametrize(
    "name, data, expected",
    [
        ("gray8 png", _enc(".png", GRAY8), GRAY8),
        ("gray16 png", _enc(".png", GRAY16), GRAY16),
        ("bgr8 png", _enc(".png", BGR8), BGR8),
        ("bgr16 png", _enc(".png", BGR16), BGR16),
        ("bgra8 png", _enc(".png", BGRA8), BGRA8),
        ("bgra16 png", _enc(".png", BGRA16), BGRA16),
        ("bgr8 bmp", _enc(".bmp", BGR8), BGR8),
        ("gray8 bmp", _enc(".bmp", GRAY8), GRAY8),
        ("gray8 tiff", _enc(".tiff", GRAY8), GRAY8),
        ("gray16 tiff", _enc(".tiff", GRAY16), GRAY16),
        ("bgr8 tiff", _enc(".tiff", BGR8), BGR8),
        ("bgr16 tiff", _enc(".tiff", BGR16), BGR16),
        ("bgra8 webp lossless", _enc(".webp", BGRA8, (cv2.IMWRITE_WEBP_QUALITY, 101)), BGRA8),
        ("bgr8 webp lossless", _enc(".webp", BGR8, (cv2.IMWRITE_WEBP_QUALITY, 101)), BGR8),
    ],
)
def test_lossless_round_trip_keeps_dtype_layout_and_pixels(name, data, expected):
    out = decode(data)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    "data, shape",
    [
        (_enc(".jpg", _asym(), (cv2.IMWRITE_JPEG_QUALITY, 95)), (48, 64, 3)),
        (_enc(".jpg", _asym()[:, :, 1], (cv2.IMWRITE_JPEG_QUALITY, 95)), (48, 64)),
        (_enc(".webp", _asym(), (cv2.IMWRITE_WEBP_QUALITY, 95)), (48, 64, 3)),
    ],
    ids=["bgr jpeg", "gray jpeg", "bgr lossy webp"],
)
def test_lossy_round_trip(data, shape):
    out = decode(data)
    assert out.shape == shape and out.dtype == np.uint8
    reference = _asym() if len(shape) == 3 else _asym()[:, :, 1]
    assert np.abs(out.astype(int) - reference).mean() < 3


def test_lossy_webp_with_alpha_decodes_to_bgra():
    image = np.dstack([_asym(), np.full((48, 64), 200, np.uint8)])
    out = decode(_enc(".webp", image, (cv2.IMWRITE_WEBP_QUALITY, 90)))
    assert out.shape == (48, 64, 4) and out.dtype == np.uint8
    assert np.abs(out[:, :, 3].astype(int) - 200).max() <= 2


@pytest.mark.parametrize("bits", [8, 16])
def test_gray_plus_alpha_png_becomes_bgra(bits):
    gray, alpha = [10, 20000 if bits == 16 else 200], [30, 40000 if bits == 16 else 250]
    row = struct.pack(">4H" if bits == 16 else "4B", gray[0], alpha[0], gray[1], alpha[1])
    out = decode(_png(2, 1, bits, 4, [row]))
    assert out.shape == (1, 2, 4) and out.dtype == (np.uint16 if bits == 16 else np.uint8)
    np.testing.assert_array_equal(out[0], [[gray[0]] * 3 + [alpha[0]], [gray[1]] * 3 + [alpha[1]]])


def test_palette_png_becomes_bgr_or_bgra_with_trns():
    plte = _png_chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0]))  # index 0 = red, 1 = green (RGB)
    out = decode(_png(2, 1, 8, 3, [bytes([0, 1])], plte))
    np.testing.assert_array_equal(out, [[[0, 0, 255], [0, 255, 0]]])
    out = decode(_png(2, 1, 8, 3, [bytes([0, 1])], plte + _png_chunk(b"tRNS", bytes([0]))))
    np.testing.assert_array_equal(out, [[[0, 0, 255, 0], [0, 255, 0, 255]]])


def test_float_tiff_is_refused():
    data = _enc(".tiff", np.random.default_rng(0).random((4, 5)).astype(np.float32))
    with pytest.raises(ImageError, match="unsupported sample type float32"):
        decode(data)


@pytest.mark.parametrize("order", ["<", ">"])
def test_tiff_orientation_applied_exactly_once(order):
    pixels = np.arange(6, dtype=np.uint8).reshape(2, 3) * 40
    out = decode(_tiff_gray8(pixels, order, orientation=6))
    np.testing.assert_array_equal(out, np.rot90(pixels, -1))


def test_gif_decodes_first_frame():
    image = np.zeros((10, 12, 3), np.uint8)
    image[:, :6] = 255
    out = decode(_enc(".gif", image))
    assert out.shape[:2] == (10, 12) and out.dtype == np.uint8
    assert out[:, :6, :3].min() > 200 and out[:, 6:, :3].max() < 50


@pytest.mark.parametrize("ext", [".gif", ".webp"])
def test_animation_decodes_first_frame(ext):
    if not hasattr(cv2, "imencodeanimation"):
        missing("OpenCV cannot write animations")
    animation = cv2.Animation()
    animation.frames = [np.full((10, 12, 3), (0, 0, 255), np.uint8), np.full((10, 12, 3), (255, 0, 0), np.uint8)]
    animation.durations = [100, 100]
    ok, buf = cv2.imencodeanimation(ext, animation)
    assert ok
    out = decode(buf.tobytes())
    assert out.shape == (10, 12, 3) and read_dimensions(buf.tobytes()) == (12, 10)
    assert np.abs(out.astype(int) - (0, 0, 255)).max() <= 5


# --------------------------------------------------------------------------- read_dimensions


def _bmp_top_down(data: bytes) -> bytes:
    height = struct.unpack_from("<i", data, 22)[0]
    return data[:22] + struct.pack("<i", -height) + data[26:]


ODD = _noise((23, 37, 3))  # odd, unequal sizes catch swapped axes and off-by-one


@pytest.mark.parametrize(
    "data",
    [
        _enc(".jpg", ODD),
        _enc(".jpg", ODD, (cv2.IMWRITE_JPEG_PROGRESSIVE, 1)),
        _with_app1(_enc(".jpg", ODD), b"Exif\0\0" + _exif_tiff(1) + b"\0" * 60000),
        _enc(".png", ODD),
        _enc(".webp", ODD, (cv2.IMWRITE_WEBP_QUALITY, 80)),
        _enc(".webp", ODD, (cv2.IMWRITE_WEBP_QUALITY, 101)),
        _enc(".webp", np.dstack([ODD, ODD[:, :, 0]]), (cv2.IMWRITE_WEBP_QUALITY, 80)),
        _enc(".bmp", ODD),
        _bmp_top_down(_enc(".bmp", ODD)),
        _enc(".tiff", ODD),
        _enc(".tiff", _noise((23, 37), np.uint16)),
        _tiff_gray8(ODD[:, :, 0].copy(), ">"),
        _enc(".gif", ODD),
    ],
    ids=[
        "jpeg",
        "jpeg progressive",
        "jpeg big app1",
        "png",
        "webp lossy",
        "webp lossless",
        "webp alpha",
        "bmp",
        "bmp top-down",
        "tiff le",
        "tiff 16",
        "tiff be",
        "gif",
    ],
)
def test_read_dimensions(data):
    assert read_dimensions(data) == (37, 23)
    assert decode(data).shape[:2] == (23, 37)


def test_read_dimensions_webp_chunk_kinds():
    lossy = _enc(".webp", ODD, (cv2.IMWRITE_WEBP_QUALITY, 80))
    lossless = _enc(".webp", ODD, (cv2.IMWRITE_WEBP_QUALITY, 101))
    alpha = _enc(".webp", np.dstack([ODD, ODD[:, :, 0]]), (cv2.IMWRITE_WEBP_QUALITY, 80))
    assert (lossy[12:16], lossless[12:16], alpha[12:16]) == (b"VP8 ", b"VP8L", b"VP8X")


@pytest.mark.parametrize("data", [b"", b"hello world" * 20, b"\0" * 100, b"RIFF\0\0\0\0WEBPjunk", b"BM"])
def test_read_dimensions_none_for_unrecognised(data):
    assert read_dimensions(data) is None


def test_read_dimensions_never_raises_on_truncated_or_mutated_headers():
    rng = np.random.default_rng(1)
    samples = [_enc(ext, ODD) for ext in (".jpg", ".png", ".webp", ".bmp", ".tiff", ".gif")]
    samples.append(_tiff_gray8(ODD[:, :, 0].copy(), ">"))
    for sample in samples:
        for n in range(0, 80):
            assert read_dimensions(sample[:n]) in (None, (37, 23))
        for _ in range(200):
            mutated = bytearray(sample[:200])
            for pos in rng.integers(2, len(mutated), 4):
                mutated[pos] = int(rng.integers(0, 256))
            dims = read_dimensions(bytes(mutated))
            assert dims is None or (len(dims) == 2 and min(dims) > 0)


# --------------------------------------------------------------------------- pixel limit and errors


def _png_claiming(width: int, height: int) -> bytes:
    """A real tiny PNG whose IHDR is patched (with a valid CRC) to claim a huge size."""
    real = _enc(".png", np.zeros((2, 2), np.uint8))
    ihdr = b"IHDR" + struct.pack(">II", width, height) + real[24:29]
    return real[:8] + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + real[33:]


def test_pixel_limit_refuses_before_decoding(monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("decoder must not run")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    monkeypatch.setattr(cv2, "imdecodeWithMetadata", no_decoding, raising=False)
    with pytest.raises(ImageError) as excinfo:
        decode(_png_claiming(100_000, 100_000))
    assert str(excinfo.value) == ("image is 100000x100000 = 10000000000 pixels, over the limit of 100000000")


def test_pixel_limit_is_configurable():
    data = _enc(".jpg", _asym())  # 64x48 = 3072 pixels
    with pytest.raises(ImageError, match=r"^image is 64x48 = 3072 pixels, over the limit of 3071$"):
        decode(data, max_pixels=3071)
    assert decode(data, max_pixels=3072).shape == (48, 64, 3)


def test_pixel_limit_also_checked_after_decoding_unparsed_formats():
    data = _enc(".ppm", _asym())  # PPM: header not parsed by read_dimensions
    assert read_dimensions(data) is None
    with pytest.raises(ImageError, match="3072 pixels, over the limit of 100"):
        decode(data, max_pixels=100)


def test_empty_data():
    with pytest.raises(ImageError, match=r"^empty file$"):
        decode(b"")


@pytest.mark.parametrize(
    "data",
    [
        b"hello world, definitely not an image",
        bytes(range(256)) * 4,
        b"\x89PNG\r\n\x1a\n" + b"\0" * 40,
        _enc(".png", _asym())[:60],
        b"\xff\xd8\xff\xe0" + b"\0" * 20,
    ],
)
def test_undecodable_data(data):
    with pytest.raises(ImageError) as excinfo:
        decode(data)
    message = str(excinfo.value)
    assert message.startswith("not a decodable image (") and "\n" not in message
    assert isinstance(excinfo.value, ValueError)


def test_truncated_jpeg_decodes_partially_or_raises_image_error():
    data = _enc(".jpg", _asym())
    for n in (len(data) // 2, len(data) - 10, 200, 10):
        try:
            out = decode(data[:n])
        except ImageError:
            continue
        assert out.shape == (48, 64, 3)


# --------------------------------------------------------------------------- EXIF orientation


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_all_eight(exif_path, orientation, order):
    original = _asym()
    plain = _enc(".jpg", original, (cv2.IMWRITE_JPEG_QUALITY, 95))
    data = _with_app1(plain, b"Exif\0\0" + _exif_tiff(orientation, order, ifd_offset=12, before=2))
    out = decode(data)
    expected = _ORIENT[orientation](original)
    assert out.shape == expected.shape and out.flags.c_contiguous
    assert np.abs(out.astype(int) - expected).mean() < 3
    # Same bitstream, so the result is exactly the transformed plain decode ...
    np.testing.assert_array_equal(out, _ORIENT[orientation](decode(plain)))
    # ... and agrees with OpenCV's own orientation handling in colour mode.
    np.testing.assert_array_equal(out, cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))


def test_exif_orientation_keeps_gray_and_16_bit_png():
    if not hasattr(cv2, "imencodeWithMetadata"):
        missing("OpenCV cannot write EXIF")
    exif = [np.frombuffer(_exif_tiff(6), np.uint8)]
    for image in (GRAY16, BGRA8):
        ok, buf = cv2.imencodeWithMetadata(".png", image, [cv2.IMAGE_METADATA_EXIF], exif)
        assert ok
        np.testing.assert_array_equal(decode(buf.tobytes()), np.rot90(image, -1))


def test_exif_orientation_in_webp():
    if not hasattr(cv2, "imencodeWithMetadata"):
        missing("OpenCV cannot write EXIF")
    exif = [np.frombuffer(_exif_tiff(8), np.uint8)]
    ok, buf = cv2.imencodeWithMetadata(".webp", BGR8, [cv2.IMAGE_METADATA_EXIF], exif, [cv2.IMWRITE_WEBP_QUALITY, 101])
    assert ok
    np.testing.assert_array_equal(decode(buf.tobytes()), np.rot90(BGR8, 1))


MALFORMED_EXIF = {
    "prefix only": b"Exif\0\0",
    "ifd offset past end": b"Exif\0\0II*\0\xff\xff\xff\x7f",
    "huge entry count": b"Exif\0\0MM\0*\0\0\0\x08\xff\xff",
    "bad magic": b"Exif\0\0II+\0\x08\0\0\0" + _exif_tiff(6)[8:],
    "bad byte order": b"Exif\0\0XX" + _exif_tiff(6)[2:],
    "truncated mid entry": b"Exif\0\0" + _exif_tiff(6)[:16],
    "truncated before value": b"Exif\0\0" + _exif_tiff(6)[:19],
    "orientation 0": b"Exif\0\0" + _exif_tiff(0),
    "orientation 9": b"Exif\0\0" + _exif_tiff(9),
    "orientation 65535": b"Exif\0\0" + _exif_tiff(65535),
    "not exif": b"XMP\0" + _exif_tiff(6),
    "tiny": b"\0\0\0",
}


@pytest.mark.parametrize("payload", MALFORMED_EXIF.values(), ids=MALFORMED_EXIF.keys())
def test_malformed_exif_falls_back_to_orientation_1(exif_path, payload):
    plain = _enc(".jpg", _asym(), (cv2.IMWRITE_JPEG_QUALITY, 95))
    np.testing.assert_array_equal(decode(_with_app1(plain, payload)), decode(plain))


def test_exif_parser_never_raises_on_random_or_mutated_blobs():
    rng = np.random.default_rng(3)
    valid = _exif_tiff(6, before=3)
    for _ in range(2000):
        blob = bytearray(valid)
        for pos in rng.integers(0, len(blob), int(rng.integers(1, 6))):
            blob[pos] = int(rng.integers(0, 256))
        assert 1 <= imageio._exif_orientation(bytes(blob[: int(rng.integers(0, len(blob) + 1))])) <= 8
    for _ in range(500):
        assert 1 <= imageio._exif_orientation(rng.bytes(int(rng.integers(0, 64)))) <= 8


# --------------------------------------------------------------------------- encode


def test_jpg_composites_alpha_over_background():
    image = np.zeros((32, 64, 4), np.uint8)
    image[:, :32] = (0, 0, 255, 0)  # fully transparent red: must vanish
    image[:, 32:] = (0, 255, 0, 255)  # opaque green: must stay
    out = decode(encode(image, "jpg", quality=95, background=(255, 0, 0)))
    assert out.shape == (32, 64, 3)
    assert np.abs(out[4:28, 4:28].astype(int) - (255, 0, 0)).max() <= 4
    assert np.abs(out[4:28, 36:60].astype(int) - (0, 255, 0)).max() <= 4


def test_composite_is_exact_integer_blend():
    bgra = np.array([[[200, 100, 0, 0], [200, 100, 0, 255], [200, 100, 0, 128]]], np.uint8)
    out = imageio._composite(bgra, (10, 20, 30))
    np.testing.assert_array_equal(out, [[[10, 20, 30], [200, 100, 0], [105, 60, 15]]])


def test_jpg_scales_16_bit_down():
    image = _asym()
    assert encode(image.astype(np.uint16) * 257, "jpg") == encode(image, "jpg")
    np.testing.assert_array_equal(
        imageio._to_uint8(np.array([0, 128, 129, 257, 385, 386, 65535], np.uint16)),
        [0, 0, 1, 1, 1, 2, 255],
    )


def test_jpg_gray_stays_gray():
    data = encode(GRAY16, "jpg")
    sof = next(p for m, p in imageio._jpeg_segments(data) if m == 0xC0)
    assert sof[5] == 1  # one component
    assert decode(data).shape == GRAY16.shape


@pytest.mark.parametrize(
    "image", [GRAY8, GRAY16, BGR8, BGR16, BGRA8, BGRA16], ids=["gray8", "gray16", "bgr8", "bgr16", "bgra8", "bgra16"]
)
def test_png_keeps_depth_alpha_and_gray(image):
    out = decode(encode(image, "png", quality=1))
    assert out.dtype == image.dtype
    np.testing.assert_array_equal(out, image)


def test_png_accepts_single_channel_3d_and_non_contiguous():
    assert encode(GRAY8[:, :, None], "png") == encode(GRAY8, "png")
    view = BGR8[:, ::-1]
    assert encode(view, "png") == encode(np.ascontiguousarray(view), "png")


def test_webp_keeps_alpha_scales_16_bit_and_expands_gray():
    bgra = np.dstack([_asym(), np.full((48, 64), 90, np.uint8)])
    out = decode(encode(bgra.astype(np.uint16) * 257, "webp", quality=95))
    assert out.shape == (48, 64, 4) and out.dtype == np.uint8
    assert np.abs(out[:, :, 3].astype(int) - 90).max() <= 2
    gray = decode(encode(_asym()[:, :, 0], "webp"))
    assert gray.shape == (48, 64, 3)


def test_webp_quality_100_is_still_lossy():
    data = encode(BGR8, "webp", quality=100)
    assert data[12:16] == b"VP8 "


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp"])
@pytest.mark.parametrize("image", [GRAY8, BGR16, BGRA8], ids=["gray8", "bgr16", "bgra8"])
def test_encode_is_deterministic(fmt, image):
    first = encode(image, fmt, quality=80)
    assert first == encode(image.copy(), fmt, quality=80)
    assert read_dimensions(first) == (image.shape[1], image.shape[0])


def test_encode_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown image format 'jpeg'"):
        encode(BGR8, "jpeg")
    with pytest.raises(ValueError, match="quality"):
        encode(BGR8, "jpg", quality=0)
    with pytest.raises(ValueError, match="quality"):
        encode(BGR8, "webp", quality=101)
    with pytest.raises(ValueError, match="background"):
        encode(BGRA8, "jpg", background=(0, 0, 256))
    with pytest.raises(ValueError, match="float32"):
        encode(BGR8.astype(np.float32), "png")
    with pytest.raises(ValueError, match="shape"):
        encode(np.zeros((4, 4, 2), np.uint8), "png")


def test_format_tables_agree():
    assert set(formats.CONTENT_TYPES) == set(formats.EXTENSIONS) == {"jpg", "png", "webp"}
    for fmt, ext in formats.EXTENSIONS.items():
        assert read_dimensions(encode(BGR8, fmt)) == (40, 24), ext
