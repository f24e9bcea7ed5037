"""Errors that carry the command line's exit-code contract: 2 for invalid input, 1 for a failed run."""

from __future__ import annotations


class KaleidoscopeError(Exception):
    """A failure the command line reports as one line and exit code 1."""

    exit_code = 1


class InvalidInput(KaleidoscopeError):
    """Bad input found before any work started (spec, options, manifest): exit code 2.

    Holds every problem found, each already formatted as ``<where>: <what is wrong>``, so a
    user fixes them all in one round instead of one per run.
    """

    exit_code = 2

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class StorageError(KaleidoscopeError):
    """A location that cannot be read or written (missing folder, bucket, permission)."""


class PreconditionFailed(StorageError):
    """A conditional write or delete lost: the object exists, changed or is gone."""
