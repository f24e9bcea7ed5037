"""Storage: the interface every location offers, and its implementation for a local folder (S3's
is :mod:`steps.s3`; :func:`steps.locations.open_storage` picks one for a URL). Keys are relative
to the location's root and always use ``/``.

Every write is atomic: bytes go to a temporary name beside the target and are renamed over it,
so a killed process never leaves half an image or half a manifest under its final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from kaleidoscope.steps.errors import StorageError


class Storage(ABC):
    """A place that holds keys; one instance per source or destination location."""

    url: str

    @abstractmethod
    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Yield every key under ``prefix`` in lexicographic order, streaming (never all at once)."""

    @abstractmethod
    def read(self, key: str) -> bytes:
        """Return the object's bytes; StorageError naming the key when it cannot."""

    @abstractmethod
    def read_lines(self, key: str) -> Iterator[bytes]:
        """Yield the object's non-empty lines, streaming (manifests can be large)."""

    @abstractmethod
    def etags(self, prefix: str) -> dict[str, str]:
        """``{key: MD5 hex}`` of the objects under ``prefix`` (S3's ETag for single-part objects):
        what a retried step compares against to skip outputs already stored with the right bytes."""

    @abstractmethod
    def write(self, key: str, data: bytes, content_type: str | None = None) -> None:
        """Store ``data`` under ``key`` atomically."""

    @abstractmethod
    def write_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        """Store a local file's contents under ``key`` atomically (large objects, streamed)."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether ``key`` holds an object."""

    def check(self) -> None:
        """Fail early, naming the location, when it cannot be used at all (e.g. a missing bucket)."""
        return  # a folder needs no check before use; S3 overrides this

    def describe(self, key: str) -> str:
        """The key's full URL, for messages and records."""
        return f"{self.url.rstrip('/')}/{key}"


class LocalStorage(Storage):
    """A folder on this machine."""

    def __init__(self, root: Path, url: str | None = None):
        self.root = root
        self.url = url or str(root)
        self._root = str(root)
        self._folders: set[str] = set()

    def _path(self, key: str) -> str:
        # Plain strings, not pathlib: this runs 2^N times per image and pathlib's parsing cost
        # more than the write itself.
        # Keys come from listings and specs; refuse any that would escape the root.
        if not key or key[0] == "/" or any(part in ("", ".", "..") for part in key.split("/")):
            raise StorageError(f"{self.describe(key)}: not a valid key (empty, absolute or with '..')")
        return f"{self._root}/{key}"

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        if not self.root.is_dir():
            raise StorageError(f"{self.url}: no such folder")
        start = self.root / prefix if prefix else self.root
        if not start.exists():
            return
        yield from self._walk(start, prefix.strip("/"))

    def _walk(self, folder: Path, relative: str) -> Iterator[str]:
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            raise StorageError(f"{folder}: cannot list: {error.strerror}") from None
        # A sorted merge of files and sub-folders gives the same order S3 listings use.
        pending: list[tuple[str, os.DirEntry[str] | None]] = []
        for entry in entries:
            key = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir(follow_symlinks=False):
                pending.append((key + "/", entry))
            elif entry.is_file():
                pending.append((key, None))
        for key, subfolder in sorted(pending, key=lambda item: item[0]):
            if subfolder is None:
                yield key
            else:
                yield from self._walk(Path(subfolder.path), key.rstrip("/"))

    def read(self, key: str) -> bytes:
        try:
            with open(self._path(key), "rb") as handle:
                return handle.read()
        except OSError as error:
            raise StorageError(f"{self.describe(key)}: cannot read: {error.strerror or error}") from None

    def read_lines(self, key: str) -> Iterator[bytes]:
        try:
            with open(self._path(key), "rb") as handle:
                for line in handle:
                    if line.strip():
                        yield line.rstrip(b"\n")
        except OSError as error:
            raise StorageError(f"{self.describe(key)}: cannot read: {error.strerror or error}") from None

    def etags(self, prefix: str) -> dict[str, str]:
        folder, _, start = prefix.rpartition("/")
        base = self.root / folder if folder else self.root
        result: dict[str, str] = {}
        try:
            entries = [entry for entry in os.scandir(base) if entry.name.startswith(start) and entry.is_file()]
        except FileNotFoundError:
            return result
        for entry in entries:
            with open(entry.path, "rb") as handle:
                result[f"{folder}/{entry.name}" if folder else entry.name] = hashlib.file_digest(
                    handle, "md5"
                ).hexdigest()
        return result

    def write(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._atomic(self._path(key), lambda handle: handle.write(data))

    def write_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        def copy(handle) -> None:
            with open(path, "rb") as source:
                while chunk := source.read(1 << 20):
                    handle.write(chunk)

        self._atomic(self._path(key), copy)

    def _atomic(self, target: str, fill) -> None:
        # A step writes 2^N small files per image, so this path is kept to open, write, close,
        # rename: folders already made are remembered, and the temporary name is unique per
        # process and thread instead of coming from mkstemp's retry loop.
        folder, name = os.path.split(target)
        temporary = f"{folder}/.{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            if folder not in self._folders:
                os.makedirs(folder, exist_ok=True)
                self._folders.add(folder)
            handle = open(temporary, "wb")  # noqa: SIM115 - entered just below, after the error mapping
        except OSError as error:
            raise StorageError(f"{target}: cannot write: {error.strerror or error}") from None
        try:
            with handle:
                fill(handle)
            os.replace(temporary, target)
        except BaseException as error:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            if isinstance(error, OSError):
                raise StorageError(f"{target}: cannot write: {error.strerror or error}") from None
            raise

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))
