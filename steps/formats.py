"""The output formats a spec may choose, with their file extensions and content types.

Plain data shared by the spec (its ``output.format`` choices), output names and the image codec,
so naming an output never loads OpenCV.
"""

from __future__ import annotations

#: Format -> the extension of its outputs' keys (and what OpenCV's encoder is asked for).
EXTENSIONS = {"jpg": ".jpg", "png": ".png", "webp": ".webp"}
#: Format -> the Content-Type its outputs are stored with.
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
