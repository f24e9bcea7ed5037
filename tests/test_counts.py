"""``validate`` and ``render`` print the outputs per image and, when the source is counted, the total.

A folder is counted by default, an S3 source only with ``--count``; the images counted are the
ones the shard step takes (its listing and its ``include`` filter). ``render`` keeps stdout for the
YAML alone and prints the count on stderr.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import yaml

from kaleidoscope.steps import shard
from kaleidoscope.steps import spec as spec_module
from kaleidoscope.workflows import builder
from kaleidoscope.workflows.cli import main
from tests.conftest import synthetic_image, write_image

# A closed port: any attempt to list an S3 source here would fail, not pass silently.
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture
def folder(tmp_path) -> Path:
    """3 images the default include takes (one upper-case, one in a sub-folder) and 2 files it skips."""
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    for name in ("a.jpg", "B.PNG", "sub/c.jpeg", "notes.txt", "sub/.DS_Store"):
        (photos / name).write_bytes(b"x")
    return photos


def write_spec(tmp_path: Path, source: str, **extra) -> Path:
    document = {"source": source, "destination": str(tmp_path / "out"), "transforms": ["flip_lr", "brightness"]}
    document.update(extra)
    path = tmp_path / f"spec-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_validate_prints_the_total_for_a_folder(folder, tmp_path, capsys):
    code, out, _ = run(capsys, "validate", str(write_spec(tmp_path, str(folder))))
    assert code == 0
    assert out.splitlines()[1] == f"{folder}: 3 images x 4 outputs = 12 outputs"


def test_the_count_is_what_the_shard_step_takes(folder, tmp_path, capsys):
    path = write_spec(tmp_path, str(folder), include=["*.png", "sub/*.jpeg"], combinations={"max_ops": 1})
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 0 and out.splitlines()[1] == f"{folder}: 2 images x 3 outputs = 6 outputs"
    taken = shard.shard(spec_module.load(str(path)), "count-check")
    assert sum(entry["images"] for entry in taken) == 2


def test_no_matching_image_gives_zero_and_says_a_run_would_fail(folder, tmp_path, capsys):
    code, out, _ = run(capsys, "validate", str(write_spec(tmp_path, str(folder), include=["*.webp"])))
    assert code == 0
    assert "0 images x 4 outputs = 0 outputs (a run would fail: no image matches include ['*.webp'])" in out


def test_a_missing_folder_gives_no_total_unless_counting_is_asked(tmp_path, capsys):
    path = write_spec(tmp_path, str(tmp_path / "absent"))
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 0 and "no such folder: 4 outputs per image, no total" in out and "=" not in out
    code, out, err = run(capsys, "validate", str(path), "--count")
    assert code == 3 and out == "" and "no such folder" in err


def test_s3_is_not_listed_without_count(tmp_path, capsys):
    path = write_spec(tmp_path, "s3://bucket/photos")
    code, out, _ = run(capsys, "validate", str(path), "--s3-endpoint", NOWHERE)
    assert code == 0
    assert out.splitlines()[1] == "s3://bucket/photos: 4 outputs per image; not listed, so no total (--count lists it)"
    assert "images x" not in out


def test_render_keeps_stdout_for_the_yaml_and_counts_on_stderr(folder, tmp_path, capsys):
    path = write_spec(tmp_path, str(folder))
    code, out, err = run(capsys, "render", str(path))
    assert code == 0
    assert out == builder.render(path)
    assert yaml.safe_load(out) == yaml.safe_load(builder.render(path))
    assert err.splitlines() == [f"{folder}: 3 images x 4 outputs = 12 outputs"]


def test_render_counts_the_source_given_on_the_command_line(folder, tmp_path, capsys):
    path = write_spec(tmp_path, "s3://bucket/photos")
    code, out, err = run(capsys, "render", str(path), "--s3-endpoint", NOWHERE)
    assert code == 0 and yaml.safe_load(out)["kind"] == "Workflow"
    assert err.splitlines() == ["s3://bucket/photos: 4 outputs per image; not listed, so no total (--count lists it)"]
    target = tmp_path / "wf.yaml"
    code, out, err = run(capsys, "render", str(path), "--source", str(folder), "-o", str(target))
    assert code == 0 and out == ""
    assert err.splitlines() == [f"wrote {target}", f"{folder}: 3 images x 4 outputs = 12 outputs"]


@pytest.mark.s3
def test_count_lists_an_s3_source_as_the_shard_step_does(s3, folder, tmp_path, capsys):
    bucket = f"count-{uuid.uuid4().hex[:10]}"
    s3.make_bucket(bucket)
    client = s3.client()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            client.put_object(Bucket=bucket, Key=f"set/{path.relative_to(folder).as_posix()}", Body=b"x")
    client.put_object(Bucket=bucket, Key="other/d.jpg", Body=b"x")  # beside the prefix: not counted
    spec = write_spec(tmp_path, f"s3://{bucket}/set")
    code, out, _ = run(capsys, "validate", str(spec), "--count", "--s3-endpoint", s3.endpoint)
    assert code == 0 and out.splitlines()[1] == f"s3://{bucket}/set: 3 images x 4 outputs = 12 outputs"
    code, out, err = run(capsys, "render", str(spec), "--count", "--s3-endpoint", s3.endpoint)
    assert code == 0 and yaml.safe_load(out)["kind"] == "Workflow"
    assert err.splitlines() == [f"s3://{bucket}/set: 3 images x 4 outputs = 12 outputs"]


def test_one_image_is_counted_in_the_singular(tmp_path, capsys):
    folder = tmp_path / "one"
    write_image(folder / "a.png", synthetic_image())
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(
        yaml.safe_dump({"source": str(folder), "destination": str(tmp_path / "out"), "transforms": ["flip_lr"]})
    )
    assert main(["validate", str(spec_path)]) == 0
    assert capsys.readouterr().out.splitlines()[1] == f"{folder}: 1 image x 2 outputs = 2 outputs"
