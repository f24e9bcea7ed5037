"""Storage: the interface every location offers, and its implementation for a local folder (S3's
is :mod:`steps.s3`; :func:`steps.locations.open_storage` picks one for a URL). Keys are relative
to the location's root and always use ``/``.

Every write is atomic: bytes go to a temporary name beside the target and are renamed over it,
so a killed process never leaves half an image or half a manifest under its final name.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kaleidoscope.steps.errors import KaleidoscopeError, ObjectMissing, PreconditionFailed, StorageDenied, StorageError


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

    # Conditional writes: what a claim on a destination is built on. A tag identifies one version
    # of an object (S3's ETag; a digest on a local disk); a write or delete that names a tag
    # happens only if the object still has it, so of two racing writers exactly one wins.

    @abstractmethod
    def read_tagged(self, key: str) -> tuple[bytes, str] | None:
        """The object's bytes and tag, or None when there is no such object."""

    @abstractmethod
    def create(self, key: str, data: bytes, content_type: str | None = None) -> str:
        """Store ``data`` under ``key`` only if no object is there; return its tag.

        Raises:
            PreconditionFailed: an object already exists (another writer won).
        """

    @abstractmethod
    def replace(self, key: str, data: bytes, tag: str, content_type: str | None = None) -> str:
        """Overwrite ``key`` only if it still has ``tag``; return the new tag.

        Raises:
            PreconditionFailed: the object changed or is gone since ``tag`` was read.
        """

    @abstractmethod
    def delete_tagged(self, key: str, tag: str) -> None:
        """Delete ``key`` only if it still has ``tag``.

        Raises:
            PreconditionFailed: the object changed since ``tag`` was read.
        """

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete ``key``; an absent key is no error."""

    @abstractmethod
    def open_upload(self, key: str, content_type: str | None = None, part_bytes: int | None = None) -> Upload:
        """Start storing an object of unknown size under ``key``, written piece by piece: nothing
        is visible under ``key`` until :meth:`Upload.commit` (use :func:`streamed`). ``part_bytes``
        is what a store that uploads in parts holds in memory and sends at once (its default if None)."""

    def open_staged(
        self, key: str, staging_key: str, content_type: str | None = None, part_bytes: int | None = None
    ) -> Upload:
        """Start an object for ``key`` that :meth:`Upload.stage` stores whole but leaves invisible,
        until :meth:`publish_staged` (in any process, later) shows it under ``key``.

        Here it is committed under ``staging_key`` and published by a move: a rename on a disk.
        """
        return _StagedByMove(self.open_upload(staging_key, content_type, part_bytes), key, staging_key)

    def publish_staged(self, token: dict) -> None:
        """Show the object :meth:`Upload.stage` returned ``token`` for; repeating it is no error."""
        self.move(token["staged"], token["key"])

    def abort_staged(self, prefix: str) -> int:
        """Drop what was staged for keys under ``prefix`` and never published (a killed attempt's);
        return how many. Nothing to do where staging lives under the staging keys."""
        return 0

    def write_stream(self, key: str, chunks: Iterable[bytes], content_type: str | None = None) -> int:
        """Store the concatenated ``chunks`` under ``key`` atomically, in bounded memory and with no
        local file (an index of millions of keys must not be staged on a pod's disk); return the size."""
        with streamed(self, key, content_type) as upload:
            for chunk in chunks:
                upload.write(chunk)
        return upload.size

    @abstractmethod
    def move(self, key: str, target: str) -> None:
        """Move an object to another key of the same location (publishing a part, say).

        Repeating a finished move is no error: a retried step may find it done.
        """

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix``; return how many."""

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
            raise StorageDenied(f"{self.url}: no such folder")
        start = self.root / prefix if prefix else self.root
        if not start.exists():
            return
        yield from self._walk(start, prefix.strip("/"))

    def _walk(self, folder: Path, relative: str) -> Iterator[str]:
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            raise StorageError(f"{folder}: cannot list: {error.strerror}") from error
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
            raise _read_error(error)(f"{self.describe(key)}: cannot read: {error.strerror or error}") from error

    def read_lines(self, key: str) -> Iterator[bytes]:
        try:
            with open(self._path(key), "rb") as handle:
                for line in handle:
                    if line.strip():
                        yield line.rstrip(b"\n")
        except OSError as error:
            raise _read_error(error)(f"{self.describe(key)}: cannot read: {error.strerror or error}") from error

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
        try:
            temporary = self._temporary_beside(target)
            handle = open(temporary, "wb")  # noqa: SIM115 - entered just below, after the error mapping
        except OSError as error:
            raise StorageError(f"{target}: cannot write: {error.strerror or error}") from error
        try:
            with handle:
                fill(handle)
            os.replace(temporary, target)
        except BaseException as error:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            if isinstance(error, OSError):
                raise StorageError(f"{target}: cannot write: {error.strerror or error}") from error
            raise

    def _temporary_beside(self, target: str) -> str:
        """A temporary name in ``target``'s folder (made if need be), unique per process and thread:
        renamed over ``target``, it replaces it atomically."""
        folder, name = os.path.split(target)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        return f"{folder}/.{name}.{os.getpid()}.{threading.get_ident()}.tmp"

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    @contextlib.contextmanager
    def _locked(self, target: str) -> Iterator[None]:
        # One lock file per key serialises the compare and the swap of conditional writes; the
        # kernel drops an flock when its holder dies, so a killed writer never blocks the next.
        folder, name = os.path.split(target)
        os.makedirs(folder, exist_ok=True)
        descriptor = os.open(f"{folder}/.{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)

    def _current(self, target: str) -> tuple[bytes, str] | None:
        try:
            with open(target, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StorageError(f"{target}: cannot read: {error.strerror or error}") from error
        return data, hashlib.sha256(data).hexdigest()

    def read_tagged(self, key: str) -> tuple[bytes, str] | None:
        return self._current(self._path(key))

    def create(self, key: str, data: bytes, content_type: str | None = None) -> str:
        target = self._path(key)
        with self._locked(target):
            if os.path.exists(target):
                raise PreconditionFailed(f"{self.describe(key)}: already exists")
            self._atomic(target, lambda handle: handle.write(data))
        return hashlib.sha256(data).hexdigest()

    def replace(self, key: str, data: bytes, tag: str, content_type: str | None = None) -> str:
        target = self._path(key)
        with self._locked(target):
            current = self._current(target)
            if current is None or current[1] != tag:
                raise PreconditionFailed(f"{self.describe(key)}: changed since it was read")
            self._atomic(target, lambda handle: handle.write(data))
        return hashlib.sha256(data).hexdigest()

    def delete_tagged(self, key: str, tag: str) -> None:
        target = self._path(key)
        with self._locked(target):
            current = self._current(target)
            if current is not None and current[1] != tag:
                raise PreconditionFailed(f"{self.describe(key)}: changed since it was read")
            self.delete(key)

    def delete(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass
        except OSError as error:
            raise StorageError(f"{self.describe(key)}: cannot delete: {error.strerror or error}") from error

    def open_upload(self, key: str, content_type: str | None = None, part_bytes: int | None = None) -> Upload:
        return _LocalUpload(self, self._path(key))

    def move(self, key: str, target: str) -> None:
        source, destination = self._path(key), self._path(target)
        try:
            folder = os.path.dirname(destination)
            if folder not in self._folders:
                os.makedirs(folder, exist_ok=True)
                self._folders.add(folder)
            os.replace(source, destination)
        except FileNotFoundError as error:
            if os.path.isfile(destination):
                return  # moved by an earlier attempt
            raise ObjectMissing(f"{self.describe(key)}: cannot move: no such object") from error
        except OSError as error:
            raise StorageError(f"{self.describe(key)}: cannot move: {error.strerror or error}") from error

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        for key in list(self.list_keys(prefix)):
            self.delete(key)
            count += 1
        # Leave no empty folders behind: the layout is keys, folders are how a disk stores them.
        folder = prefix.rpartition("/")[0]
        top = self.root / folder if folder else None
        if top is not None and top.is_dir():
            for path in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                with contextlib.suppress(OSError):
                    path.rmdir()  # only succeeds when empty
            with contextlib.suppress(OSError):
                top.rmdir()
        return count


class Upload(ABC):
    """An object being stored piece by piece (an archive of hundreds of MB, an index): bounded
    memory, no staging, and invisible under its key until committed."""

    size = 0

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Append ``data``."""

    @abstractmethod
    def commit(self) -> None:
        """Make the object visible under its key, whole."""

    @abstractmethod
    def abort(self) -> None:
        """Give up: nothing appears under the key and nothing is left behind. Never raises."""

    def stage(self) -> dict:
        """Store every byte, visible nowhere yet; the token (JSON) is for :meth:`Storage.publish_staged`.
        Only an upload from :meth:`Storage.open_staged` can."""
        raise TypeError(f"{type(self).__name__} cannot be staged: open it with Storage.open_staged")


class _StagedByMove(Upload):
    """Committed under a staging key; published by moving it to its key."""

    def __init__(self, upload: Upload, key: str, staging_key: str):
        self.upload, self.key, self.staging_key = upload, key, staging_key

    def write(self, data: bytes) -> None:
        self.upload.write(data)
        self.size = self.upload.size

    def commit(self) -> None:
        raise TypeError("a staged upload is finished by stage(), then Storage.publish_staged")

    def stage(self) -> dict:
        self.upload.commit()
        return {"key": self.key, "staged": self.staging_key}

    def abort(self) -> None:
        self.upload.abort()


@contextlib.contextmanager
def streamed(storage: Storage, key: str, content_type: str | None = None) -> Iterator[Upload]:
    """``with streamed(storage, key) as upload: upload.write(...)``: committed when the block ends,
    aborted when it raises (a killed process leaves nothing under ``key`` either)."""
    upload = storage.open_upload(key, content_type)
    try:
        yield upload
    except BaseException:
        upload.abort()
        raise
    upload.commit()


class _LocalUpload(Upload):
    """A temporary file beside the target, renamed over it on commit."""

    def __init__(self, storage: LocalStorage, target: str):
        self.target = target
        try:
            self.temporary = storage._temporary_beside(target)
            self.handle = open(self.temporary, "wb")  # noqa: SIM115 - closed by commit or abort
        except OSError as error:
            raise StorageError(f"{target}: cannot write: {error.strerror or error}") from error

    def write(self, data: bytes) -> None:
        try:
            self.handle.write(data)
        except OSError as error:
            raise StorageError(f"{self.target}: cannot write: {error.strerror or error}") from error
        self.size += len(data)

    def commit(self) -> None:
        try:
            self.handle.close()
            os.replace(self.temporary, self.target)
        except OSError as error:
            self.abort()
            raise StorageError(f"{self.target}: cannot write: {error.strerror or error}") from error

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()
        with contextlib.suppress(OSError):
            os.unlink(self.temporary)


def _read_error(error: OSError) -> type[StorageError]:
    if isinstance(error, FileNotFoundError | IsADirectoryError | NotADirectoryError):
        return ObjectMissing
    if isinstance(error, PermissionError):
        return StorageDenied
    return StorageError


def read_json(storage: Storage, key: str) -> Any | None:
    """The JSON object at ``key`` (Kaleidoscope's own bookkeeping), or None when there is none.

    Raises:
        KaleidoscopeError: one line naming the object when it is not JSON (a corrupt or foreign
            object where bookkeeping should be): nothing is built on a guess.
    """
    found = storage.read_tagged(key)
    if found is None:
        return None
    try:
        return json.loads(found[0])
    except ValueError as error:
        raise KaleidoscopeError(
            f"{storage.describe(key)}: not valid JSON ({error}); was it changed by hand?"
        ) from error
