"""The three steps end to end on local folders, through the command line the containers run."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from kaleidoscope.steps import augment, imageio, ops, run_layout
from kaleidoscope.steps import spec as spec_module
from kaleidoscope.steps.shard import plan, shard
from kaleidoscope.workflows.cli import main
from tests.conftest import BAD_IMAGES, GOOD_IMAGES, read_records, synthetic_image, write_image

RECORD_FIELDS = {"source", "output", "ops", "params", "width", "height", "bytes", "sha256"}


def run_steps(spec_path: Path, run_id: str, tmp_path: Path, threads: int = 2) -> dict:
    outputs = tmp_path / f"outputs-{run_id}"
    assert (
        main(["step", "shard", "--spec", str(spec_path), "--run-id", run_id, "--output", str(outputs / "shards.json")])
        == 0
    )
    references = json.loads((outputs / "shards.json").read_text())
    for reference in references:
        assert (
            main(
                [
                    "step",
                    "augment",
                    "--spec",
                    str(spec_path),
                    "--run-id",
                    run_id,
                    "--shard",
                    str(reference["index"]),
                    "--threads",
                    str(threads),
                    "--output",
                    str(outputs / f"augment-{reference['index']}.json"),
                    "--progress-file",
                    str(outputs / f"progress-{reference['index']}"),
                ]
            )
            == 0
        )
    assert (
        main(
            [
                "step",
                "manifest",
                "--spec",
                str(spec_path),
                "--run-id",
                run_id,
                "--output",
                str(outputs / "manifest.json"),
            ]
        )
        == 0
    )
    return {"references": references, "folder": outputs, "result": json.loads((outputs / "manifest.json").read_text())}


@pytest.fixture
def spec_path(spec_document, tmp_path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec_document))
    return path


def read_manifest(destination: Path) -> list[dict]:
    return read_records(destination)


def test_three_steps_end_to_end(spec_path, spec_document, tmp_path):
    run = run_steps(spec_path, "run-1", tmp_path)
    destination = Path(spec_document["destination"])
    per_image = 2 ** len(spec_document["transforms"])

    assert [r["images"] for r in run["references"]] == [3, 3, 2]
    assert run["result"]["outputs"] == GOOD_IMAGES * per_image
    assert run["result"]["failed"] == BAD_IMAGES
    assert run["result"]["manifest"].endswith("/manifest/run-1/")
    assert (run["folder"] / "progress-0").read_text().strip() == "3/3"

    records = read_manifest(destination)
    assert len(records) == GOOD_IMAGES * per_image
    assert len({r["output"] for r in records}) == len(records)
    for record in records:
        assert set(record) >= RECORD_FIELDS
        data = (destination / record["output"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == record["sha256"] and len(data) == record["bytes"]
        assert record["output"] == f"{record['source']}__{'+'.join(record['ops']) or 'original'}.png"
        assert list(record["params"]) == record["ops"]
    decoded = imageio.decode((destination / "nested/ça va/c d.jpeg__flip_lr+rotate_zoom.png").read_bytes())
    assert decoded.shape[:2] == (40, 40)
    assert imageio.decode((destination / "deep16.png__brightness.png").read_bytes()).dtype == np.uint16
    assert imageio.decode((destination / "alpha.png__original.png").read_bytes()).shape[2] == 4

    summary = json.loads((destination / run_layout.SUMMARY).read_text())
    assert summary["inputs"] == GOOD_IMAGES + BAD_IMAGES
    assert summary["outputs"] == len(records)
    assert summary["status"] == "succeeded" and summary["failed"] == BAD_IMAGES
    assert {f["source"] for f in summary["failures_sample"]} == {"corrupt.jpg", "empty.png"}
    assert all(f["error"] and f["kind"] == "image" for f in summary["failures_sample"])
    published_failures = [
        json.loads(line)
        for part in sorted((destination / "failures" / "run-1" / "run-1").glob("*.jsonl"))
        for line in part.read_text().splitlines()
    ]
    assert published_failures == summary["failures_sample"]
    assert summary["seed"] == 7 and len(summary["spec_sha256"]) == 64
    assert summary["started_at"] <= summary["finished_at"]
    assert not list(destination.rglob("*.tmp")), "a temporary file was left behind"
    # On success the run's work files and its claim are gone; the index and the history stay.
    assert not (destination / run_layout.work_prefix("run-1")).exists()
    assert not (destination / run_layout.CLAIM).exists()
    assert (destination / run_layout.run_entry_key("run-1")).exists()


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(spec_document, tmp_path):
    digests = []
    for name, seed, threads in [("one", 7, 1), ("two", 7, 2), ("three", 8, 2)]:
        document = {**spec_document, "seed": seed, "destination": str(tmp_path / name)}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(document))
        run_steps(path, name, tmp_path, threads=threads)
        digests.append([(r["output"], r["sha256"]) for r in read_manifest(tmp_path / name)])
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]
    assert {o for o, _ in digests[0]} == {o for o, _ in digests[2]}


def test_rerunning_a_shard_reproduces_the_same_bytes(spec_path, spec_document, tmp_path, capsys):
    destination = Path(spec_document["destination"])
    assert main(["step", "shard", "--spec", str(spec_path), "--run-id", "run-1"]) == 0
    for index in range(3):
        assert main(["step", "augment", "--spec", str(spec_path), "--run-id", "run-1", "--shard", str(index)]) == 0
    chunks = destination / run_layout.chunks_prefix("run-1", 1)
    first = {path.name: path.read_bytes() for path in chunks.iterdir()}
    shard_records = [
        json.loads(line)
        for path in chunks.glob("*.jsonl")
        if not path.name.endswith(".failures.jsonl")
        for line in path.read_text().splitlines()
    ]
    outputs = {destination / record["output"]: None for record in shard_records}
    assert outputs
    # As if shard 1's attempt had died before committing: its commits and outputs are gone.
    for path in chunks.iterdir():
        path.unlink()
    (destination / run_layout.shard_done_key("run-1", 1)).unlink()
    for path in outputs:
        path.unlink()
    capsys.readouterr()
    assert main(["step", "manifest", "--spec", str(spec_path), "--run-id", "run-1"]) == 1
    assert "shard(s) 1 of 3 did not finish" in capsys.readouterr().err
    assert main(["step", "augment", "--spec", str(spec_path), "--run-id", "run-1", "--shard", "1"]) == 0
    assert {path.name: path.read_bytes() for path in chunks.iterdir()} == first
    assert main(["step", "manifest", "--spec", str(spec_path), "--run-id", "run-1"]) == 0
    for record in read_manifest(destination):
        assert hashlib.sha256((destination / record["output"]).read_bytes()).hexdigest() == record["sha256"]


def test_a_retried_augment_resumes_after_its_last_committed_chunk(spec_document, tmp_path):
    document = {**spec_document, "shards": 1}
    parsed = spec_module.parse(document)
    shard(parsed, "resume")
    # One image a chunk (the spec has 8 outputs per image, the cap is per chunk): 8 chunks.
    per_chunk = augment.chunk_images(parsed)
    assert per_chunk == 256 // 256 * min(256, 16_000 // 8)
    destination = Path(document["destination"])
    augment.augment_shard(parsed, "resume", 0, threads=1)
    commits = sorted((destination / run_layout.chunks_prefix("resume", 0)).glob("*.json"))
    assert len(commits) == 1  # 8 images fit in one chunk


def test_a_retry_skips_the_images_of_committed_chunks(spec_document, tmp_path, monkeypatch):
    document = {**spec_document, "shards": 1}
    parsed = spec_module.parse(document)
    monkeypatch.setattr(augment, "chunk_images", lambda spec: 3)
    shard(parsed, "resume")
    first = augment.augment_shard(parsed, "resume", 0, threads=1)
    destination = Path(document["destination"])
    chunks = destination / run_layout.chunks_prefix("resume", 0)
    assert sorted(p.name for p in chunks.glob("*.json")) == ["00000.json", "00001.json", "00002.json"]
    # Drop the last chunk's commit, as if the attempt died while writing it: a retry redoes
    # only that chunk's images (2 of 8) and ends with the same objects.
    before = {p.name: p.read_bytes() for p in chunks.iterdir()}
    (chunks / "00002.json").unlink()
    (destination / run_layout.shard_done_key("resume", 0)).unlink()
    decoded = []
    original_decode = augment.imageio.decode
    monkeypatch.setattr(augment.imageio, "decode", lambda data, **kw: decoded.append(1) or original_decode(data, **kw))
    again = augment.augment_shard(parsed, "resume", 0, threads=1)
    assert again["resumed"] == 6 and len(decoded) == 2
    assert {p.name: p.read_bytes() for p in chunks.iterdir()} == before
    assert {k: again[k] for k in ("inputs", "outputs", "failed")} == {
        k: first[k] for k in ("inputs", "outputs", "failed")
    }


def test_missing_part_fails_the_manifest_step_naming_the_shard(spec_path, spec_document, tmp_path, capsys):
    assert main(["step", "shard", "--spec", str(spec_path), "--run-id", "r"]) == 0
    assert main(["step", "augment", "--spec", str(spec_path), "--run-id", "r", "--shard", "0"]) == 0
    capsys.readouterr()
    assert main(["step", "manifest", "--spec", str(spec_path), "--run-id", "r"]) == 1
    assert "shard(s) 1, 2 of 3" in capsys.readouterr().err
    assert not (Path(spec_document["destination"]) / "manifest").exists()


def test_spec_text_is_accepted_as_argo_passes_it(spec_document, tmp_path):
    text = json.dumps(spec_document)
    assert main(["step", "shard", "--spec-text", text, "--run-id", "t", "--output", str(tmp_path / "o.json")]) == 0
    assert len(json.loads((tmp_path / "o.json").read_text())) == 3


def test_no_matching_image_is_an_error(spec_document, tmp_path, capsys):
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    text = json.dumps({**spec_document, "source": str(empty)})
    assert main(["step", "shard", "--spec-text", text, "--run-id", "x"]) == 3  # permanent: not retried
    assert "no images match include" in capsys.readouterr().err


def test_missing_source_folder_is_an_error(spec_document, tmp_path, capsys):
    text = json.dumps({**spec_document, "source": str(tmp_path / "absent")})
    assert (
        main(["step", "shard", "--spec-text", text, "--run-id", "x"]) == 3
    )  # permanent: no retry brings the folder back
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "total, shards, shard_size, expected",
    [
        (10, 3, None, [4, 3, 3]),
        (2, 8, None, [1, 1]),
        (10, None, 4, [4, 3, 3]),
        (0, 3, None, []),
        (5000, None, 1, [10] * 500),
    ],
)
def test_shard_plan(total, shards, shard_size, expected):
    assert plan(total, shards, shard_size) == expected


def test_operation_calls_per_image_follow_the_tree(spec_document, tmp_path, monkeypatch):
    """Counted through the real augment path: 2^N - 1 calls per decoded image."""
    calls = []
    for name in ("flip_lr", "rotate_zoom", "brightness"):

        def counted(image, params, apply=ops.FUNCTIONS[name], name=name):
            return calls.append(name) or apply(image, params)

        monkeypatch.setitem(ops.FUNCTIONS, name, counted)
    parsed = spec_module.parse(spec_document)
    shard(parsed, "count")
    results = [augment.augment_shard(parsed, "count", index, threads=1) for index in range(3)]
    assert sum(r["outputs"] for r in results) == GOOD_IMAGES * 8
    assert len(calls) == GOOD_IMAGES * 7


def test_run_command_in_a_fresh_process(spec_path, spec_document, tmp_path):
    process = subprocess.run(
        [sys.executable, "-m", "kaleidoscope.workflows.cli", "run", str(spec_path), "--workers", "2"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[1],
        timeout=300,
    )
    assert process.returncode == 0, process.stderr
    assert f"{GOOD_IMAGES * 8} images from {GOOD_IMAGES + BAD_IMAGES} inputs ({BAD_IMAGES} failed)" in process.stdout
    assert len(read_manifest(Path(spec_document["destination"]))) == GOOD_IMAGES * 8


def test_run_command_exit_codes(spec_document, tmp_path):
    cases = {
        2: {**spec_document, "seed": "seven"},
        3: {**spec_document, "source": str(tmp_path / "absent")},
    }
    for expected, document in cases.items():
        path = tmp_path / f"case{expected}.yaml"
        path.write_text(yaml.safe_dump(document))
        assert main(["run", str(path)]) == expected


def test_a_retried_incremental_manifest_step_duplicates_nothing(spec_path, spec_document, tmp_path, photos):
    run_steps(spec_path, "first", tmp_path)
    destination = Path(spec_document["destination"])
    write_image(photos / "later.png", synthetic_image(50, 40, seed=11))
    assert main(["step", "shard", "--spec", str(spec_path), "--run-id", "second", "--incremental", "true"]) == 0
    for index in range(read_run_shards(destination, "second")):
        assert main(["step", "augment", "--spec", str(spec_path), "--run-id", "second", "--shard", str(index)]) == 0
    # the flag must agree with what the shard step did
    assert main(["step", "manifest", "--spec", str(spec_path), "--run-id", "second", "--incremental", "false"]) == 2
    assert main(["step", "manifest", "--spec", str(spec_path), "--run-id", "second", "--incremental", "true"]) == 0
    parts = sorted(p.relative_to(destination) for p in (destination / "manifest").rglob("*.jsonl"))
    assert main(["step", "manifest", "--spec", str(spec_path), "--run-id", "second", "--incremental", "true"]) == 0
    assert sorted(p.relative_to(destination) for p in (destination / "manifest").rglob("*.jsonl")) == parts
    assert {p.parts[1:3] for p in parts} == {("first", "first"), ("first", "second")}  # one generation
    records = read_manifest(destination)
    assert len(records) == (GOOD_IMAGES + 1) * 8 == len({r["output"] for r in records})


def read_run_shards(destination: Path, run_id: str) -> int:
    return json.loads((destination / run_layout.run_record_key(run_id)).read_text())["shards"]


def test_recorded_sources_index_is_sorted_and_lists_every_input(spec_path, spec_document, tmp_path, photos):
    """Failed inputs are recorded too: an incremental run adds what is new, and a broken image
    is retried by a full run, not every night."""
    from kaleidoscope.steps import recorded
    from kaleidoscope.steps.locations import open_storage

    run_steps(spec_path, "idx", tmp_path)
    destination = Path(spec_document["destination"])
    index = list(recorded.read(open_storage(str(destination))))
    succeeded = {r["source"] for r in read_manifest(destination)}
    assert index == sorted(succeeded | {"corrupt.jpg", "empty.png"})
    write_image(photos / "later.png", synthetic_image(50, 40, seed=11))
    assert main(["step", "shard", "--spec", str(spec_path), "--run-id", "next", "--incremental", "true"]) == 0
    assert json.loads((destination / run_layout.run_record_key("next")).read_text())["inputs"] == 1


@pytest.mark.parametrize(
    "keys, recorded, expected",
    [
        (["a", "b", "c", "d"], ["b", "d"], ["a", "c"]),
        (["a", "b"], [], ["a", "b"]),
        (["b", "c"], ["a", "b", "c", "z"], []),
        (["a b", "ä", "é/x"], ["ä"], ["a b", "é/x"]),
    ],
)
def test_new_keys_is_a_merge_of_two_sorted_streams(keys, recorded, expected):
    from kaleidoscope.steps.shard import _new_keys

    counts = {"matched": 0}
    assert list(_new_keys(iter(keys), iter(recorded), counts)) == expected
    assert counts["matched"] == len(keys)


def test_an_unsorted_listing_is_refused_rather_than_skipping_wrongly():
    from kaleidoscope.steps.errors import KaleidoscopeError
    from kaleidoscope.steps.shard import _new_keys

    with pytest.raises(KaleidoscopeError, match="not in lexicographic order"):
        list(_new_keys(iter(["b", "a"]), iter(()), {"matched": 0}))
