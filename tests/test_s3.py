"""S3 in, S3 out, against a real S3 server (SeaweedFS on loopback, authentication on)."""

from __future__ import annotations

import hashlib
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

from kaleidoscope.steps import archive, run_layout
from kaleidoscope.steps import s3 as s3_module
from kaleidoscope.steps.errors import StorageError
from kaleidoscope.steps.locations import open_storage
from kaleidoscope.steps.storage import streamed
from kaleidoscope.workflows.cli import main
from tests import s3server
from tests.conftest import BAD_IMAGES, GOOD_IMAGES, bucket_name, read_records, synthetic_image

pytestmark = pytest.mark.s3
ROOT = Path(__file__).parents[1]


def upload_folder(s3, folder: Path, bucket: str, prefix: str) -> None:
    client = s3.client()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            client.put_object(
                Bucket=bucket, Key=f"{prefix}/{path.relative_to(folder).as_posix()}", Body=path.read_bytes()
            )


def all_objects(s3, bucket: str, prefix: str = "") -> dict[str, bytes]:
    client = s3.client()
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", ())
    ]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def write_spec(tmp_path: Path, source: str, destination: str, **extra) -> Path:
    document = {
        "source": source,
        "destination": destination,
        "seed": 3,
        "normalize": {"size": 32},
        "transforms": ["flip_lr", "brightness", {"op": "noise", "kinds": ["gauss"]}],
        "output": {"format": "png"},
        "shards": 2,
        # The photos hold 2 undecodable files in 8: above the default failure limit of 10 %.
        "limits": {"max_failed_fraction": 0.5},
        **extra,
    }
    path = tmp_path / f"spec-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def run_cli(*argv: str, env_overrides: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_overrides or {})}
    return subprocess.run(
        [sys.executable, "-m", "kaleidoscope.workflows.cli", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


def test_listing_is_paginated_streamed_and_relative(s3, buckets):
    source, _ = buckets
    keys = ["in/a b.jpg", "in/ünï cödé.png", "in/x/y/z.jpg", "in/x/ä.JPG", "in-other/no.jpg", "in/.hidden.png"]
    for key in keys:
        s3.client().put_object(Bucket=source, Key=key, Body=b"x")
    s3_module.configure(page_size=2)
    storage = open_storage(f"s3://{source}/in")
    pages = []
    original = storage.client.list_objects_v2

    def counting(**kwargs):
        response = original(**kwargs)
        pages.append(len(response.get("Contents", ())))
        return response

    storage.client.list_objects_v2 = counting  # count real requests to the real server
    try:
        listed = list(storage.list_keys())
    finally:
        del storage.client.list_objects_v2
    assert listed == sorted(k[3:] for k in keys if k.startswith("in/"))
    assert len(pages) >= 3 and max(pages) <= 2, pages


def test_run_s3_to_s3_end_to_end(s3, buckets, photos, tmp_path):
    source, destination = buckets
    upload_folder(s3, photos, source, "photos")
    spec = write_spec(tmp_path, f"s3://{source}/photos", f"s3://{destination}/aug")
    process = run_cli("run", str(spec), "--workers", "2")
    assert process.returncode == 0, process.stderr
    objects = all_objects(s3, destination, "aug/")
    records = read_records(f"s3://{destination}/aug")
    assert len(records) == GOOD_IMAGES * 8
    for record in records:
        # spread layout (default for S3): two hex digits of the source key's SHA-256 first
        assert record["output"].startswith(hashlib.sha256(record["source"].encode()).hexdigest()[:2] + "/")
        assert hashlib.sha256(objects["aug/" + record["output"]]).hexdigest() == record["sha256"]
    head = s3.client().head_object(Bucket=destination, Key="aug/" + records[0]["output"])
    assert head["ContentType"] == "image/png"
    summary = json.loads(objects[f"aug/{run_layout.SUMMARY}"])
    assert summary["outputs"] == len(records) and summary["failed"] == BAD_IMAGES
    assert {f["source"] for f in summary["failures_sample"]} == {"corrupt.jpg", "empty.png"}
    # published where dataset readers look, and nothing else beside the outputs
    published = {k for k in objects if k.startswith(("aug/manifest/", "aug/failures/"))}
    assert published and all(k.endswith(".jsonl") for k in published)
    assert not [k for k in objects if k.startswith(f"aug/{run_layout.WORK_PREFIX}/work/")]
    assert any(r["source"] == "nested/ça va/c d.jpeg" for r in records)


def test_s3_and_local_runs_give_identical_bytes(s3, buckets, photos, tmp_path):
    source, destination = buckets
    upload_folder(s3, photos, source, "p")
    remote = write_spec(
        tmp_path, f"s3://{source}/p", f"s3://{destination}/o", output={"format": "png", "layout": "mirror"}
    )
    local = write_spec(tmp_path, str(photos), str(tmp_path / "local-out"))
    assert main(["run", str(remote)]) == 0
    assert main(["run", str(local)]) == 0
    local_records = read_records(tmp_path / "local-out")
    remote_records = read_records(f"s3://{destination}/o")
    key = lambda record: record["output"]  # noqa: E731
    assert sorted(local_records, key=key) == sorted(remote_records, key=key)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing-source-bucket", "no such bucket"),
        ("missing-destination-bucket", "no such bucket"),
        ("wrong-secret", "the secret key is wrong"),
        ("unknown-key", "not known to the server"),
        ("read-only-destination", "access denied"),
        ("no-images", "no images match include"),
    ],
)
def test_s3_errors_are_one_line_exit_3_and_write_nothing(case, expected, s3, buckets, photos, tmp_path):
    source, destination = buckets
    upload_folder(s3, photos, source, "photos")
    source_url, destination_url = f"s3://{source}/photos", f"s3://{destination}/aug"
    env = {}
    if case == "missing-source-bucket":
        source_url = "s3://no-such-bucket-kaleidoscope/photos"
    elif case == "missing-destination-bucket":
        destination_url = "s3://no-such-bucket-kaleidoscope/aug"
    elif case == "wrong-secret":
        env["AWS_SECRET_ACCESS_KEY"] = "definitely-not-the-secret"
    elif case == "unknown-key":
        env["AWS_ACCESS_KEY_ID"] = "nobody"
    elif case == "read-only-destination":
        env.update(AWS_ACCESS_KEY_ID=s3server.READER[0], AWS_SECRET_ACCESS_KEY=s3server.READER[1])
    elif case == "no-images":
        source_url = f"s3://{source}/nothing-here"
    spec = write_spec(tmp_path, source_url, destination_url)
    process = run_cli("run", str(spec), env_overrides=env)
    assert process.returncode == 3, process.stderr  # permanent: not retried
    lines = [line for line in process.stderr.splitlines() if line.startswith("kaleidoscope:")]
    assert len(lines) == 1 and expected in lines[0], process.stderr
    assert "Traceback" not in process.stderr
    bucket_named = "no-such-bucket-kaleidoscope" if "missing" in case else (source if case == "no-images" else None)
    if bucket_named:
        assert bucket_named in lines[0]
    for secret in (s3server.ADMIN[1], s3server.READER[1], "definitely-not-the-secret"):
        assert secret not in process.stderr + process.stdout
    assert all_objects(s3, destination) == {}


def test_unreadable_object_is_a_recorded_failure(s3, buckets, photos, tmp_path, monkeypatch):
    """An object that vanishes between listing and reading is a per-image failure, not a crash."""
    source, destination = buckets
    upload_folder(s3, photos, source, "photos")
    spec = write_spec(tmp_path, f"s3://{source}/photos", f"s3://{destination}/aug")
    assert main(["step", "shard", "--spec", str(spec), "--run-id", "r1"]) == 0
    s3.client().delete_object(Bucket=source, Key="photos/a.jpg")
    for index in (0, 1):
        assert main(["step", "augment", "--spec", str(spec), "--run-id", "r1", "--shard", str(index)]) == 0
    assert main(["step", "manifest", "--spec", str(spec), "--run-id", "r1"]) == 0
    summary = json.loads(all_objects(s3, destination, f"aug/{run_layout.SUMMARY}")[f"aug/{run_layout.SUMMARY}"])
    failure = next(f for f in summary["failures_sample"] if f["source"] == "a.jpg")
    assert "a.jpg: no such key" in failure["error"] and failure["kind"] == "unreadable"


def test_killed_augment_rerun_loses_and_duplicates_nothing(s3, buckets, tmp_path):
    source, destination = buckets
    client = s3.client()
    for index in range(12):
        _ok, data = __import__("cv2").imencode(".jpg", synthetic_image(300, 300, seed=index))
        client.put_object(Bucket=source, Key=f"in/img{index:02d}.jpg", Body=data.tobytes())
    spec = write_spec(
        tmp_path,
        f"s3://{source}/in",
        f"s3://{destination}/out",
        shards=1,
        normalize={"size": 256},
        transforms=["flip_lr", "brightness", "noise", "contrast", "blur"],
    )
    reference_spec = write_spec(
        tmp_path,
        f"s3://{source}/in",
        f"s3://{destination}/reference",
        shards=1,
        normalize={"size": 256},
        transforms=["flip_lr", "brightness", "noise", "contrast", "blur"],
    )
    assert main(["run", str(reference_spec)]) == 0
    assert main(["step", "shard", "--spec", str(spec), "--run-id", "k"]) == 0

    augment = [
        sys.executable,
        "-m",
        "kaleidoscope.workflows.cli",
        "step",
        "augment",
        "--spec",
        str(spec),
        "--run-id",
        "k",
        "--shard",
        "0",
        "--threads",
        "1",
        "--output",
        str(tmp_path / "result.json"),
    ]
    victim = subprocess.Popen(augment, cwd=ROOT, env=os.environ.copy(), stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120

    def outputs_so_far() -> list[str]:
        # Keys only (a listing, not a download): the poll must be quick, or the step finishes first.
        pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=destination, Prefix="out/")
        keys = [item["Key"] for page in pages for item in page.get("Contents", ())]
        return [k for k in keys if not k.startswith(f"out/{run_layout.WORK_PREFIX}/")]

    while len(all_keys := outputs_so_far()) < 20:
        assert victim.poll() is None, victim.stderr.read()
        assert time.monotonic() < deadline, "augment made no progress"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert 0 < len(all_keys) < 12 * 32
    assert f"out/{run_layout.shard_done_key('k', 0)}" not in all_objects(s3, destination, "out/")

    rerun = subprocess.run(augment, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["outputs"] == 12 * 32
    assert main(["step", "manifest", "--spec", str(spec), "--run-id", "k"]) == 0

    objects = all_objects(s3, destination)
    records = read_records(f"s3://{destination}/out")
    reference = read_records(f"s3://{destination}/reference")
    assert len(records) == len({r["output"] for r in records}) == 12 * 32
    assert [(r["output"], r["sha256"]) for r in records] == [(r["output"], r["sha256"]) for r in reference]
    outputs = {
        k
        for k in objects
        if k.startswith("out/")
        and not k.startswith((f"out/{run_layout.WORK_PREFIX}/", "out/manifest/", "out/failures/"))
        and k != f"out/{run_layout.SUMMARY}"
    }
    assert outputs == {"out/" + r["output"] for r in records}
    for record in records:
        assert hashlib.sha256(objects["out/" + record["output"]]).hexdigest() == record["sha256"]


def test_incremental_run_processes_only_new_images(s3, buckets, photos, tmp_path):
    source, destination = buckets
    upload_folder(s3, photos, source, "photos")
    spec = write_spec(tmp_path, f"s3://{source}/photos", f"s3://{destination}/aug")
    assert main(["run", str(spec)]) == 0
    first = read_records(f"s3://{destination}/aug")

    _ok, data = __import__("cv2").imencode(".jpg", synthetic_image(50, 50, seed=42))
    s3.client().put_object(Bucket=source, Key="photos/new/fresh.jpg", Body=data.tobytes())
    process = run_cli("run", str(spec), "--incremental")
    assert process.returncode == 0, process.stderr
    objects = all_objects(s3, destination, "aug/")
    summary = json.loads(objects[f"aug/{run_layout.SUMMARY}"])
    # every input of an earlier run is recorded, failed ones too: only the new image is processed
    assert summary["inputs"] == 1 and summary["already_done"] == GOOD_IMAGES + BAD_IMAGES
    records = read_records(f"s3://{destination}/aug")
    # Runs' parts come in the order of their run ids (random uuids), so compare as sets.
    key = json.dumps  # records as comparable strings
    assert {key(r, sort_keys=True) for r in first} <= {key(r, sort_keys=True) for r in records}
    assert len(records) == len(first) + 8
    assert len({r["output"] for r in records}) == len(records)
    added = [r for r in records if key(r, sort_keys=True) not in {key(f, sort_keys=True) for f in first}]
    assert {r["source"] for r in added} == {"new/fresh.jpg"}


def test_incremental_with_nothing_new_keeps_the_manifest(s3, buckets, tmp_path):
    source, destination = buckets
    _ok, data = __import__("cv2").imencode(".png", synthetic_image(40, 40, seed=1))
    s3.client().put_object(Bucket=source, Key="p/one.png", Body=data.tobytes())
    spec = write_spec(tmp_path, f"s3://{source}/p", f"s3://{destination}/a")
    assert main(["run", str(spec)]) == 0
    before = all_objects(s3, destination, "a/manifest/")
    assert main(["run", str(spec), "--incremental"]) == 0
    assert all_objects(s3, destination, "a/manifest/") == before
    assert json.loads(all_objects(s3, destination, f"a/{run_layout.SUMMARY}")[f"a/{run_layout.SUMMARY}"])["inputs"] == 0


def test_upload_command_puts_a_folder_into_a_bucket(s3, photos):
    bucket = bucket_name("up")
    assert main(["upload", str(photos), f"s3://{bucket}/set1"]) == 1  # bucket missing, no flag
    assert main(["upload", str(photos), f"s3://{bucket}/set1", "--create-bucket", "--s3-endpoint", s3.endpoint]) == 0
    objects = all_objects(s3, bucket)
    assert set(objects) == {f"set1/{p.relative_to(photos).as_posix()}" for p in photos.rglob("*") if p.is_file()}
    assert objects["set1/a.jpg"] == (photos / "a.jpg").read_bytes()


def test_storage_errors_name_bucket_and_key(s3, buckets):
    source, _ = buckets
    storage = open_storage(f"s3://{source}/in")
    with pytest.raises(StorageError, match=rf"s3://{source}/in/absent.jpg: no such key"):
        storage.read("absent.jpg")
    with pytest.raises(StorageError, match="s3://no-such-bucket-kaleidoscope: no such bucket"):
        open_storage("s3://no-such-bucket-kaleidoscope/x").check()
    assert not storage.exists("absent.jpg")


def test_large_objects_go_up_in_parts(s3, buckets, tmp_path, monkeypatch):
    _, destination = buckets
    monkeypatch.setattr(s3_module, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)
    big = tmp_path / "big.jsonl"
    big.write_bytes(os.urandom(12 * 1024 * 1024))
    storage = open_storage(f"s3://{destination}/m")
    storage.write_file("big.jsonl", big, "application/x-ndjson")
    head = s3.client().head_object(Bucket=destination, Key="m/big.jsonl")
    assert "-" in head["ETag"]  # a multipart ETag is "<md5 of part md5s>-<parts>"
    assert storage.read("big.jsonl") == big.read_bytes()


def test_an_archive_streams_up_in_parts_and_members_range_get(s3, buckets, monkeypatch):
    _, destination = buckets
    monkeypatch.setattr(s3_module, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)
    storage = open_storage(f"s3://{destination}/packed")
    client = s3.client()
    packer = archive.Packer()
    images = {archive.sample_key(f"cats/{n}.jpg", ["noise"]): os.urandom(1024 * 1024 + n) for n in range(12)}
    members = []
    with streamed(storage, "shard-00000.tar", "application/x-tar") as upload:
        for key, data in images.items():
            pieces, member = packer.add(f"{key}.jpg", data)
            members.append(member)
            for piece in pieces:
                upload.write(piece)
        # Two parts are up, yet nothing is visible under the key until the upload completes.
        assert not storage.exists("shard-00000.tar")
        upload.write(archive.TRAILER)
    assert "-" in client.head_object(Bucket=destination, Key="packed/shard-00000.tar")["ETag"]
    assert upload.size == packer.size_with_trailer()
    for member, data in zip(members, images.values(), strict=True):
        ranged = client.get_object(
            Bucket=destination,
            Key="packed/shard-00000.tar",
            Range=f"bytes={member.offset}-{member.offset + member.size - 1}",
        )["Body"].read()
        assert ranged == data


def test_an_aborted_archive_leaves_no_object_and_no_upload(s3, buckets, monkeypatch):
    _, destination = buckets
    monkeypatch.setattr(s3_module, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)
    storage = open_storage(f"s3://{destination}/packed")
    with pytest.raises(RuntimeError, match="encoder broke"), streamed(storage, "shard-00001.tar") as upload:
        upload.write(os.urandom(6 * 1024 * 1024))  # one part sent
        raise RuntimeError("encoder broke")
    client = s3.client()
    assert not storage.exists("shard-00001.tar")
    assert not client.list_multipart_uploads(Bucket=destination).get("Uploads")
