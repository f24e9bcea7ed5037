"""The rule for a missing prerequisite: skip with the reason outside CI, fail under CI.

The end-to-end tests run pytest itself on real tests of the suite with Argo's reference data
pointed at a folder that does not exist (``KALEIDOSCOPE_SHARED_ARGO``), as on a checkout without
``../shared/argo``: the schema check skips, or fails under CI, naming the missing path, while
its sibling check, which needs nothing outside the project, still passes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests import argo_schema
from tests.prerequisites import missing, under_ci

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "value, expected",
    [(None, False), ("", False), ("false", False), ("0", False), ("true", True), ("True", True), ("1", True)],
)
def test_under_ci_reads_the_ci_variable(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert under_ci() is expected


def test_missing_skips_with_the_reason_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="the thing is not here"):
        missing("the thing is not here")


def test_missing_fails_with_the_reason_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="the thing is not here"):
        missing("the thing is not here")


def test_the_reference_data_folder_is_overridable(tmp_path):
    # Imported afresh in a child, as a pytest run reads it: the variable decides where to look.
    code = "from tests import argo_schema as a; print(a.SCHEMA_PATH); print(a.missing_reason(a.SCHEMA_PATH))"
    env = {**os.environ, argo_schema.SHARED_ARGO_VARIABLE: str(tmp_path / "nowhere")}
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    path, reason = shown.stdout.splitlines()
    assert path == str(tmp_path / "nowhere" / "schema.json")
    assert str(tmp_path / "nowhere") in reason and "does not exist" in reason


SCHEMA_TEST = "tests/test_builder.py::test_committed_manifest_passes_argos_strict_schema[workflow]"
LINT_TEST = "tests/test_builder.py::test_committed_manifest_lints_clean[workflow]"
CONFORMANCE_TEST = "tests/executor/test_conformance.py::test_example[hello-world.yaml]"


def run_pytest(tests: list[str], argo_folder: Path, ci: bool, report: Path) -> tuple[str, dict[str, tuple[str, str]]]:
    """Pytest's printed output, and each test's (outcome, message) by test name, from its JUnit report."""
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "PYTEST_ADDOPTS")}
    env[argo_schema.SHARED_ARGO_VARIABLE] = str(argo_folder)
    env["COLUMNS"] = "1000"  # the short summary is cut to the terminal's width
    if ci:
        env["CI"] = "true"
    # No cache plugin: the failures provoked here must not land in the real run's --lf list.
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-ra", f"--junitxml={report}", *tests]
    ran = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    results = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        verdict = next((child for child in case if child.tag in ("skipped", "failure", "error")), None)
        outcome = "passed" if verdict is None else verdict.tag
        results[case.get("name")] = (outcome, "" if verdict is None else verdict.get("message", ""))
    return ran.stdout, results


def name(test: str) -> str:
    return test.split("::")[-1]


def test_without_argo_data_the_schema_checks_skip_saying_why_and_the_rest_runs(tmp_path):
    absent = tmp_path / "no-shared-argo"
    printed, results = run_pytest([SCHEMA_TEST, LINT_TEST, CONFORMANCE_TEST], absent, False, tmp_path / "report.xml")
    assert {test: outcome for test, (outcome, _) in results.items()} == {
        name(SCHEMA_TEST): "skipped",
        name(LINT_TEST): "passed",
        name(CONFORMANCE_TEST): "skipped",
    }, printed[-3000:]
    assert all(f"{absent} does not exist" in message for outcome, message in results.values() if outcome == "skipped")
    # -ra prints the reason in the short summary
    assert re.search(rf"^SKIPPED \[2\] .*{re.escape(str(absent))} does not exist", printed, re.MULTILINE), printed


def test_under_ci_without_argo_data_the_schema_checks_fail_saying_what_is_missing(tmp_path):
    absent = tmp_path / "no-shared-argo"
    printed, results = run_pytest([SCHEMA_TEST, LINT_TEST, CONFORMANCE_TEST], absent, True, tmp_path / "report.xml")
    assert {test: outcome for test, (outcome, _) in results.items()} == {
        name(SCHEMA_TEST): "failure",
        name(LINT_TEST): "passed",
        name(CONFORMANCE_TEST): "failure",
    }, printed[-3000:]
    for outcome, message in results.values():
        assert outcome == "passed" or (f"{absent} does not exist" in message and "CI=true" in message), message
    assert re.search(rf"^FAILED {re.escape(SCHEMA_TEST)} - .*{re.escape(str(absent))} does not exist", printed, re.M)


def test_under_ci_a_file_missing_from_the_argo_data_fails_naming_it(tmp_path):
    partial = tmp_path / "argo"
    (partial / "examples").mkdir(parents=True)  # the folder is there; schema.json and the example are not
    _, results = run_pytest([SCHEMA_TEST, CONFORMANCE_TEST], partial, True, tmp_path / "report.xml")
    assert results[name(SCHEMA_TEST)][0] == results[name(CONFORMANCE_TEST)][0] == "failure", results
    assert f"{partial / 'schema.json'} is missing" in results[name(SCHEMA_TEST)][1]
    assert f"{partial / 'examples' / 'hello-world.yaml'} is missing" in results[name(CONFORMANCE_TEST)][1]
