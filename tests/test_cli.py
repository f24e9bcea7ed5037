"""Command-line contracts: the generated operations table stays in docs/operations.md, options are validated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kaleidoscope.workflows.cli import main
from kaleidoscope.workflows.commands import ops

OPERATIONS_PAGE = Path(__file__).parents[1] / "docs" / "operations.md"


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
