"""Committed files that a generator makes (the rendered manifests, the RBAC, the chart's values
schema and table): a test compares each with what its generator gives today.

``KALEIDOSCOPE_REGENERATE=1 pytest ...`` rewrites them instead, outside CI only: under CI the
committed file is the thing tested, so rewriting it would make the check pass whatever the code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.prerequisites import under_ci


def assert_generated(path: Path, generated: str, what: str, regenerate: str) -> None:
    """``path`` holds ``generated``; ``what`` names the generator, ``regenerate`` how to rerun it."""
    if os.environ.get("KALEIDOSCOPE_REGENERATE"):
        if under_ci():
            pytest.fail("KALEIDOSCOPE_REGENERATE is refused under CI: regenerate locally and commit the files")
        path.write_text(generated, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run {regenerate}"
    assert path.read_text(encoding="utf-8") == generated, (
        f"{path.name} differs from what {what} makes: if the change is intended, run {regenerate} and commit the result"
    )
