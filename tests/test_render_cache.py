"""A local run's rendered Workflow is kept between runs: a run whose spec shows the same title and
description as an earlier one renders nothing (and never imports Hera) and runs the manifest the
earlier one rendered, with its own spec as the `spec` parameter, exactly what a fresh render gives;
other words, options or code are another entry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import kaleidoscope.workflows
from kaleidoscope.steps import spec as spec_module
from kaleidoscope.workflows import executor, local, render_cache
from tests.conftest import read_records

ROOT = Path(__file__).parents[1]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(render_cache.CACHE_ENV, str(folder))
    return folder


def test_a_second_run_takes_the_kept_manifest_and_runs_it_unchanged(spec_document, cache, monkeypatch):
    ran: list[dict] = []
    real_execute = executor.execute

    def execute(manifest, *args, **kwargs):
        ran.append(json.loads(json.dumps(manifest)))
        return real_execute(manifest, *args, **kwargs)

    monkeypatch.setattr(executor, "execute", execute)
    spec = spec_module.parse(spec_document)
    first = local.run_locally(spec, show_progress=False)
    assert len(list(cache.glob("*.json"))) == 1
    first_records = sorted(json.dumps(r, sort_keys=True) for r in read_records(spec.destination))

    # The builder must not be asked again: make a render fail loudly.
    from kaleidoscope.workflows import builder

    monkeypatch.setattr(builder, "workflow", lambda *a, **k: pytest.fail("rendered again"))
    shutil.rmtree(spec.destination)
    second = local.run_locally(spec, show_progress=False)

    assert ran[0] == ran[1]
    assert first["outputs"] == second["outputs"] > 0
    assert sorted(json.dumps(r, sort_keys=True) for r in read_records(spec.destination)) == first_records


def _with_spec_default(manifest: dict, text: str) -> dict:
    copy = json.loads(json.dumps(manifest))
    (parameter,) = [p for p in copy["spec"]["arguments"]["parameters"] if p["name"] == "spec"]
    parameter["value"] = text
    return copy


def test_a_spec_with_the_same_words_reuses_the_manifest_exactly(spec_document, cache, monkeypatch, tmp_path):
    # Another seed and destination: the same title and description, so the same manifest, with
    # the run's own spec given as the `spec` parameter. It must be what a fresh render gives.
    ran: list[tuple[dict, dict]] = []
    real_execute = executor.execute

    def execute(manifest, parameters, *args, **kwargs):
        ran.append((json.loads(json.dumps(manifest)), dict(parameters)))
        return real_execute(manifest, parameters, *args, **kwargs)

    monkeypatch.setattr(executor, "execute", execute)
    other = spec_module.parse({**spec_document, "seed": 8, "destination": str(tmp_path / "other")})

    monkeypatch.setenv(render_cache.CACHE_ENV, "")
    local.run_locally(other, show_progress=False, workers=1)
    fresh, _ = ran.pop()
    fresh_records = sorted(json.dumps(r, sort_keys=True) for r in read_records(other.destination))
    shutil.rmtree(other.destination)

    monkeypatch.setenv(render_cache.CACHE_ENV, str(cache))
    local.run_locally(spec_module.parse(spec_document), show_progress=False, workers=1)
    from kaleidoscope.workflows import builder

    monkeypatch.setattr(builder, "workflow", lambda *a, **k: pytest.fail("rendered again"))
    local.run_locally(other, show_progress=False, workers=1)
    reused, parameters = ran[-1]

    assert len(list(cache.glob("*.json"))) == 1
    assert _with_spec_default(reused, parameters["spec"]) == fresh
    assert sorted(json.dumps(r, sort_keys=True) for r in read_records(other.destination)) == fresh_records


def test_other_transforms_or_worker_count_is_another_entry(spec_document, cache):
    local.run_locally(spec_module.parse(spec_document), show_progress=False, workers=1)
    fewer = {**spec_document, "transforms": spec_document["transforms"][:2]}
    local.run_locally(spec_module.parse(fewer), show_progress=False, workers=1)
    local.run_locally(spec_module.parse(fewer), show_progress=False, workers=2)
    assert len(list(cache.glob("*.json"))) == 3


def test_a_second_run_never_imports_hera(spec_document, cache, tmp_path):
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec_document))
    probe = (
        "import sys\n"
        "from kaleidoscope.workflows import cli\n"
        "code = cli.main(['run', sys.argv[1], '--destination', sys.argv[2]])\n"
        "print('HERA' if 'hera' in sys.modules else 'NO-HERA')\n"
        "sys.exit(code)\n"
    )
    seen = []
    for number in range(2):  # two destinations: a new one is no first run
        done = subprocess.run(
            [sys.executable, "-c", probe, str(spec_path), str(tmp_path / f"out{number}")],
            capture_output=True,
            text=True,
            env={**os.environ, render_cache.CACHE_ENV: str(cache)},
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr
        seen.append(done.stdout.strip().splitlines()[-1])
    assert seen == ["HERA", "NO-HERA"]


def test_a_corrupt_entry_is_rendered_again_and_replaced(cache):
    calls = []

    def render():
        calls.append(1)
        return {"kind": "Workflow", "n": len(calls)}

    assert render_cache.manifest({"a": 1}, render) == {"kind": "Workflow", "n": 1}
    (entry,) = cache.glob("*.json")
    entry.write_text('{"kind": "Workfl')
    assert render_cache.manifest({"a": 1}, render) == {"kind": "Workflow", "n": 2}
    assert render_cache.manifest({"a": 1}, render) == {"kind": "Workflow", "n": 2}
    assert len(calls) == 2


def test_an_empty_variable_turns_the_cache_off(monkeypatch, tmp_path):
    monkeypatch.setenv(render_cache.CACHE_ENV, "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []
    for _ in range(2):
        render_cache.manifest({"a": 1}, lambda: calls.append(1) or {})
    assert len(calls) == 2
    assert not any(tmp_path.iterdir())


def test_an_unwritable_folder_still_renders(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(render_cache.CACHE_ENV, str(blocker / "cache"))
    assert render_cache.manifest({"a": 1}, lambda: {"ok": True}) == {"ok": True}


def test_only_the_newest_entries_are_kept(cache, monkeypatch):
    monkeypatch.setattr(render_cache, "KEPT", 3)
    for number in range(5):
        render_cache.manifest({"n": number}, lambda number=number: {"n": number})
    kept = sorted(json.loads(path.read_text())["n"] for path in cache.glob("*.json"))
    assert kept == [2, 3, 4]


def test_a_changed_source_file_changes_every_key(tmp_path, monkeypatch):
    copy = tmp_path / "workflows"
    shutil.copytree(Path(kaleidoscope.workflows.__path__[0]), copy)
    monkeypatch.setattr(kaleidoscope.workflows, "__path__", [str(copy)])
    before = render_cache.key({"a": 1})
    builder = copy / "builder.py"
    builder.write_text(builder.read_text() + "\n# changed\n")
    assert render_cache.key({"a": 1}) != before
    assert render_cache.key({"a": 2}) != render_cache.key({"a": 1})


def test_a_read_only_cache_still_serves_its_entries(cache, monkeypatch):
    render_cache.manifest({"a": 1}, lambda: {"n": 1})

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(os, "utime", refuse)
    assert render_cache.manifest({"a": 1}, lambda: pytest.fail("rendered again")) == {"n": 1}


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 99},
        {"output": {"format": "png"}, "transforms": ["flip_lr", "brightness", "contrast"]},
        {"output": {"format": "jpg", "quality": 70}},
        {"normalize": {"size": 64}},
        {"limits": {"max_pixels": 1000, "max_failed": 3}},
        {"include": ["*.png"]},
        {"source": "s3://bucket/in", "destination": "s3://bucket/out"},
    ],
    ids=lambda change: ",".join(change),
)
def test_the_words_decide_the_manifest_and_the_spec_parameter_the_rest(spec_document, change):
    # What the cache relies on: two specs with the same title and description render the same
    # manifest but for the spec parameter's value. A builder that read another spec field into the
    # manifest (a pod's memory from limits.max_pixels, say) would fail here, not serve stale runs.
    from kaleidoscope.workflows import builder
    from kaleidoscope.workflows.argo.describe import describe

    def render(document):
        return builder.manifest(builder.workflow(json.dumps(document)))

    changed = {**spec_document, **change}
    base, other = spec_module.parse(spec_document), spec_module.parse(changed)
    if describe(base, None, False) == describe(other, None, False):
        assert _with_spec_default(render(spec_document), json.dumps(changed)) == render(changed)
    else:
        assert render(spec_document)["metadata"]["annotations"] != render(changed)["metadata"]["annotations"]


def test_words_that_differ_are_told_apart(spec_document):
    from kaleidoscope.workflows.argo.describe import describe

    base = describe(spec_module.parse(spec_document), None, False)
    assert describe(spec_module.parse({**spec_document, "seed": 99}), None, False) == base
    assert describe(spec_module.parse({**spec_document, "transforms": ["flip_lr"]}), None, False) != base
    assert describe(spec_module.parse({**spec_document, "output": {"format": "jpg"}}), None, False) != base
