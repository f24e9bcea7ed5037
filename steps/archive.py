"""WebDataset tar shards, written deterministically: the byte layout of the ``webdataset`` output
container (issue 17), independent of where the bytes go.

A WebDataset shard is a plain POSIX tar whose members are grouped into samples by name: the
sample key is a member's path up to the first ``.`` of its file name, the rest is the field
(``cats/tom%2Ejpg__flip_lr.jpg`` and ``.json`` are fields ``jpg`` and ``json`` of one sample).
Readers differ on where they cut: ``webdataset`` takes the first dot of the last path component,
🤗 ``datasets`` the first dot of the whole path. So a sample key here holds no dot at all: a
source key's ``.`` and ``%`` are percent-encoded, which is reversible and never makes two keys
one (``tom.jpg`` and ``tom_jpg`` stay apart).

Determinism is the point: a retried shard must rewrite the same bytes. Every header has mtime 0,
uid and gid 0, no user or group name, mode 0444, and members go in the order they are added.
Names over ustar's 100 bytes, or not ASCII, get a pax extended header (``path=``, UTF-8), the
format's own rule, so no name is truncated or mangled; Python's :mod:`tarfile` builds the headers.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kaleidoscope.steps.naming import subset_label
from kaleidoscope.steps.storage import Storage, Upload

BLOCK = tarfile.BLOCKSIZE
#: Upload part of an archive: S3 bills each part as a PUT, so a 512 MB archive in 128 MiB parts is
#: 4 requests, not 32 at S3's usual 16 MB; one part is what a pod holds in memory for its open
#: archive (an eighth of the augment pod's 2 GiB request). Parts make most of a packed run's
#: writes (docs/scale.md), so halving them is what keeps them under 1/1,000 of one PUT an output.
ARCHIVE_PART_BYTES = 128 * 1024 * 1024
#: The end-of-archive marker: two zero blocks.
TRAILER = bytes(2 * BLOCK)

# Characters a sample key cannot hold as they are: the dot splits key from field, the percent
# sign is the escape, a backslash is a separator to some tar readers, control characters are
# nothing a file name should carry.
_ESCAPED = {ord("."), ord("%"), ord("\\"), *range(0x20), 0x7F}


def escape_key(source_key: str) -> str:
    """``source_key`` as a sample-key path: no dot, no empty or absolute path component.

    ``.``, ``%``, ``\\`` and control characters become ``%XX``; a ``/`` that would start, end or
    double a path component becomes ``%2F``. Any other character, unicode included, stays.
    """
    escaped = []
    last = len(source_key) - 1
    for position, character in enumerate(source_key):
        if ord(character) in _ESCAPED:
            escaped.append(f"%{ord(character):02X}")
        elif character == "/" and (position == 0 or position == last or source_key[position + 1] == "/"):
            escaped.append("%2F")
        else:
            escaped.append(character)
    return "".join(escaped)


def sample_key(source_key: str, labels: Sequence[str]) -> str:
    """One output's sample key: the escaped source key, ``__``, the labels applied (as in file names)."""
    return f"{escape_key(source_key)}__{subset_label(labels)}"


def header(name: str, size: int) -> bytes:
    """The header block(s) of a regular member ``name`` of ``size`` bytes, deterministic."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o444
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")


def padding(size: int) -> bytes:
    """Zero bytes that round a member's data up to a whole block."""
    return bytes(-size % BLOCK)


@dataclass(frozen=True)
class Member:
    """Where one member's data sits in its archive: a reader can range-GET ``offset`` to
    ``offset + size - 1`` and have exactly the member's bytes."""

    name: str
    offset: int
    size: int


class Packer:
    """Lays out one archive: :meth:`add` returns a member's bytes (header, data, padding) and
    where its data starts; the caller sends them on in order and ends with :data:`TRAILER`.

    It holds no data, only the position, so an archive of any size is streamed.
    """

    def __init__(self) -> None:
        self.position = 0

    def add(self, name: str, data: bytes, head: bytes | None = None) -> tuple[list[bytes], Member]:
        """``head`` is the member's :func:`header` when the caller has built it already."""
        head = head if head is not None else header(name, len(data))
        pieces = [head, data, padding(len(data))]
        member = Member(name, self.position + len(head), len(data))
        self.position += sum(map(len, pieces))
        return pieces, member

    def size_with_trailer(self) -> int:
        """The archive's size if it ended now."""
        return self.position + len(TRAILER)


@dataclass(frozen=True)
class Placed:
    """Where a member went: the archive's key (in its storage) and the member within it."""

    archive: str
    member: Member


class ArchiveSeries:
    """Samples streamed into archives of at most ``max_bytes`` each, the ``n``-th stored under
    ``key_for(n)``: one upload open at a time, so memory is a part buffer, never an archive.

    A sample's members always share an archive (readers group a sample by adjacent names), so an
    archive passes ``max_bytes`` only when one sample alone is larger. Where the cuts fall
    depends on the bytes and their order alone: the same samples give the same archives.
    """

    def __init__(
        self,
        storage: Storage,
        key_for: Callable[[int], str],
        max_bytes: int,
        *,
        staging_for: Callable[[int], str] | None = None,
    ):
        """With ``staging_for``, archives are staged (:meth:`Storage.open_staged`), not committed:
        :attr:`staged` holds their tokens for whoever publishes them."""
        self.storage, self.key_for, self.max_bytes = storage, key_for, max_bytes
        self.staging_for = staging_for
        self.keys: list[str] = []
        self.staged: list[dict] = []
        self._upload: Upload | None = None
        self._packer = Packer()

    def add(self, key: str, fields: Sequence[tuple[str, bytes]]) -> list[Placed]:
        """Store one sample: ``fields`` are ``(extension, bytes)``, members ``<key>.<extension>``."""
        # Each header is built once: it sizes the sample here and is written below.
        members = [(f"{key}.{extension}", data, header(f"{key}.{extension}", len(data))) for extension, data in fields]
        size = sum(len(head) + len(data) + len(padding(len(data))) for _, data, head in members)
        if self._upload is not None and self._packer.size_with_trailer() + size > self.max_bytes:
            self._finish()
        if self._upload is None:
            number = len(self.keys)
            self.keys.append(self.key_for(number))
            if self.staging_for is None:
                self._upload = self.storage.open_upload(self.keys[-1], "application/x-tar", ARCHIVE_PART_BYTES)
            else:
                self._upload = self.storage.open_staged(
                    self.keys[-1], self.staging_for(number), "application/x-tar", ARCHIVE_PART_BYTES
                )
            self._packer = Packer()
        placed = []
        for name, data, head in members:
            pieces, member = self._packer.add(name, data, head)
            for piece in pieces:
                self._upload.write(piece)
            placed.append(Placed(self.keys[-1], member))
        return placed

    def _finish(self) -> None:
        upload, self._upload = self._upload, None
        if upload is not None:
            upload.write(TRAILER)
            if self.staging_for is None:
                upload.commit()
            else:
                self.staged.append(upload.stage())

    def close(self) -> list[str]:
        """Commit (or stage) the last archive; return every archive's key, in order."""
        self._finish()
        return list(self.keys)

    def abort(self) -> None:
        """Drop the archive being written (committed ones stay: a retry rewrites them, byte for byte)."""
        upload, self._upload = self._upload, None
        if upload is not None:
            upload.abort()
