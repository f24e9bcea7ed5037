"""Which storage a location URL names: a folder (a path or ``file://``) or ``s3://bucket/prefix``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.steps.storage import LocalStorage, Storage


def open_storage(url: str) -> Storage:
    """The storage for a location URL: a path, ``file://...`` or ``s3://bucket/prefix``."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        path = Path(unquote(parsed.path) if parsed.scheme == "file" else url).expanduser()
        return LocalStorage(path.resolve(), url)
    if parsed.scheme == "s3":
        from kaleidoscope.steps.s3 import S3Storage  # boto3 is only imported when S3 is used

        return S3Storage.from_url(url)
    raise InvalidInput(f"location: bad value {url!r}: use a folder, file:// or s3://bucket/prefix")
