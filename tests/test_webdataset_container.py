"""``output.container: webdataset`` end to end: a run packs its outputs into tar archives that the
``webdataset`` package and 🤗 ``datasets`` read as they are, from a local folder and from the real
S3 server (by presigned URLs, as a training job outside the cluster would), every image decoding
to the manifest's record."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

import cv2
import datasets
import numpy as np
import pytest
import webdataset

from kaleidoscope.steps import claim, run_layout
from kaleidoscope.steps.locations import open_storage
from kaleidoscope.workflows.cli import main
from tests.conftest import GOOD_IMAGES, read_records, synthetic_image
from tests.test_s3 import ROOT, all_objects, run_cli, upload_folder, write_spec

PACKED = {"format": "png", "container": "webdataset", "archive_mb": 16}


def _check_samples(samples: list[dict], records: list[dict]) -> None:
    by_member = {record["output"]: record for record in records}
    assert len(samples) == len(records) == GOOD_IMAGES * 8
    for sample in samples:
        record = by_member[f"{sample['__key__']}.png"]
        image = sample["png"]
        assert hashlib.sha256(image).hexdigest() == record["sha256"]
        decoded = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_UNCHANGED)
        assert decoded is not None and (decoded.shape[1], decoded.shape[0]) == (record["width"], record["height"])
        # The sidecar carries the sampled parameters, so a training loop needs no manifest.
        sidecar = json.loads(sample["json"])
        assert (sidecar["source"], sidecar["ops"], sidecar["params"]) == (
            record["source"],
            record["ops"],
            record["params"],
        )


def _load_with_datasets(data_files: list[str], cache: str) -> list[dict]:
    """The samples as 🤗 datasets' webdataset builder gives them, images as their stored bytes."""
    loaded = datasets.load_dataset("webdataset", data_files={"train": data_files}, split="train", cache_dir=cache)
    loaded = loaded.cast_column("png", datasets.Image(decode=False))
    samples = []
    for row in loaded:
        # Arrow gives every row one struct type: params of operations a sample did not apply come back None.
        sidecar = row["json"] | {"params": {op: p for op, p in row["json"]["params"].items() if p is not None}}
        samples.append({"__key__": row["__key__"], "png": row["png"]["bytes"], "json": json.dumps(sidecar)})
    return samples


def _archive_lists(destination) -> list[str]:
    """Every archive the published lists name, in order (``shards/*/*.txt``)."""
    return [line for path in sorted(destination.glob("shards/*/*.txt")) for line in path.read_text().splitlines()]


def test_a_local_run_packs_outputs_that_webdataset_reads(photos, tmp_path):
    destination = tmp_path / "out"
    spec = write_spec(tmp_path, str(photos), str(destination), output=PACKED)
    assert main(["run", str(spec), "--workers", "2"]) == 0
    records = read_records(str(destination))
    archives = sorted(destination.glob(run_layout.ARCHIVES_GLOB))
    # Two shards, one chunk each: two archives, and no image stored loose.
    assert len(archives) == 2
    assert not [p for p in destination.rglob("*.png") if run_layout.WORK_PREFIX not in p.parts]
    assert {record["archive"] for record in records} == {p.relative_to(destination).as_posix() for p in archives}
    for record in records:
        data = (destination / record["archive"]).read_bytes()
        member = data[record["offset"] : record["offset"] + record["bytes"]]
        assert hashlib.sha256(member).hexdigest() == record["sha256"]
    _check_samples(list(webdataset.WebDataset([str(p) for p in archives], shardshuffle=False)), records)
    _check_samples(_load_with_datasets([str(p) for p in archives], str(tmp_path / "hf-cache")), records)
    summary = json.loads((destination / run_layout.SUMMARY).read_text())
    assert summary["container"] == "webdataset" and summary["archives"].endswith(
        f"/{records[0]['archive'].split('/')[1]}/"
    )
    # The run's list of archives names exactly what it published, as the records name them.
    assert _archive_lists(destination) == [p.relative_to(destination).as_posix() for p in archives]
    assert summary["archive_list"] == str(
        destination / run_layout.archive_list_key(summary["generation"], summary["run_id"])
    )


def test_an_incremental_run_adds_archives_and_a_list_and_rewrites_none(photos, tmp_path):
    destination = tmp_path / "out"
    spec = write_spec(tmp_path, str(photos), str(destination), output=PACKED)
    assert main(["run", str(spec), "--workers", "2"]) == 0
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in destination.glob("shards/**/*") if p.is_file()}
    synthetic = synthetic_image(90, 70, seed=40)
    for name in ("new1.png", "new2.png"):
        cv2.imwrite(str(photos / name), synthetic)
    assert main(["run", str(spec), "--workers", "2", "--incremental"]) == 0
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in destination.glob("shards/**/*") if p.is_file()}
    # Everything the first run published is there untouched; the second added its own run folder.
    assert {p: after[p] for p in before} == before
    added = sorted(p.relative_to(destination).as_posix() for p in set(after) - set(before))
    assert len([key for key in added if key.endswith(".txt")]) == 1 and len(added) >= 2
    records = read_records(str(destination))
    assert len(records) == (GOOD_IMAGES + 2) * 8
    listed = _archive_lists(destination)
    assert sorted(listed) == sorted({record["archive"] for record in records})
    samples = list(webdataset.WebDataset([str(destination / key) for key in listed], shardshuffle=False))
    assert sorted(s["__key__"] for s in samples) == sorted(r["output"].rsplit(".", 1)[0] for r in records)


def test_a_retried_run_rewrites_byte_identical_archives(photos, tmp_path):
    archives = []
    for name in ("one", "two"):
        destination = tmp_path / name
        spec = write_spec(tmp_path, str(photos), str(destination), output=PACKED)
        assert main(["run", str(spec), "--workers", "1"]) == 0
        archives.append([p.read_bytes() for p in sorted(destination.glob(run_layout.ARCHIVES_GLOB))])
    assert archives[0] == archives[1] and archives[0]


def test_archive_size_out_of_range_exits_2_naming_the_field(photos, tmp_path, capsys):
    spec = write_spec(tmp_path, str(photos), str(tmp_path / "out"), output={"container": "webdataset", "archive_mb": 1})
    assert main(["validate", str(spec)]) == 2
    assert "output.archive_mb" in capsys.readouterr().err


@pytest.mark.s3
def test_an_s3_run_packs_outputs_that_webdataset_streams_from_the_server(s3, buckets, photos, tmp_path):
    source, destination = buckets
    upload_folder(s3, photos, source, "photos")
    spec = write_spec(tmp_path, f"s3://{source}/photos", f"s3://{destination}/aug", output=PACKED)
    process = run_cli("run", str(spec), "--workers", "2")
    assert process.returncode == 0, process.stderr
    objects = all_objects(s3, destination, "aug/")
    records = read_records(f"s3://{destination}/aug")
    archives = sorted(k for k in objects if k.startswith(f"aug/{run_layout.ARCHIVES_PREFIX}") and k.endswith(".tar"))
    assert len(archives) == 2
    # One PUT per archive instead of one per output: nothing but the archives and bookkeeping.
    assert not [k for k in objects if k.endswith(".png")]
    assert not [k for k in objects if k.startswith(f"aug/{run_layout.WORK_PREFIX}/work/")]
    client = s3.client()
    urls = [
        client.generate_presigned_url("get_object", Params={"Bucket": destination, "Key": key}, ExpiresIn=600)
        for key in archives
    ]
    samples = list(webdataset.WebDataset(urls, shardshuffle=False))
    _check_samples(samples, records)
    _check_samples(_load_with_datasets(urls, str(tmp_path / "hf-cache")), records)
    summary = json.loads(objects["aug/summary.json"])
    listing = objects[summary["archive_list"].removeprefix(f"s3://{destination}/")].decode().split()
    assert [f"aug/{key}" for key in listing] == archives
    record = records[0]
    ranged = client.get_object(
        Bucket=destination,
        Key=f"aug/{record['archive']}",
        Range=f"bytes={record['offset']}-{record['offset'] + record['bytes'] - 1}",
    )["Body"].read()
    assert hashlib.sha256(ranged).hexdigest() == record["sha256"]


def test_curl_is_what_webdataset_streams_urls_with():
    # webdataset opens http(s) URLs by piping curl; without it the S3 reader test above cannot run.
    assert subprocess.run(["curl", "--version"], capture_output=True).returncode == 0, "curl is not installed"


@pytest.mark.s3
def test_a_killed_packing_step_leaves_no_half_archive_and_its_rerun_is_byte_identical(s3, buckets, tmp_path):
    source, destination = buckets
    client = s3.client()
    for index in range(12):
        _ok, data = cv2.imencode(".png", synthetic_image(300, 300, seed=index))
        client.put_object(Bucket=source, Key=f"in/img{index:02d}.png", Body=data.tobytes())
    options = {
        "shards": 1,
        "normalize": {"size": 256},
        "transforms": ["flip_lr", "brightness", "noise", "contrast", "blur"],
        "output": PACKED,
    }
    spec = write_spec(tmp_path, f"s3://{source}/in", f"s3://{destination}/out", **options)
    reference_spec = write_spec(tmp_path, f"s3://{source}/in", f"s3://{destination}/reference", **options)
    # The same steps uninterrupted (kaleidoscope run would plan its own shards, and so other archives).
    for step in (["shard"], ["augment", "--shard", "0"], ["manifest"]):
        assert main(["step", step[0], "--spec", str(reference_spec), "--run-id", "r", *step[1:]]) == 0
    assert main(["step", "shard", "--spec", str(spec), "--run-id", "k"]) == 0
    augment = [sys.executable, "-m", "kaleidoscope.workflows.cli", "step", "augment", "--spec", str(spec)]
    augment += ["--run-id", "k", "--shard", "0", "--threads", "1"]
    progress = tmp_path / "progress"
    victim = subprocess.Popen(
        augment + ["--progress-file", str(progress)], cwd=ROOT, env=os.environ.copy(), stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    # Killed halfway through its one chunk: the chunk's archive is being written, not complete.
    while not (progress.exists() and int(progress.read_text().split("/")[0] or 0) >= 4):
        assert victim.poll() is None, victim.stderr.read()
        assert time.monotonic() < deadline, "augment made no progress"
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not [k for k in all_objects(s3, destination, "out/") if k.endswith(".tar")]

    rerun = subprocess.run(augment, cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert main(["step", "manifest", "--spec", str(spec), "--run-id", "k"]) == 0
    objects = all_objects(s3, destination)

    def archives(prefix: str) -> list[bytes]:
        return [data for key, data in sorted(objects.items()) if key.startswith(prefix) and key.endswith(".tar")]

    assert archives("out/") == archives("reference/") and archives("out/")
    # Every staged archive was published by completing its upload; none is left open.
    assert not client.list_multipart_uploads(Bucket=destination).get("Uploads")
    records = read_records(f"s3://{destination}/out")
    reference = read_records(f"s3://{destination}/reference")
    assert len(records) == len({r["output"] for r in records}) == 12 * 32
    assert [(r["output"], r["sha256"], r["offset"]) for r in records] == [
        (r["output"], r["sha256"], r["offset"]) for r in reference
    ]


@pytest.mark.s3
def test_staged_archives_go_up_in_parts_and_appear_only_when_published(s3, buckets, monkeypatch):
    from kaleidoscope.steps import archive

    _, destination = buckets
    monkeypatch.setattr(archive, "ARCHIVE_PART_BYTES", 5 * 1024 * 1024)
    storage = open_storage(f"s3://{destination}/p")
    series = archive.ArchiveSeries(
        storage, lambda n: f"a-{n}.tar", 64 * 1024 * 1024, staging_for=lambda n: f"_work/a-{n}.tar"
    )
    for n in range(3):
        series.add(f"sample{n}", [("bin", os.urandom(3 * 1024 * 1024))])
    assert series.close() == ["a-0.tar"]
    client = s3.client()
    # Staged: every byte is on the server, as an upload at the key itself, and nothing is listed.
    assert not all_objects(s3, destination)
    assert [u["Key"] for u in client.list_multipart_uploads(Bucket=destination)["Uploads"]] == ["p/a-0.tar"]
    for _ in range(2):  # publishing again (a retried manifest step) is no error
        storage.publish_staged(series.staged[0])
    # A part of 5 MB and the rest: a multipart ETag ends in its part count.
    assert client.head_object(Bucket=destination, Key="p/a-0.tar")["ETag"].strip('"').endswith("-2")
    assert not client.list_multipart_uploads(Bucket=destination).get("Uploads")


@pytest.mark.s3
def test_gc_aborts_the_uploads_a_killed_run_left_incomplete(s3, buckets, photos, tmp_path):
    source, destination = buckets
    upload_folder(s3, photos, source, "photos")
    spec = write_spec(tmp_path, f"s3://{source}/photos", f"s3://{destination}/aug", output=PACKED)
    assert main(["step", "shard", "--spec", str(spec), "--run-id", "dead"]) == 0
    # What a packing step SIGKILLed after its first part leaves: an upload never completed, at
    # the archive's published key.
    client = s3.client()
    run = json.loads(
        client.get_object(Bucket=destination, Key=f"aug/{run_layout.run_record_key('dead')}")["Body"].read()
    )
    key = f"aug/{run_layout.published_archive_key(run['generation'], 'dead', 0, 0, 0)}"
    upload = client.create_multipart_upload(Bucket=destination, Key=key)["UploadId"]
    client.upload_part(Bucket=destination, Key=key, UploadId=upload, PartNumber=1, Body=os.urandom(5 << 20))
    assert [u["Key"] for u in client.list_multipart_uploads(Bucket=destination).get("Uploads", [])] == [key]
    storage = open_storage(f"s3://{destination}/aug")
    claim.break_claim(storage)  # as `kaleidoscope unlock` after the crash
    collected = run_cli("gc", f"s3://{destination}/aug", "--older-than", "0s")
    assert collected.returncode == 0 and "run dead" in collected.stdout, collected.stderr
    assert not client.list_multipart_uploads(Bucket=destination).get("Uploads")
    assert not [k for k in all_objects(s3, destination, "aug/") if k.startswith(f"aug/{run_layout.WORK_RUNS_PREFIX}")]
