"""One run per destination: a claim object in the destination itself, taken with conditional writes.

Argo's mutex keeps two workflows of one controller apart; the claim keeps apart everything else
(two controllers, a local run beside a cluster run, two ``kaleidoscope run`` on one machine).
It is a small JSON object at :data:`KEY` holding the run id and a lease:

- **Taking it** is a create-if-absent (``If-None-Match: *``). A claim held by the same run id is
  the run's own (a retried step, a later step): it is renewed. A claim whose lease expired, or
  whose holder process is known dead, is taken over with a write conditional on the tag read
  (``If-Match``), so of two runs racing for a dead claim exactly one wins.
- **The lease** is renewed by every step as it starts and, during long work, by a heartbeat
  thread; a run that stops renewing (killed, partitioned) loses the destination once the lease
  runs out. On one machine a holder process that died frees the claim at once: the claim names
  the host (with its boot id) and the process that owns the run.
- **Fencing**: a step renews, and so re-checks, the claim before it writes; a step that finds
  another run's claim fails instead of writing beside it.
- **Releasing** is a delete conditional on the tag, when the run has published its manifest.

Lease times are wall-clock times of the writer; hosts whose clocks differ by more than a small
part of the lease weaken it (NTP keeps pods within milliseconds).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kaleidoscope.steps.errors import KaleidoscopeError, PreconditionFailed
from kaleidoscope.steps.storage import Storage

#: Where the claim lives, relative to the destination.
KEY = "_kaleidoscope/claim.json"
#: How long a claim outlives its last renewal. It must outlast the longest pause of a live run in
#: which no step renews it: pods pending for a node, the retry backoff, the gap between steps
#: (shards queued by ``parallelism`` do not count: running shards renew meanwhile).
DEFAULT_LEASE_SECONDS = 1800.0
#: The environment variable naming the process that owns a run on this machine
#: (``kaleidoscope run`` sets it for the steps it starts); without it, the step's parent.
OWNER_ENV = "KALEIDOSCOPE_CLAIM_OWNER_PID"


class DestinationBusy(KaleidoscopeError):
    """Another live run holds the destination: exit code 4, worth retrying later."""

    exit_code = 4


class ClaimLost(KaleidoscopeError):
    """This run's claim was taken over or removed: stop writing before two runs interleave."""


def lease_seconds() -> float:
    """The lease, from ``KALEIDOSCOPE_LEASE_SECONDS`` (tests shorten it) or the default."""
    text = os.environ.get("KALEIDOSCOPE_LEASE_SECONDS", "")
    try:
        value = float(text) if text else DEFAULT_LEASE_SECONDS
    except ValueError:
        value = -1.0
    if value <= 0:
        raise KaleidoscopeError(f"KALEIDOSCOPE_LEASE_SECONDS: bad value {text!r}: a number of seconds > 0")
    return value


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _process_start(pid: int) -> str:
    # Field 22 of /proc/<pid>/stat, the start time in clock ticks since boot: a pid reused by a
    # later process has another start time.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]


def _owner_pid() -> int:
    text = os.environ.get(OWNER_ENV, "")
    return int(text) if text.isdigit() else os.getppid()


@dataclass(frozen=True)
class Claim:
    """A claim as stored, with the tag of the version read."""

    run_id: str
    host: str
    boot_id: str
    pid: int
    pid_start: str
    expires_at: float
    token: str
    tag: str = ""

    @classmethod
    def mine(cls, run_id: str, lease: float, now: float) -> Claim:
        pid = _owner_pid()
        return cls(
            run_id=run_id,
            host=socket.gethostname(),
            boot_id=_boot_id(),
            pid=pid,
            pid_start=_process_start(pid),
            expires_at=now + lease,
            token=uuid.uuid4().hex,
        )

    @classmethod
    def parse(cls, data: bytes, tag: str, where: str) -> Claim:
        try:
            document = json.loads(data)
            return cls(
                run_id=str(document["run_id"]),
                host=str(document.get("host", "")),
                boot_id=str(document.get("boot_id", "")),
                pid=int(document.get("pid", 0)),
                pid_start=str(document.get("pid_start", "")),
                expires_at=float(document["expires_at"]),
                token=str(document.get("token", "")),
                tag=tag,
            )
        except (ValueError, KeyError, TypeError) as error:
            # A claim nobody can read protects nothing; say how to remove it rather than guess.
            raise KaleidoscopeError(
                f"{where}: not a claim Kaleidoscope can read ({error}); remove it with `kaleidoscope unlock`"
            ) from error

    def encode(self) -> bytes:
        document = {
            "run_id": self.run_id,
            "host": self.host,
            "boot_id": self.boot_id,
            "pid": self.pid,
            "pid_start": self.pid_start,
            "expires_at": self.expires_at,
            "expires": datetime.fromtimestamp(self.expires_at, UTC).isoformat(timespec="seconds"),
            "token": self.token,
        }
        return json.dumps(document, indent=2).encode()

    def holder_dead(self) -> bool:
        """Whether the owning process is known to be gone: only decidable on the same machine."""
        if not self.boot_id or self.host != socket.gethostname() or self.boot_id != _boot_id():
            return False
        return self.pid <= 0 or _process_start(self.pid) != self.pid_start

    def describe(self, now: float) -> str:
        left = self.expires_at - now
        return f"run {self.run_id} (host {self.host}, pid {self.pid}; lease ends in {max(left, 0):.0f} s)"


def read(destination: Storage) -> Claim | None:
    """The claim on ``destination``, or None."""
    found = destination.read_tagged(KEY)
    return None if found is None else Claim.parse(found[0], found[1], destination.describe(KEY))


def acquire(
    destination: Storage,
    run_id: str,
    *,
    wait: float = 0.0,
    lease: float | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Claim:
    """Take or renew the claim for ``run_id``, waiting up to ``wait`` seconds for a live holder.

    Raises:
        DestinationBusy: another live run holds it after ``wait`` seconds, named in the message.
    """
    lease = lease_seconds() if lease is None else lease
    deadline = clock() + wait
    while True:
        now = clock()
        current = read(destination)
        mine = Claim.mine(run_id, lease, now)
        try:
            if current is None:
                tag = destination.create(KEY, mine.encode(), "application/json")
                _insist_on_conditions(destination, mine)
                return _tagged(mine, tag)
            if current.run_id == run_id or current.expires_at <= now or current.holder_dead():
                tag = destination.replace(KEY, mine.encode(), current.tag, "application/json")
                return _tagged(mine, tag)
        except PreconditionFailed:
            continue  # another writer got there first: read again and decide again
        if now >= deadline:
            raise DestinationBusy(
                f"{destination.url}: destination busy: held by {current.describe(now)}; wait for it, "
                f"or remove a stale claim with `kaleidoscope unlock {destination.url}`"
            )
        sleep(min(5.0, max(deadline - now, 0.05)))


def wait_until_free(
    destination: Storage,
    wait: float,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Claim | None:
    """Wait up to ``wait`` seconds for the destination to be free (no claim, an expired one, or a
    dead holder); return the claim still in the way, or None. Takes nothing: the run's first step
    claims the destination itself."""
    deadline = clock() + wait
    while True:
        current = read(destination)
        now = clock()
        if current is None or current.expires_at <= now or current.holder_dead():
            return None
        if now >= deadline:
            return current
        sleep(min(5.0, max(deadline - now, 0.05)))


def renew(destination: Storage, run_id: str, *, lease: float | None = None, clock=time.time) -> Claim:
    """Extend this run's claim (a fencing check too: fails if another run holds it).

    Raises:
        ClaimLost: the claim is gone or belongs to another run.
    """
    lease = lease_seconds() if lease is None else lease
    while True:
        current = read(destination)
        if current is None or current.run_id != run_id:
            holder = "nobody" if current is None else current.describe(clock())
            raise ClaimLost(
                f"{destination.describe(KEY)}: run {run_id} no longer holds the destination (now: {holder}); "
                "stopping before two runs write into it"
            )
        renewed = Claim.mine(run_id, lease, clock())
        try:
            return _tagged(renewed, destination.replace(KEY, renewed.encode(), current.tag, "application/json"))
        except PreconditionFailed:
            continue  # a sibling step of this run renewed it meanwhile: check again


def release(destination: Storage, run_id: str) -> bool:
    """Remove this run's claim; False when it held none (already released, or taken over)."""
    while True:
        current = read(destination)
        if current is None or current.run_id != run_id:
            return False
        try:
            destination.delete_tagged(KEY, current.tag)
            return True
        except PreconditionFailed:
            continue


def break_claim(destination: Storage) -> Claim | None:
    """Remove whatever claim is there (by hand, for a holder known dead); return what it was."""
    current = read(destination)
    if current is not None:
        destination.delete_tagged(KEY, current.tag)
    return current


def _insist_on_conditions(destination: Storage, mine: Claim) -> None:
    # A store that ignores If-None-Match would let two runs both "create" the claim: one more
    # request per run proves it honours the condition (rewriting our own claim if it does not).
    try:
        destination.create(KEY, mine.encode(), "application/json")
    except PreconditionFailed:
        return
    raise KaleidoscopeError(
        f"{destination.url}: this store ignores conditional writes (If-None-Match), so runs into one "
        "destination cannot be kept apart; use a store that supports them (AWS S3, MinIO, SeaweedFS)"
    )


def _tagged(claim: Claim, tag: str) -> Claim:
    return Claim(**{**claim.__dict__, "tag": tag})


class Heartbeat:
    """Renews a run's claim every ``interval`` seconds in a background thread while work runs.

    A renewal that finds the claim lost is remembered: :meth:`check` raises it in the worker, so
    the step stops at its next write instead of writing beside another run.
    """

    def __init__(self, destination: Storage, run_id: str, *, lease: float | None = None):
        self.destination, self.run_id = destination, run_id
        self.lease = lease_seconds() if lease is None else lease
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="claim-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        renew(self.destination, self.run_id, lease=self.lease)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        # Six renewals per lease: a few slow or failed requests in a row still leave time.
        while not self._stop.wait(self.lease / 6):
            try:
                renew(self.destination, self.run_id, lease=self.lease)
            except ClaimLost as error:
                self.error = error
                return
            except KaleidoscopeError:
                continue  # an outage: the next beat tries again while the lease lasts

    def check(self) -> None:
        """Raise the loss of the claim, if a renewal found it."""
        if self.error is not None:
            raise self.error
