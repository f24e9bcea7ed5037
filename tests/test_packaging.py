"""The wheel installs one import package, ``kaleidoscope``, holding every package of steps/ and workflows/.

``steps`` and ``workflows`` are taken names on the package index, so nothing may land at the top
of site-packages but ``kaleidoscope`` (and its dist-info). pyproject lists the subpackages one by
one, so a new folder that is forgotten there would be left out of the wheel: built here from a
clean copy of the repository's files, the wheel must hold every one.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import PurePosixPath

import pytest
from packaging.requirements import Requirement

from tests.build_context import ROOT, copy_files, tracked_files

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: Where each source folder installs: pyproject's package-dir, reversed.
INSTALLED_AS = {folder: package for package, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items()}


def build_backend_is_here() -> bool:
    """Whether this environment has what pyproject's [build-system] requires, to build offline."""
    for text in PYPROJECT["build-system"]["requires"]:
        requirement = Requirement(text)
        try:
            if not requirement.specifier.contains(metadata.version(requirement.name), prereleases=True):
                return False
        except metadata.PackageNotFoundError:
            return False
    return True


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Iterator[zipfile.ZipFile]:
    checkout = tmp_path_factory.mktemp("checkout")
    copy_files(tracked_files(), checkout)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(checkout)]
    if build_backend_is_here():
        command.append("--no-build-isolation")  # offline
    # Otherwise pip fetches the build requirements into an isolated environment, as the image's
    # `pip install .` does (a fresh venv's bundled setuptools may be too old for pyproject's metadata).
    built = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    (path,) = out.glob("*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_the_wheel_has_nothing_at_the_top_but_kaleidoscope_and_its_dist_info(wheel):
    top = {PurePosixPath(name).parts[0] for name in wheel.namelist()}
    dist_info = f"kaleidoscope-{PYPROJECT['project']['version']}.dist-info"
    assert top == {"kaleidoscope", dist_info}, sorted(top)
    if f"{dist_info}/top_level.txt" in wheel.namelist():
        assert wheel.read(f"{dist_info}/top_level.txt").decode().split() == ["kaleidoscope"]


def test_every_package_and_module_of_steps_and_workflows_is_in_the_wheel(wheel):
    files = tracked_files()
    sources = [name for name in files if PurePosixPath(name).parts[0] in ("steps", "workflows")]
    packages = sorted(str(PurePosixPath(name).parent) for name in sources if name.endswith("/__init__.py"))
    assert {"steps", "workflows"} <= set(packages) and set(INSTALLED_AS) == {"steps", "workflows"}, INSTALLED_AS
    shipped = set(wheel.namelist())

    def in_wheel(name: str) -> str:
        folder, _, rest = name.partition("/")
        return INSTALLED_AS[folder].replace(".", "/") + "/" + rest

    left_out = [package for package in packages if in_wheel(f"{package}/__init__.py") not in shipped]
    assert not left_out, f"packages missing from the wheel (pyproject's [tool.setuptools] packages?): {left_out}"
    modules = [name for name in sources if name.endswith(".py") and in_wheel(name) not in shipped]
    assert not modules, f"modules missing from the wheel: {modules}"
