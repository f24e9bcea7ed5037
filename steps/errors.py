"""Errors that carry the command line's exit-code contract, and the contract itself.

Argo reads the exit code to decide whether a failed pod is worth another try (the workflow's
``retryStrategy.expression``), so each code says one thing about the cause:

| code | meaning | retried by the workflow |
|---|---|---|
| 0 | done (per-image failures within the limits are recorded, not fatal) | — |
| 1 | failed: an outage (throttling, network, 5xx, an expired token), a bug, lost claim, or too many images failed | yes, with backoff |
| 2 | invalid input: spec, options, parameters (found before any work) | no |
| 3 | permanent: missing bucket, access denied, no image matching ``include`` | no |
| 4 | destination busy: another live run holds the destination | yes, with backoff (the run waits its turn) |

A pod killed by a signal (OOM, eviction) exits above 128 and is retried.
"""

from __future__ import annotations

#: Exit code -> (meaning, whether the workflow retries it); the table above, for code and docs.
EXIT_CODES: dict[int, tuple[str, bool]] = {
    0: ("done", False),
    1: ("failed: an outage, a bug, a lost claim, or too many images failed", True),
    2: ("invalid input (spec, options, parameters)", False),
    3: ("permanent: missing bucket, access denied, no image matching include", False),
    4: ("destination busy: another live run holds it", True),
}
#: The codes a retry cannot change.
NOT_RETRIED = tuple(code for code, (_, retried) in EXIT_CODES.items() if code and not retried)
#: Most problems one InvalidInput lists: a hostile or broken document must not print megabytes.
MAX_PROBLEMS = 20


class KaleidoscopeError(Exception):
    """A failure the command line reports as one line and exit code 1 (worth a retry)."""

    exit_code = 1


class InvalidInput(KaleidoscopeError):
    """Bad input found before any work started (spec, options, manifest): exit code 2.

    Holds every problem found (up to :data:`MAX_PROBLEMS`), each already formatted as
    ``<where>: <what is wrong>``, so a user fixes them all in one round instead of one per run.
    """

    exit_code = 2

    def __init__(self, problems: list[str] | str):
        problems = [problems] if isinstance(problems, str) else list(problems)
        if len(problems) > MAX_PROBLEMS:
            problems = [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more problems"]
        self.problems = problems
        super().__init__("\n".join(self.problems))


class PermanentFailure(KaleidoscopeError):
    """A failure no retry can fix (missing bucket, access denied, nothing to do): exit code 3."""

    exit_code = 3


class StorageError(KaleidoscopeError):
    """A location that cannot be read or written (an outage unless a subclass says otherwise)."""


class StorageDenied(StorageError, PermanentFailure):
    """A missing bucket or folder, or access denied: exit code 3."""

    exit_code = 3


class ObjectMissing(StorageError):
    """No object at a key (one that vanished between the listing and the read, say)."""


class PreconditionFailed(StorageError):
    """A conditional write or delete lost: the object exists, changed or is gone."""
