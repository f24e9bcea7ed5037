"""The spec: schema assembled from the table of operations, path-named errors, defaults, locations."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from kaleidoscope.steps import operations, spec
from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.cli import main

ISSUE_EXAMPLE = """
source: ./photos
destination: ./augmented
include: ["*.jpg", "*.jpeg", "*.png"]
seed: 7
normalize: {size: 400}
transforms:
  - flip_lr
  - {op: rotate_zoom}
  - {op: brightness}
combinations: {max_ops: 2}
output: {format: jpg, quality: 90}
shards: 8
"""


def problems_of(document) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        spec.parse(document)
    return caught.value.problems


def test_documented_example_parses_with_defaults_filled():
    parsed = spec.parse(yaml.safe_load(ISSUE_EXAMPLE))
    assert [t.label for t in parsed.transforms] == ["flip_lr", "rotate_zoom", "brightness"]
    assert [t.position for t in parsed.transforms] == [1, 2, 3]
    assert parsed.transforms[1].options == operations.defaults("rotate_zoom")
    assert (parsed.min_ops, parsed.max_ops, parsed.outputs_per_image) == (0, 2, 7)
    assert (parsed.output_format, parsed.quality, parsed.shards, parsed.normalize_size) == ("jpg", 90, 8, 400)


def test_shipped_schema_file_is_the_one_assembled_from_the_operations():
    shipped = json.loads((Path(spec.__file__).parent / "spec.schema.json").read_text())
    assert shipped == spec.build_schema(), "run: kaleidoscope schema > steps/spec.schema.json"


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(spec.build_schema())


def test_every_registered_operation_is_accepted_bare_and_with_its_defaults():
    for name in operations.OPERATIONS:
        spec.parse({"source": "s", "destination": "d", "transforms": [name]})
        spec.parse({"source": "s", "destination": "d", "transforms": [{"op": name, **operations.defaults(name)}]})


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"transforms": ["flip_lr", "brightness", {"op": "rotate_zoom", "angle": [-500, 30]}]}, "transforms[2].angle"),
        ({"transforms": ["flip_lr", {"op": "rotate_zoom", "angel": 3}]}, "transforms[1]"),
        ({"transforms": ["no_such_op"]}, 'transforms[0]: bad value "no_such_op"'),
        ({"transforms": []}, "transforms: bad value []"),
        ({"transforms": ["flip_lr"] * 13}, "transforms: bad value"),
        ({"output": {"format": "gif"}}, 'output.format: bad value "gif"'),
        ({"output": {"quality": 0}}, "output.quality: bad value 0"),
        ({"seed": -1}, "seed: bad value -1"),
        ({"shards": 0}, "shards: bad value 0"),
        ({"sauce": "x"}, "<spec>: bad value"),
        ({"normalize": {"size": "big"}}, 'normalize.size: bad value "big"'),
    ],
)
def test_schema_errors_name_the_path_the_value_and_the_rule(change, expected):
    document = {"source": "photos", "destination": "out", "transforms": ["flip_lr"], **change}
    problems = problems_of(document)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_all_errors_are_reported_at_once():
    problems = problems_of({"source": "", "destination": "out", "transforms": ["flip_lr"], "seed": "x", "shards": -2})
    assert {p.split(":")[0] for p in problems} == {"source", "seed", "shards"}


def test_unknown_option_names_the_option():
    (problem,) = problems_of({"source": "s", "destination": "d", "transforms": [{"op": "rotate_zoom", "angel": 3}]})
    assert "transforms[0]" in problem and "angel" in problem


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            {"transforms": [{"op": "brightness", "delta": [0.2, -0.2]}]},
            "transforms[0].delta: bad value [0.2, -0.2]: a range",
        ),
        ({"transforms": ["brightness", "brightness"]}, 'transforms[1]: bad value "brightness": label already used'),
        ({"transforms": [{"op": "flip_lr", "name": "original"}]}, 'transforms[0].name: bad value "original"'),
        ({"combinations": {"max_ops": 3}}, "combinations.max_ops: bad value 3"),
        ({"combinations": {"min_ops": 1, "max_ops": 0}}, "combinations.min_ops: bad value 1"),
        ({"shards": 2, "shard_size": 10}, "shard_size"),
    ],
)
def test_rules_beyond_the_schema(change, expected):
    document = {"source": "photos", "destination": "out", "transforms": ["flip_lr"], **change}
    assert any(problem.startswith(expected) for problem in problems_of(document))


def test_a_repeated_operation_with_distinct_names_is_fine():
    parsed = spec.parse(
        {"source": "s", "destination": "d", "transforms": ["brightness", {"op": "brightness", "name": "brightness_2"}]}
    )
    assert [t.label for t in parsed.transforms] == ["brightness", "brightness_2"]


@pytest.mark.parametrize(
    "source, destination, refused",
    [
        ("photos", "photos", True),
        ("photos", "photos/augmented", True),
        ("photos/", "./photos/x/y", True),
        ("file:///data/photos", "/data/photos/out", True),
        ("s3://bucket/photos", "s3://bucket/photos/out", True),
        ("photos", "photos-augmented", False),
        ("photos/cats", "photos", False),
        ("s3://bucket/photos", "s3://other/photos/out", False),
        ("s3://bucket/photos", "photos/out", False),
    ],
)
def test_destination_inside_the_source_is_refused(source, destination, refused, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    problems = spec.location_problems(source, destination)
    assert bool(problems) == refused
    if refused:
        assert problems[0].startswith("destination: bad value") and "inside" in problems[0]


def test_validate_command_exit_codes_and_messages(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(ISSUE_EXAMPLE)
    assert main(["validate", str(good)]) == 0
    assert "7 outputs per image" in capsys.readouterr().out

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        ISSUE_EXAMPLE.replace("{op: brightness}", "{op: brightness, delta: [0.5, 9]}").replace(
            "quality: 90", "quality: 900"
        )
    )
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert any(
        line.startswith("kaleidoscope: transforms[2].delta[1]: bad value 9: 9 is greater than the maximum of 1")
        for line in err
    ), err
    assert any(line.startswith("kaleidoscope: output.quality: bad value 900") for line in err), err


def test_yaml_syntax_error_names_the_line(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("source: a\ntransforms: [flip_lr\n")
    assert main(["validate", str(broken)]) == 2
    assert f"{broken}:3:" in capsys.readouterr().err


def test_missing_spec_file_is_invalid_input(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "absent.yaml")]) == 2
    assert "cannot read the spec" in capsys.readouterr().err


def test_command_line_overrides_replace_locations(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(ISSUE_EXAMPLE)
    parsed = spec.load(str(path), source="s3://b/in", destination="s3://b/out")
    assert (parsed.source, parsed.destination) == ("s3://b/in", "s3://b/out")
    assert parsed.sha256 != spec.load(str(path)).sha256


def test_a_tree_that_would_surprise_must_be_confirmed():
    twelve = {
        "source": "./in",
        "destination": "./out",
        "transforms": [{"op": "brightness", "name": f"b{i}"} for i in range(12)],
    }
    with pytest.raises(InvalidInput, match=r"12 transforms make 4,096 outputs per image, more than"):
        spec.parse(twelve)
    confirmed = spec.parse({**twelve, "limits": {"max_outputs_per_image": 4096}})
    assert confirmed.outputs_per_image == 4096
    bounded = spec.parse({**twelve, "combinations": {"max_ops": 2}})
    assert bounded.outputs_per_image == 1 + 12 + 66
