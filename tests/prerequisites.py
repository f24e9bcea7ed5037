"""What a test does when something it needs is not on this machine: skip outside CI, fail in CI.

A user's own checkout may lack what CI always has (Argo's reference data beside the clone, the
image's Python version), so there the test skips and says what is missing. Under CI the same
absence means the suite would silently prove less than it claims, so the test fails instead.
Every such test goes through :func:`missing`, so the rule lives here and nowhere else.
"""

from __future__ import annotations

import os

import pytest


def under_ci() -> bool:
    """True when the environment says CI (``CI=true``, as GitHub Actions, GitLab and .ci/run set)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(reason: str) -> None:
    """End the calling test because ``reason`` says a prerequisite is absent: skip, or fail under CI."""
    if under_ci():
        pytest.fail(
            f"{reason} (CI={os.environ['CI']}: under CI a missing prerequisite fails instead of skipping)",
            pytrace=False,
        )
    pytest.skip(reason)


def require_module(name: str, reason: str):
    """Import ``name``, or end the test (or module) as :func:`missing` says."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        missing(reason)
