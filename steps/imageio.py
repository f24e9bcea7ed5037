"""Image bytes <-> numpy arrays for the augmentation steps.

`decode` keeps what the pixels are; `encode` adapts them to what the output
format can hold. Both are pure functions of their inputs, and `encode` is
deterministic (same array and options -> identical bytes).

What `decode` returns:

| Source pixels                                   | Array returned                      |
|-------------------------------------------------|-------------------------------------|
| 8-bit grayscale (JPEG, PNG, BMP, TIFF)          | (H, W) uint8                        |
| 16-bit grayscale (PNG, TIFF)                    | (H, W) uint16                       |
| colour, 8- or 16-bit                            | (H, W, 3) BGR, uint8 or uint16      |
| colour + alpha (incl. PNG tRNS colour key)      | (H, W, 4) BGRA, uint8 or uint16     |
| grayscale + alpha                               | (H, W, 4) BGRA (gray copied to BGR) |
| palette PNG                                     | BGR, or BGRA when it has tRNS       |
| grayscale PNG with a tRNS gray key              | (H, W) gray; the key is ignored     |
| float, signed or 32-bit integer samples         | refused with ImageError             |
| animated GIF or WebP / multi-page TIFF          | first frame / first page            |

EXIF orientation (JPEG, PNG eXIf, WebP EXIF) is applied, so arrays are
upright. OpenCV's TIFF reader already applies the TIFF orientation tag.

What `encode` does, per input kind and output format:

| Input       | jpg                                         | png             | webp                             |
|-------------|---------------------------------------------|-----------------|----------------------------------|
| gray uint8  | grayscale JPEG                              | 8-bit gray PNG  | expanded to BGR                  |
| gray uint16 | scaled to 8-bit, grayscale JPEG             | 16-bit gray PNG | scaled to 8-bit, expanded to BGR |
| BGR uint8   | as is                                       | as is           | as is                            |
| BGR uint16  | scaled to 8-bit                             | 16-bit PNG      | scaled to 8-bit                  |
| BGRA uint8  | composited over `background`, alpha dropped | 8-bit RGBA PNG  | WebP with alpha                  |
| BGRA uint16 | scaled to 8-bit, composited, alpha dropped  | 16-bit RGBA PNG | scaled to 8-bit, WebP with alpha |

"Scaled to 8-bit" means round(value / 257), so 65535 -> 255 exactly.
`quality` (1..100) is the JPEG quality (baseline, no optimised Huffman
tables) or the WebP quality; WebP is always lossy, even at 100 (OpenCV would
switch to lossless only above 100, which is refused). PNG ignores `quality`
and always uses zlib's run-length strategy with the average row filter.
Settings chosen by measurement (tests/benchmarks/bench_ops.py, docs/speed.md).

Decompression bombs: `decode` reads width and height from the header and
refuses oversize images before any pixel is decoded. OpenCV's own limit
(env OPENCV_IO_MAX_IMAGE_PIXELS, read at import) is a process-wide backstop
for formats whose header is not parsed here.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from kaleidoscope.steps.formats import EXTENSIONS


class ImageError(ValueError):
    """An input that cannot become an image; str(e) is a one-line reason recorded in the manifest."""


DEFAULT_MAX_PIXELS = 100_000_000

# zlib's run-length strategy (matches of distance 1 only) on rows filtered by the
# average of the left and upper neighbours, measured on 400x400 outputs: as fast
# as OpenCV's default (RLE with the sub filter) and ~4% smaller; 3.4x faster and
# ~7% smaller than zlib level 3 with libpng's filter choice (the setting before);
# 8x faster than level 6 and ~5% smaller. The level must come first: OpenCV resets
# the strategy when it reads a compression level; with RLE the level only matters
# if 0.
_PNG_PARAMS = [
    cv2.IMWRITE_PNG_COMPRESSION,
    1,
    cv2.IMWRITE_PNG_STRATEGY,
    cv2.IMWRITE_PNG_STRATEGY_RLE,
    cv2.IMWRITE_PNG_FILTER,
    cv2.IMWRITE_PNG_FILTER_AVG,
]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ORIENTATION_TAG = 0x0112


def _unpack(fmt: str, buf: bytes, offset: int) -> tuple | None:
    """struct.unpack_from that returns None instead of reading out of bounds."""
    if offset < 0 or offset + struct.calcsize(fmt) > len(buf):
        return None
    return struct.unpack_from(fmt, buf, offset)


def _tiff_ifd0(tiff: bytes, tags: set[int]) -> dict[int, int]:
    """First SHORT/LONG value of the wanted tags in IFD0 of a TIFF structure.

    Used for TIFF files and for EXIF blobs (which are TIFF structures). Every
    offset is bounds-checked, so truncated or hostile data yields fewer tags,
    never an exception.
    """
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None:
        return {}
    head = _unpack(order + "HI", tiff, 2)
    if not head or head[0] != 42:
        return {}
    ifd = head[1]
    count = _unpack(order + "H", tiff, ifd)
    found: dict[int, int] = {}
    for i in range(count[0] if count else 0):
        entry = _unpack(order + "HHI", tiff, ifd + 2 + 12 * i)
        if entry is None:
            break
        tag, kind, n = entry
        if tag in tags and n >= 1 and kind in (3, 4):
            value = _unpack(order + ("H" if kind == 3 else "I"), tiff, ifd + 10 + 12 * i)
            if value is not None:
                found.setdefault(tag, value[0])
    return found


def _jpeg_segments(data: bytes):
    """Yield (marker, payload) of JPEG header segments up to the scan data."""
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD7:  # standalone markers
            i += 2
        elif marker in (0xD9, 0xDA):  # EOI / SOS: no more headers
            return
        else:
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if length < 2:
                return
            yield marker, data[i + 4 : i + 2 + length]
            i += 2 + length


def _sniff(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == _PNG_SIGNATURE:
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] in (b"II*\0", b"MM\0*"):
        return "tiff"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def _dims_jpeg(data: bytes) -> tuple[int, int] | None:
    for marker, payload in _jpeg_segments(data):
        # SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC) which share the range.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            hw = _unpack(">HH", payload, 1)
            return (hw[1], hw[0]) if hw else None
    return None


def _dims_png(data: bytes) -> tuple[int, int] | None:
    return _unpack(">II", data, 16) if data[12:16] == b"IHDR" else None


def _dims_webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        wh = _unpack("<HH", data, 26)
        return (wh[0] & 0x3FFF, wh[1] & 0x3FFF) if wh else None
    if chunk == b"VP8L" and data[20:21] == b"\x2f":
        bits = _unpack("<I", data, 21)
        return ((bits[0] & 0x3FFF) + 1, ((bits[0] >> 14) & 0x3FFF) + 1) if bits else None
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def _dims_bmp(data: bytes) -> tuple[int, int] | None:
    header = _unpack("<I", data, 14)
    if not header:
        return None
    if header[0] == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
        return _unpack("<HH", data, 18)
    wh = _unpack("<ii", data, 18) if header[0] >= 16 else None
    return (abs(wh[0]), abs(wh[1])) if wh else None  # negative height = top-down rows


def _dims_tiff(data: bytes) -> tuple[int, int] | None:
    tags = _tiff_ifd0(data, {256, 257})
    return (tags[256], tags[257]) if len(tags) == 2 else None


_DIMENSION_READERS = {
    "jpeg": _dims_jpeg,
    "png": _dims_png,
    "webp": _dims_webp,
    "bmp": _dims_bmp,
    "tiff": _dims_tiff,
    "gif": lambda data: _unpack("<HH", data, 6),  # logical screen = canvas OpenCV allocates
}


def read_dimensions(data: bytes) -> tuple[int, int] | None:
    """Read (width, height) from an image header without decoding pixels.

    Args:
        data: Encoded image bytes (only the first few hundred bytes matter,
            except for JPEG, where the frame header may follow large APP segments).

    Returns:
        (width, height) for JPEG, PNG, WebP (VP8, VP8L, VP8X), BMP, TIFF (both
        byte orders) and GIF; None when the format is not recognised or the
        header is truncated or claims a zero size.
    """
    kind = _sniff(data)
    dims = _DIMENSION_READERS[kind](data) if kind else None
    if not dims or dims[0] <= 0 or dims[1] <= 0:
        return None
    return int(dims[0]), int(dims[1])


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageError(f"image is {width}x{height} = {width * height} pixels, over the limit of {max_pixels}")


def _exif_orientation(exif: bytes | None) -> int:
    """Orientation 1..8 from an EXIF (TIFF-structured) blob; 1 when absent or invalid."""
    if not exif:
        return 1
    if exif.startswith(b"Exif\0\0"):  # some writers keep the APP1 prefix in PNG eXIf
        exif = exif[6:]
    value = _tiff_ifd0(exif, {_ORIENTATION_TAG}).get(_ORIENTATION_TAG, 1)
    return value if 1 <= value <= 8 else 1


def _apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright according to EXIF orientation 1..8."""
    if orientation in (2, 3, 4):
        image = {2: image[:, ::-1], 3: image[::-1, ::-1], 4: image[::-1]}[orientation]
    elif orientation in (5, 6, 7, 8):
        t = image.swapaxes(0, 1)
        # 5 transpose, 6 rotate 90 CW, 7 transverse, 8 rotate 90 CCW.
        image = {5: t, 6: t[:, ::-1], 7: t[::-1, ::-1], 8: t[::-1]}[orientation]
    return np.ascontiguousarray(image)


def _imdecode(data: bytes) -> tuple[np.ndarray | None, bytes | None]:
    """Decode with IMREAD_UNCHANGED (keeps alpha and depth) and return the EXIF blob too."""
    buf = np.frombuffer(data, np.uint8)
    with_metadata = getattr(cv2, "imdecodeWithMetadata", None)
    if with_metadata is not None:
        image, types, blobs = with_metadata(buf, cv2.IMREAD_UNCHANGED)
        exif = next(
            (
                np.asarray(b, np.uint8).tobytes()
                for t, b in zip(types, blobs, strict=False)
                if t == cv2.IMAGE_METADATA_EXIF
            ),
            None,
        )
        return image, exif
    # OpenCV < 4.12 has no metadata API; JPEG is the format whose EXIF matters most.
    exif = None
    if _sniff(data) == "jpeg":
        exif = next((p[6:] for m, p in _jpeg_segments(data) if m == 0xE1 and p[:6] == b"Exif\0\0"), None)
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED), exif


def decode(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode image bytes for augmentation, upright and with depth and alpha kept.

    Args:
        data: Encoded image (any format OpenCV reads).
        max_pixels: Largest width*height accepted; checked from the header
            before decoding, and again after decoding for formats whose
            header is not parsed here.

    Returns:
        (H, W) gray, (H, W, 3) BGR or (H, W, 4) BGRA array, uint8 or uint16.

    Raises:
        ImageError: Empty data, oversize image, undecodable data or an
            unsupported sample type (float, signed, 32-bit).
    """
    if not data:
        raise ImageError("empty file")
    dims = read_dimensions(data)
    if dims:
        _check_pixels(*dims, max_pixels)
    try:
        image, exif = _imdecode(data)
    except cv2.error as exc:  # e.g. OpenCV's own pixel limit
        raise ImageError(f"not a decodable image (OpenCV: {' '.join(str(exc).split())})") from exc
    if image is None or image.size == 0:
        kind = _sniff(data)
        what = f"{kind.upper()} data OpenCV cannot decode" if kind else "unrecognised format"
        raise ImageError(f"not a decodable image ({what}; {len(data)} bytes starting {data[:8].hex(' ')})")
    _check_pixels(image.shape[1], image.shape[0], max_pixels)
    if image.dtype not in (np.uint8, np.uint16):
        # Scaling float/signed data to 8/16 bits needs a range we cannot know; refusing is honest.
        raise ImageError(f"unsupported sample type {image.dtype} (only 8- and 16-bit unsigned images)")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    elif image.ndim == 3 and image.shape[2] == 2:  # gray+alpha, should OpenCV ever return it
        image = np.dstack([image[:, :, 0]] * 3 + [image[:, :, 1]])
    elif image.ndim != 2 and image.shape[2] not in (3, 4):
        raise ImageError(f"unsupported channel count {image.shape[2]}")
    return _apply_orientation(image, _exif_orientation(exif))


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)  # == round(v / 257)


def _composite(bgra: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """Alpha-blend 8-bit BGRA over a solid BGR colour, in exact integer arithmetic."""
    alpha = bgra[:, :, 3:4].astype(np.uint32)
    bg = np.asarray(background, np.uint32)
    blended = bgra[:, :, :3].astype(np.uint32) * alpha + bg * (255 - alpha)
    return ((blended + 127) // 255).astype(np.uint8)


def encode(
    image: np.ndarray,
    fmt: str,
    *,
    quality: int = 90,
    background: tuple[int, int, int] = (255, 255, 255),
) -> bytes:
    """Encode an array as jpg, png or webp (see the module table for conversions).

    Args:
        image: (H, W), (H, W, 1), (H, W, 3) BGR or (H, W, 4) BGRA, uint8 or uint16.
        fmt: "jpg", "png" or "webp".
        quality: 1..100 for jpg and webp (always lossy); ignored for png.
        background: BGR colour (0..255 each) that jpg composites alpha over.

    Returns:
        The encoded bytes; identical for identical inputs.

    Raises:
        ValueError: Unknown fmt, unsupported array, or out-of-range quality/background.
    """
    if fmt not in EXTENSIONS:
        raise ValueError(f"unknown image format {fmt!r}; expected one of {', '.join(EXTENSIONS)}")
    image = np.asarray(image)
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"cannot encode {image.dtype} pixels; expected uint8 or uint16")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))) or image.size == 0:
        raise ValueError(f"cannot encode an array of shape {image.shape}")

    if fmt == "png":
        params = list(_PNG_PARAMS)
    else:
        if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
            raise ValueError(f"quality must be an integer in 1..100, got {quality!r}")
        image = _to_uint8(image)
        if fmt == "jpg":
            if len(background) != 3 or not all(0 <= int(c) <= 255 for c in background):
                raise ValueError(f"background must be a BGR tuple of 0..255, got {background!r}")
            if image.ndim == 3 and image.shape[2] == 4:
                image = _composite(image, background)
            # Baseline 4:2:0 with standard Huffman tables: widest reader support, cheapest
            # encode, bytes that depend only on pixels and quality. Measured at q90 on 400x400
            # outputs: optimised tables save 5% of the bytes for 2.6x the time, progressive 9%
            # for 7x; 4:2:2 / 4:4:4 chroma cost 1.3x / 1.9x the time and 25% / 86% more bytes.
            params = [
                cv2.IMWRITE_JPEG_QUALITY,
                int(quality),
                cv2.IMWRITE_JPEG_PROGRESSIVE,
                0,
                cv2.IMWRITE_JPEG_OPTIMIZE,
                0,
            ]
        else:
            if image.ndim == 2:  # WebP has no grayscale mode
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
            if hasattr(cv2, "IMWRITE_WEBP_LOSSLESS_MODE"):  # pin lossy in case defaults change
                params += [cv2.IMWRITE_WEBP_LOSSLESS_MODE, cv2.IMWRITE_WEBP_LOSSLESS_OFF]
    ok, buf = cv2.imencode(EXTENSIONS[fmt], np.ascontiguousarray(image), params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {image.shape} {image.dtype} array as {fmt}")
    return buf.tobytes()
