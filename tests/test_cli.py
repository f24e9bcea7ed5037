"""Command-line contracts: the generated operations table stays in docs/operations.md, the
generated command reference in docs/cli.md, options are validated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kaleidoscope.workflows.cli import main
from kaleidoscope.workflows.commands import ops
from tools import cli_reference

OPERATIONS_PAGE = Path(__file__).parents[1] / "docs" / "operations.md"
CLI_PAGE = Path(__file__).parents[1] / "docs" / "cli.md"


def test_the_command_reference_is_what_the_parser_prints():
    assert CLI_PAGE.read_text(encoding="utf-8") == cli_reference.markdown(), (
        "regenerate with: .venv/bin/python -m tools.cli_reference > docs/cli.md"
    )


def test_the_command_reference_has_every_command_and_its_options():
    page = cli_reference.markdown()
    for name in ("run", "step augment", "failures", "gc"):
        assert f"## `kaleidoscope {name}`" in page
    assert "--older-than AGE" in page and "--workers" in page


def test_operations_page_lists_every_operation_as_generated_from_the_registry():
    text = OPERATIONS_PAGE.read_text(encoding="utf-8")
    match = re.search(r"<!-- ops:begin -->\n(.*?)\n<!-- ops:end -->", text, re.S)
    assert match, "docs/operations.md lacks the <!-- ops:begin --> ... <!-- ops:end --> block"
    assert match.group(1) == ops.markdown(), (
        "regenerate with: kaleidoscope ops --markdown (between the markers in docs/operations.md)"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "spec.yaml", "--workers", "0"], "--workers: bad value 0: must be >= 1"),
        (
            ["step", "augment", "--spec", "s", "--run-id", "r", "--shard", "0", "--threads", "x"],
            "--threads: bad value 'x'",
        ),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_options_exit_2_naming_the_option(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_preview_draws_one_captioned_tile_per_variant(tmp_path, photos):
    from kaleidoscope.steps import imageio, preview

    spec = tmp_path / "spec.yaml"
    spec.write_text(f"source: {photos}\ndestination: {tmp_path / 'out'}\ntransforms: [flip_lr, blur]\n")
    assert main(["preview", str(spec), str(photos / "a.jpg"), "-o", str(tmp_path / "sheet.png")]) == 0
    sheet = imageio.decode((tmp_path / "sheet.png").read_bytes())
    tile_height, tile_width = preview.TILE + preview.CAPTION + 4, preview.TILE + 4
    assert sheet.shape[:2] == (2 * tile_height + 4, 2 * tile_width + 4)  # 4 variants, 2 x 2


def test_preview_of_a_broken_image_is_invalid_input(tmp_path, photos, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"source: {photos}\ndestination: {tmp_path / 'out'}\ntransforms: [flip_lr]\n")
    assert main(["preview", str(spec), str(photos / "corrupt.jpg"), "-o", str(tmp_path / "s.png")]) == 2
    assert "corrupt.jpg: not a decodable image" in capsys.readouterr().err
    assert not (tmp_path / "s.png").exists()


def test_an_expected_error_is_one_line_and_debug_adds_its_cause(tmp_path, capsys):
    from kaleidoscope.workflows.cli import main

    spec = tmp_path / "spec.yaml"
    spec.write_text(f"source: {tmp_path / 'absent'}\ndestination: {tmp_path / 'out'}\ntransforms: [flip_lr]\n")
    assert main(["step", "shard", "--spec", str(spec), "--run-id", "r"]) == 3
    quiet = capsys.readouterr().err
    assert quiet.count("\n") == 1 and "no such folder" in quiet and "Traceback" not in quiet
    assert main(["step", "shard", "--spec", str(spec), "--run-id", "r", "--debug"]) == 3
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_an_unexpected_error_is_reported_as_a_bug_with_its_traceback(monkeypatch, capsys):
    from kaleidoscope.workflows import cli
    from kaleidoscope.workflows.commands import ops

    def broken(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(ops, "run", broken)  # the handler add_parser registers
    assert cli.main(["ops"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kaleidoscope: internal error: ZeroDivisionError: division by zero")
    assert "Traceback (most recent call last)" in err and "in broken" in err
