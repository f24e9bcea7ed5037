"""A size-limited tmpfs mounted on a host folder: an ``emptyDir`` whose ``sizeLimit`` refuses
the write past it (``ENOSPC``), while the executor still reads the node's output files from the
host after the container is gone.

Mounting needs ``CAP_SYS_ADMIN`` (root); :func:`usable` says whether this process has it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import tempfile
from pathlib import Path

_MNT_DETACH = 2  # <sys/mount.h>: unmount now, even while a file in it is still open
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def mount(folder: Path, size: int | None) -> None:
    """Mount a tmpfs of ``size`` bytes (None: the kernel's default, half the memory) on ``folder``,
    writable by every user, as Kubernetes makes an emptyDir.

    Raises:
        OSError: the mount failed (EPERM without CAP_SYS_ADMIN).
    """
    options = "mode=0777" + (f",size={size}" if size is not None else "")
    if _libc.mount(b"tmpfs", os.fsencode(folder), b"tmpfs", 0, options.encode()) != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number), str(folder))


def unmount(folder: Path) -> None:
    if _libc.umount2(os.fsencode(folder), _MNT_DETACH) != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number), str(folder))


def usable() -> str | None:
    """None when this process can mount a tmpfs, else why not."""
    with tempfile.TemporaryDirectory(prefix="kaleidoscope-tmpfs-probe-") as folder:
        try:
            mount(Path(folder), 4096)
        except OSError as error:
            return f"cannot mount a tmpfs ({error.strerror}; it needs root)"
        unmount(Path(folder))
    return None
