"""The local executor's tests: each runs real manifests, its nodes real processes."""

from __future__ import annotations

import tempfile

import pytest


@pytest.fixture(autouse=True)
def _node_folders_in_tmp_path(tmp_path, monkeypatch):
    # Failed runs keep their node folders for debugging: keep them where pytest cleans up.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
