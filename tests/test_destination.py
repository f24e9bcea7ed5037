"""A destination at scale: one run at a time, failures that mean something, a manifest readers can
glob, cleanup, and the commands that look after it. On local folders and the real S3 server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from kaleidoscope.steps import claim, ops, run_layout
from kaleidoscope.steps import spec as spec_module
from kaleidoscope.steps.locations import open_storage
from kaleidoscope.workflows.cli import main
from tests.conftest import BAD_IMAGES, GOOD_IMAGES, read_records, synthetic_image, write_image
from tests.prerequisites import require_module

ROOT = Path(__file__).parents[1]


def cli(*argv: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kaleidoscope.workflows.cli", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def write_spec(folder: Path, document: dict, name: str = "spec") -> Path:
    path = folder / f"{name}-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(params=["local", "s3"])
def where(request, tmp_path, photos) -> dict:
    """A source holding the photos and an empty destination, on a folder or in buckets."""
    if request.param == "local":
        return {"source": str(photos), "destination": str(tmp_path / "out")}
    server = request.getfixturevalue("s3")
    source, destination = f"src-{uuid.uuid4().hex[:10]}", f"dst-{uuid.uuid4().hex[:10]}"
    server.make_bucket(source)
    server.make_bucket(destination)
    client = server.client()
    for path in photos.rglob("*"):
        if path.is_file():
            client.put_object(Bucket=source, Key=f"in/{path.relative_to(photos).as_posix()}", Body=path.read_bytes())
    return {"source": f"s3://{source}/in", "destination": f"s3://{destination}/out"}


def assert_every_record_matches_its_file(destination: str) -> list[dict]:
    import hashlib

    storage = open_storage(destination)
    records = read_records(destination)
    assert records and len({r["output"] for r in records}) == len(records)
    for record in records:
        assert hashlib.sha256(storage.read(record["output"])).hexdigest() == record["sha256"], record["output"]
    return records


def test_two_runs_into_one_destination_never_interleave(where, spec_document, tmp_path):
    # Two specs that write the same keys with other bytes: an interleaving would leave records
    # naming files whose bytes another run wrote.
    specs = [
        write_spec(tmp_path, {**spec_document, **where, "seed": seed, "shards": 2}, f"seed{seed}") for seed in (1, 2)
    ]
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "kaleidoscope.workflows.cli", "run", str(spec), "--workers", "1"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for spec in specs
    ]
    results = [(run.wait(timeout=600), run.communicate()) for run in runs]
    codes = [code for code, _ in results]
    # One run holds the destination; the other waits its turn (the mutex) or is refused as busy
    # (exit 4) after its retries: never both at once.
    assert 0 in codes and set(codes) <= {0, 4}, results
    for code, (_, stderr) in results:
        if code == 4:
            assert "destination busy: held by run" in stderr
    records = assert_every_record_matches_its_file(where["destination"])
    assert len(records) == GOOD_IMAGES * 8
    summary = json.loads(open_storage(where["destination"]).read(run_layout.SUMMARY))
    assert summary["status"] == "succeeded"
    assert claim.read(open_storage(where["destination"])) is None


def test_a_bug_in_an_operation_fails_the_step_and_no_image_is_blamed(spec_document, tmp_path, monkeypatch, capsys):
    def broken(image, params):
        raise RuntimeError("an operation with a bug")

    monkeypatch.setitem(ops.FUNCTIONS, "brightness", broken)
    text = json.dumps(spec_document)
    assert main(["step", "shard", "--spec-text", text, "--run-id", "bug"]) == 0
    capsys.readouterr()
    assert main(["step", "augment", "--spec-text", text, "--run-id", "bug", "--shard", "0"]) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: an operation with a bug" in err and "Traceback" in err
    destination = Path(spec_document["destination"])
    assert not list((destination / run_layout.chunks_prefix("bug", 0)).glob("*.failures.jsonl"))
    assert not (destination / run_layout.shard_done_key("bug", 0)).exists()


def test_an_encoder_error_is_a_bug_too(spec_document, tmp_path, monkeypatch, capsys):
    from kaleidoscope.steps import imageio

    def broken(*args, **kwargs):
        raise ValueError("encoder refused")

    monkeypatch.setattr(imageio, "encode", broken)
    text = json.dumps(spec_document)
    assert main(["step", "shard", "--spec-text", text, "--run-id", "enc"]) == 0
    assert main(["step", "augment", "--spec-text", text, "--run-id", "enc", "--shard", "0"]) == 1
    assert "internal error: ValueError: encoder refused" in capsys.readouterr().err


def test_a_run_where_every_input_fails_is_red_and_says_why(tmp_path):
    source = tmp_path / "texts"
    source.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (source / name).write_text("not an image at all")
    destination = tmp_path / "out"
    spec = write_spec(tmp_path, {"source": str(source), "destination": str(destination), "transforms": ["flip_lr"]})
    process = cli("run", str(spec))
    assert process.returncode == 3, process.stderr  # permanent: another try reads the same files
    assert "3 of 3 inputs failed" in process.stderr and "limits.max_failed_fraction" in process.stderr
    summary = json.loads((destination / run_layout.SUMMARY).read_text())
    assert summary["status"] == "failed" and summary["failed"] == 3 and "3 of 3 inputs failed" in summary["reason"]
    assert {f["source"] for f in summary["failures_sample"]} == {"a.jpg", "b.jpg", "c.jpg"}
    assert not (destination / "manifest").exists()  # nothing published
    assert not (destination / run_layout.CLAIM).exists()  # the destination is free again
    assert list((destination / run_layout.WORK_RUNS_PREFIX).iterdir())  # work files kept for a look


def test_max_failed_counts_inputs(spec_document, tmp_path):
    document = {**spec_document, "limits": {"max_failed_fraction": 1, "max_failed": BAD_IMAGES - 1}}
    assert main(["run", str(write_spec(tmp_path, document))]) == 3
    document["limits"]["max_failed"] = BAD_IMAGES
    assert main(["run", str(write_spec(tmp_path, document))]) == 0


def test_an_incremental_run_with_another_spec_is_refused(spec_document, tmp_path, capsys):
    assert main(["run", str(write_spec(tmp_path, spec_document))]) == 0
    capsys.readouterr()
    changed = write_spec(tmp_path, {**spec_document, "seed": 99})
    assert main(["run", str(changed), "--incremental"]) == 2
    err = capsys.readouterr().err
    current = spec_module.parse(spec_document).output_hash
    assert "incremental run refused" in err and current in err
    assert spec_module.parse({**spec_document, "seed": 99}).output_hash in err and "incremental=false" in err
    # what does not decide the bytes does not count: shard counts, limits, locations' spelling
    same = write_spec(tmp_path, {**spec_document, "shards": 1, "limits": {"max_failed_fraction": 0.9}})
    assert main(["run", str(same), "--incremental"]) == 0
    # and a full run replaces the generation
    assert main(["run", str(changed)]) == 0
    assert len(read_records(spec_document["destination"])) == GOOD_IMAGES * 8


def test_the_published_parts_are_a_dataset_readers_glob(spec_document, tmp_path, photos):
    duckdb = require_module("duckdb", "duckdb is in the test extra: pip install -e '.[test]'")
    destination = Path(spec_document["destination"])
    spec = write_spec(tmp_path, spec_document)
    assert main(["run", str(spec)]) == 0
    write_image(photos / "later.png", synthetic_image(50, 40, seed=11))
    assert main(["run", str(spec), "--incremental"]) == 0
    records = read_records(destination)
    assert len(records) == (GOOD_IMAGES + 1) * 8

    glob = str(destination / run_layout.MANIFEST_GLOB)
    ((count, outputs),) = duckdb.sql(f"select count(*), count(distinct output) from read_json('{glob}')").fetchall()
    assert count == outputs == len(records)
    # Every part has the same record schema: the same keys, each with one JSON type.
    shapes = set()
    for part in destination.glob(run_layout.MANIFEST_GLOB):
        for line in part.read_text().splitlines():
            record = json.loads(line)
            shapes.add(tuple(sorted((key, type(value).__name__) for key, value in record.items())))
    assert len(shapes) == 1, shapes
    # Bookkeeping and failures stay out of the glob.
    assert not any(part.name.startswith(("_", ".")) for part in destination.glob(run_layout.MANIFEST_GLOB))


def test_the_failures_command_streams_every_recorded_failure(spec_document, tmp_path):
    # summary.json keeps a sample of the failures; the command gives all of them.
    assert main(["run", str(write_spec(tmp_path, spec_document))]) == 0
    process = cli("failures", spec_document["destination"])
    assert process.returncode == 0, process.stderr
    failures = [json.loads(line) for line in process.stdout.splitlines()]
    assert sorted(f["source"] for f in failures) == ["corrupt.jpg", "empty.png"]
    assert len(failures) == BAD_IMAGES and all(f["error"] and f["kind"] for f in failures)
    empty = cli("failures", str(tmp_path / "nothing-yet"))
    assert empty.returncode == 0 and empty.stdout == ""


def test_the_manifest_command_streams_every_current_record(spec_document, tmp_path):
    assert main(["run", str(write_spec(tmp_path, spec_document))]) == 0
    process = cli("manifest", spec_document["destination"])
    assert process.returncode == 0, process.stderr
    assert [json.loads(line) for line in process.stdout.splitlines()] == read_records(spec_document["destination"])
    empty = cli("manifest", str(tmp_path / "nothing-yet"))
    assert empty.returncode == 0 and empty.stdout == ""


def test_a_killed_local_run_frees_the_destination_at_once(spec_document, tmp_path):
    # A run whose owner process is killed (with its steps) leaves its claim; on this machine the
    # next run sees the owner is dead and takes the destination without waiting for the lease.
    big = tmp_path / "big"
    for index in range(24):
        write_image(big / f"p{index:02d}.jpg", synthetic_image(480, 640, seed=200 + index))
    document = {**spec_document, "source": str(big), "normalize": {"size": 256}}
    spec = write_spec(tmp_path, document)
    victim = subprocess.Popen(
        [sys.executable, "-m", "kaleidoscope.workflows.cli", "run", str(spec), "--workers", "1"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    destination = open_storage(document["destination"])
    deadline = time.monotonic() + 120
    while claim.read(destination) is None:
        assert victim.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(victim.pid, signal.SIGKILL)  # kill -9 -- -PGID: the executor and its group
    victim.wait()
    # Each node runs in a session of its own (as pods are apart from the controller), but dies
    # with the executor (PR_SET_PDEATHSIG): none runs on to renew the claim or write.
    deadline = time.monotonic() + 10
    while survivors := [pid for pid in _processes_naming(document["destination"]) if pid != os.getpid()]:
        assert time.monotonic() < deadline, f"node processes outlived the killed run: {survivors}"
        time.sleep(0.05)
    assert claim.read(destination) is not None  # left behind by the killed run
    assert main(["run", str(spec)]) == 0  # no wait, no unlock
    assert_every_record_matches_its_file(document["destination"])
    # And the same bytes as a run never killed.
    reference = {**document, "destination": str(tmp_path / "reference")}
    assert main(["run", str(write_spec(tmp_path, reference, "reference"))]) == 0
    digests = [
        {(r["source"], tuple(r["ops"])): r["sha256"] for r in read_records(d["destination"])}
        for d in (document, reference)
    ]
    assert digests[0] == digests[1] and len(digests[0]) == 24 * 8


def _processes_naming(text: str) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in stat.read_bytes():
                found.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue  # gone meanwhile
    return found


def foreign_claim(destination: str, seconds_left: float) -> None:
    """A claim as a live run on another machine would hold it."""
    storage = open_storage(destination)
    held = claim.Claim(
        run_id="elsewhere-run",
        host="another-host",
        boot_id="another-boot",
        pid=1,
        pid_start="1",
        expires_at=time.time() + seconds_left,
        token="t",
    )
    storage.write(run_layout.CLAIM, held.encode())


def test_a_claim_held_elsewhere_is_waited_for_until_its_lease_ends(where, spec_document, tmp_path):
    text = json.dumps({**spec_document, **where})
    foreign_claim(where["destination"], seconds_left=3)
    refused = cli("step", "shard", "--spec-text", text, "--run-id", "mine")
    assert refused.returncode == 4 and "destination busy: held by run elsewhere-run" in refused.stderr
    # --wait outlasts the lease: the expired claim is taken over (conditionally) and the run goes on.
    waited = cli("step", "shard", "--spec-text", text, "--run-id", "mine", "--wait", "30")
    assert waited.returncode == 0, waited.stderr
    assert claim.read(open_storage(where["destination"])).run_id == "mine"


def test_unlock_removes_a_stale_claim_by_hand(spec_document, tmp_path):
    foreign_claim(spec_document["destination"], seconds_left=3600)
    assert main(["run", str(write_spec(tmp_path, spec_document))]) == 4
    unlocked = cli("unlock", spec_document["destination"])
    assert unlocked.returncode == 0 and "removed the claim of run elsewhere-run" in unlocked.stdout
    assert main(["run", str(write_spec(tmp_path, spec_document))]) == 0


def test_gc_removes_the_work_files_of_dead_runs_only(spec_document, tmp_path):
    text = json.dumps(spec_document)
    assert main(["step", "shard", "--spec-text", text, "--run-id", "dead"]) == 0
    claim.break_claim(open_storage(spec_document["destination"]))  # as `unlock` after a crash
    assert main(["step", "shard", "--spec-text", text, "--run-id", "live"]) == 0
    destination = Path(spec_document["destination"])
    assert cli("gc", str(destination), "--older-than", "1d").stdout == ""  # both are young
    collected = cli("gc", str(destination), "--older-than", "0s")
    assert collected.returncode == 0 and "run dead" in collected.stdout and "live" not in collected.stdout
    assert not (destination / run_layout.work_prefix("dead")).exists()
    assert (destination / run_layout.work_prefix("live")).exists()  # it holds the destination
    assert cli("gc", str(destination), "--older-than", "soon").returncode == 2


def test_corrupt_bookkeeping_is_one_line_naming_the_object(spec_document, tmp_path, capsys):
    assert main(["run", str(write_spec(tmp_path, spec_document))]) == 0
    head = Path(spec_document["destination"]) / run_layout.HEAD
    head.write_text("{ not json")
    capsys.readouterr()
    text = json.dumps(spec_document)
    assert main(["step", "shard", "--spec-text", text, "--run-id", "after", "--incremental", "true"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(head) in err[0] and "not valid JSON" in err[0]


def test_a_hostile_spec_costs_little_and_says_little(tmp_path):
    from tests.test_documents import LAUGHS

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(LAUGHS)
    process = cli("validate", str(bomb), timeout=60)
    assert process.returncode == 2 and len(process.stderr) < 300, process.stderr
    assert "expands to more than 10,000 values" in process.stderr
    huge = "source: ./a\ndestination: ./b\ntransforms: [flip_lr]\n# " + "x" * 70_000
    oversized = cli("step", "shard", "--spec-text", huge, "--run-id", "r", timeout=60)
    assert oversized.returncode == 2 and "at most 65,536 are accepted" in oversized.stderr
    many = {"source": "./a", "destination": "./b", "transforms": [{"op": "blur", "sigma": "x"}] * 12, "seed": "s"}
    listed = cli("validate", str(write_spec(tmp_path, many)), timeout=60)
    assert listed.returncode == 2 and len(listed.stderr.splitlines()) <= 21
