"""The destination claim: one run at a time, on a local folder and on the real S3 server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid

import pytest

from kaleidoscope.steps import claim
from kaleidoscope.steps.errors import PreconditionFailed
from kaleidoscope.steps.locations import open_storage
from kaleidoscope.steps.storage import LocalStorage, Storage


class Clock:
    """A clock the test moves by hand, so lease expiry needs no sleeping."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["local", "s3"])
def destination(request, tmp_path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "dest")
    request.getfixturevalue("s3")
    server = request.getfixturevalue("s3_server")
    bucket = f"claim-{uuid.uuid4().hex[:10]}"
    server.make_bucket(bucket)
    return open_storage(f"s3://{bucket}/out")


def test_conditional_writes_let_exactly_one_writer_win(destination):
    tag = destination.create("k", b"one")
    with pytest.raises(PreconditionFailed):
        destination.create("k", b"two")
    with pytest.raises(PreconditionFailed):
        destination.replace("k", b"three", "not-the-tag")
    new_tag = destination.replace("k", b"four", tag)
    assert destination.read_tagged("k") == (b"four", new_tag)
    with pytest.raises(PreconditionFailed):
        destination.delete_tagged("k", tag)  # stale tag
    destination.delete_tagged("k", new_tag)
    assert destination.read_tagged("k") is None
    destination.delete("k")  # absent is no error


def test_a_second_run_is_refused_naming_the_holder_and_the_first_renews(destination):
    clock = Clock()
    first = claim.acquire(destination, "run-a", lease=60, clock=clock)
    with pytest.raises(claim.DestinationBusy, match="held by run run-a") as refused:
        claim.acquire(destination, "run-b", lease=60, clock=clock)
    assert refused.value.exit_code == 4
    clock.now += 30
    again = claim.acquire(destination, "run-a", lease=60, clock=clock)  # a retried step of run-a
    assert again.expires_at == first.expires_at + 30
    assert claim.read(destination).run_id == "run-a"


def test_an_expired_lease_is_taken_over_and_the_old_run_is_fenced_off(destination):
    clock = Clock()
    claim.acquire(destination, "run-a", lease=60, clock=clock)
    clock.now += 61
    claim.acquire(destination, "run-b", lease=60, clock=clock)
    with pytest.raises(claim.ClaimLost, match="run run-a no longer holds"):
        claim.renew(destination, "run-a", lease=60, clock=clock)
    assert claim.release(destination, "run-a") is False
    assert claim.release(destination, "run-b") is True
    assert claim.read(destination) is None


def test_waiting_for_a_busy_destination_ends_when_the_holder_releases(destination):
    clock = Clock()
    claim.acquire(destination, "run-a", lease=600, clock=clock)
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock.now += seconds
        if len(waits) == 3:
            claim.release(destination, "run-a")

    taken = claim.acquire(destination, "run-b", wait=120, lease=600, clock=clock, sleep=sleep)
    assert taken.run_id == "run-b" and len(waits) == 3


def test_racing_runs_one_wins_every_time(destination):
    # Real concurrent writers against the real store: the claim is only as good as its 412s.
    for round_number in range(3):
        winners, busy = [], []

        def contend(name, winners=winners, busy=busy):
            try:
                claim.acquire(destination, name, lease=600)
                winners.append(name)
            except claim.DestinationBusy:
                busy.append(name)

        threads = [threading.Thread(target=contend, args=(f"r{round_number}-{i}",)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(winners) == 1 and len(busy) == 7, (winners, busy)
        claim.break_claim(destination)


def test_a_dead_holder_on_this_machine_frees_the_claim_at_once(tmp_path):
    destination = LocalStorage(tmp_path / "dest")
    # A process that takes the claim as owner of its run and dies without releasing it.
    code = (
        "import os, sys\n"
        "from kaleidoscope.steps import claim\n"
        "from kaleidoscope.steps.storage import LocalStorage\n"
        f"os.environ[claim.OWNER_ENV] = str(os.getpid())\n"
        f"claim.acquire(LocalStorage(__import__('pathlib').Path({str(tmp_path / 'dest')!r})), 'killed-run', lease=3600)\n"
        "os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert claim.read(destination).run_id == "killed-run"
    taken = claim.acquire(destination, "next-run", lease=3600)
    assert taken.run_id == "next-run"


def test_a_live_holder_on_this_machine_keeps_it(tmp_path, monkeypatch):
    destination = LocalStorage(tmp_path / "dest")
    monkeypatch.setenv(claim.OWNER_ENV, str(__import__("os").getpid()))
    claim.acquire(destination, "live-run", lease=3600)
    with pytest.raises(claim.DestinationBusy):
        claim.acquire(destination, "other-run", lease=3600)


def test_heartbeat_notices_a_lost_claim(tmp_path):
    destination = LocalStorage(tmp_path / "dest")
    claim.acquire(destination, "run-a", lease=0.3)
    with claim.Heartbeat(destination, "run-a", lease=0.3) as heartbeat:
        claim.break_claim(destination)
        claim.acquire(destination, "run-b", lease=3600)
        for _ in range(100):
            if heartbeat.error is not None:
                break
            threading.Event().wait(0.05)
        with pytest.raises(claim.ClaimLost):
            heartbeat.check()


def test_an_unreadable_claim_names_the_way_out(tmp_path):
    destination = LocalStorage(tmp_path / "dest")
    destination.write(claim.KEY, b"not json")
    with pytest.raises(claim.KaleidoscopeError, match="kaleidoscope unlock"):
        claim.acquire(destination, "run-a")


def test_the_stored_claim_is_readable_json(tmp_path):
    destination = LocalStorage(tmp_path / "dest")
    claim.acquire(destination, "run-a", lease=60)
    document = json.loads(destination.read(claim.KEY))
    assert document["run_id"] == "run-a" and document["expires"].endswith("+00:00")


def test_streamed_writes_moves_and_prefix_deletes(destination, monkeypatch):
    from kaleidoscope.steps import s3 as s3_module

    # Small multipart parts so the S3 path uploads several parts without megabytes of data.
    monkeypatch.setattr(s3_module, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)
    chunks = [bytes([65 + i % 26]) * (1024 * 1024) for i in range(12)]
    assert destination.write_stream("big/one.bin", iter(chunks)) == 12 * 1024 * 1024
    assert destination.read("big/one.bin") == b"".join(chunks)
    assert destination.write_stream("big/small.txt", iter([b"a\n", b"b\n"])) == 4
    destination.move("big/small.txt", "published/small.txt")
    destination.move("big/small.txt", "published/small.txt")  # a retried move finds it done
    assert destination.read("published/small.txt") == b"a\nb\n" and not destination.exists("big/small.txt")
    for index in range(3):
        destination.write(f"work/run/{index}", b"x")
    assert destination.delete_prefix("work/") == 3
    assert list(destination.list_keys("work/")) == []
    assert destination.exists("published/small.txt")


def test_waiting_until_free_takes_nothing(tmp_path):
    destination = LocalStorage(tmp_path / "dest")
    assert claim.wait_until_free(destination, 0) is None
    clock = Clock()
    claim.acquire(destination, "run-a", lease=10, clock=clock)
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock.now += seconds

    still = claim.wait_until_free(destination, 3, clock=clock, sleep=sleep)
    assert still is not None and still.run_id == "run-a" and sum(waits) >= 3
    assert claim.wait_until_free(destination, 60, clock=clock, sleep=sleep) is None  # the lease ran out
    assert claim.read(destination).run_id == "run-a"  # waiting took nothing
