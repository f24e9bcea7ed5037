"""Argo's own example workflows, run by the local executor, end as Argo documents.

The examples live in ``../shared/argo/examples`` beside the project (``../shared/argo/README.md``;
``KALEIDOSCOPE_SHARED_ARGO`` moves it, see ``tests/argo_schema.py``): Argo's ``examples/*.yaml``
at v4.1.2 that use only what the executor supports. Each one's expected phase and outputs come
from its own comments and Argo's documentation; every example in the folder must have an
expectation here, so a new one cannot be skipped silently. Without the folder each test here
skips, saying so, or fails under CI.

Two things differ from a cluster, on purpose: images are not pulled (``cat /etc/os-release``
reads this machine's file), and the examples that sleep for tens of seconds run with a ``sleep``
on PATH that sleeps 1/50 of the time and logs when it starts and ends, so the tests stay fast
and can still prove how many nodes ran at once.
"""

from __future__ import annotations

import inspect
import os
import shutil
from pathlib import Path

import pytest

from kaleidoscope.workflows.executor import execute
from tests.argo_schema import EXAMPLES_DIR, require, require_examples

# The checks below are listed in this file, not found in the folder, so the tests are collected
# without it; each one then skips (or fails under CI) on its own, naming what is missing.
EXAMPLES = EXAMPLES_DIR


SLEEP_SCALE = 0.02


@pytest.fixture
def fast_sleep(tmp_path, monkeypatch) -> Path:
    """A ``sleep`` first on PATH (nodes inherit it) that sleeps 1/50 of the time and logs."""
    real = shutil.which("sleep")
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "sleeps.log"
    script = folder / "sleep"
    script.write_text(
        "#!/bin/sh\n"
        'echo "start $(date +%s.%N)" >> "$SLEEP_LOG"\n'
        f'{real} "$(awk -v s="$1" \'BEGIN {{ print s * {SLEEP_SCALE} }}\')"\n'
        'echo "end $(date +%s.%N)" >> "$SLEEP_LOG"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    monkeypatch.setenv("SLEEP_LOG", str(log))
    return log


def max_overlap(log: Path) -> int:
    events = sorted(
        (float(stamp), 1 if kind == "start" else -1)
        for kind, stamp in (line.split() for line in log.read_text().splitlines())
    )
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def run(name: str, parameters: dict | None = None):
    return execute(EXAMPLES / name, parameters, show_progress=False)


def printed(result, display_name: str) -> list[str]:
    return result.node(display_name).stdout_tail


def before(result, first: str, then: str) -> bool:
    return result.node(first).finished_at <= result.node(then).started_at


def pods(result):
    return [node for node in result.nodes if node.type == "Pod"]


# --- one check per example ---------------------------------------------------------------------


def check_hello_world():
    result = run("hello-world.yaml")
    assert result.phase == "Succeeded"
    assert printed(result, result.name) == ["hello world"]


def check_arguments_parameters():
    # "To override the printed message, run argo submit with the -p option"
    result = run("arguments-parameters.yaml")
    assert result.phase == "Succeeded"
    assert printed(result, result.name) == ["hello world"]
    result = run("arguments-parameters.yaml", {"message": "goodbye world"})
    assert result.phase == "Succeeded"
    assert printed(result, result.name) == ["goodbye world"]


def check_global_parameters():
    result = run("global-parameters.yaml", {"message": "goodbye world"})
    assert result.phase == "Succeeded"
    assert printed(result, result.name) == ["goodbye world"]


def check_steps():
    # hello1 completes before hello2a and hello2b, which run in parallel (one step group).
    result = run("steps.yaml")
    assert result.phase == "Succeeded"
    groups = [node for node in result.nodes if node.type == "StepGroup"]
    assert [[child.display_name for child in result.children(group)] for group in groups] == [
        ["hello1"],
        ["hello2a", "hello2b"],
    ]
    assert before(result, "hello1", "hello2a") and before(result, "hello1", "hello2b")
    assert [printed(result, name) for name in ("hello1", "hello2a", "hello2b")] == [
        ["hello1"],
        ["hello2a"],
        ["hello2b"],
    ]


def check_dag_diamond():
    result = run("dag-diamond.yaml")
    assert result.phase == "Succeeded"
    assert [printed(result, name) for name in "ABCD"] == [["A"], ["B"], ["C"], ["D"]]
    assert before(result, "A", "B") and before(result, "A", "C")
    assert before(result, "B", "D") and before(result, "C", "D")


def check_dag_multiroot():
    result = run("dag-multiroot.yaml")
    assert result.phase == "Succeeded"
    assert before(result, "A", "C") and before(result, "A", "D") and before(result, "B", "D")
    assert sorted(name for node in pods(result) for name in node.stdout_tail) == ["A", "B", "C", "D"]


def check_dag_nested():
    result = run("dag-nested.yaml")
    assert result.phase == "Succeeded"
    assert sorted(line for node in pods(result) for line in node.stdout_tail) == sorted(
        outer + inner for outer in "ABCD" for inner in "ABCD"
    )
    for outer in result.children(result.root):  # each nested diamond runs in order too
        inner = {child.display_name: child for child in result.children(outer)}
        assert inner["A"].finished_at <= inner["B"].started_at and inner["C"].finished_at <= inner["D"].started_at


def check_dag_continue_on_fail():
    # Labelled "expected-failure" upstream. D runs because B failed and C succeeded
    # ("B.Failed && C"); G is Omitted because E failed; G's branch inherits E's failure, so the
    # DAG - and the workflow - fail (Argo's assessDAGPhase, docs/enhanced-depends-logic.md).
    result = run("dag-continue-on-fail.yaml")
    assert result.phase == "Failed"
    phases = {node.display_name: node.phase for node in result.children(result.root)}
    assert phases == {
        "A": "Succeeded",
        "B": "Failed",
        "C": "Succeeded",
        "D": "Succeeded",
        "E": "Failed",
        "F": "Succeeded",
        "G": "Omitted",
    }
    assert printed(result, "B") == ["intentional failure"]


def check_loops():
    result = run("loops.yaml")
    assert result.phase == "Succeeded"
    items = [node.display_name for node in pods(result)]
    assert items == ["print-message-loop(0:hello world)", "print-message-loop(1:goodbye world)"]
    assert [printed(result, name) for name in items] == [["hello world"], ["goodbye world"]]


def check_loops_dag():
    result = run("loops-dag.yaml")
    assert result.phase == "Succeeded"
    fan_out = result.node("B")
    assert fan_out.type == "TaskGroup"
    assert [(child.display_name, child.stdout_tail) for child in result.children(fan_out)] == [
        ("B(0:foo)", ["foo"]),
        ("B(1:bar)", ["bar"]),
        ("B(2:baz)", ["baz"]),
    ]
    assert all(child.finished_at <= result.node("C").started_at for child in result.children(fan_out))
    assert before(result, "A", "B(0:foo)")


def check_loops_param_argument():
    # One node per item of the JSON list parameter, named by the display-name annotation.
    # The image is not pulled: each node reads this machine's /etc/os-release.
    result = run("loops-param-argument.yaml")
    assert result.phase == "Succeeded"
    nodes = pods(result)
    assert [node.display_name for node in nodes] == [
        "os-debian-9.1",
        "os-debian-8.9",
        "os-alpine-3.6",
        "os-ubuntu-17.10",
    ]
    assert [node.inputs for node in nodes][2] == {"image": "alpine", "tag": "3.6"}
    assert all(node.stdout_tail for node in nodes)


def check_loops_param_result(fast_sleep):
    # The generator's result (a JSON list) expands the next step into parallel steps.
    result = run("loops-param-result.yaml")
    assert result.phase == "Succeeded"
    assert result.node("generate").result == "[20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]"
    sleeps = [node for node in pods(result) if node.template == "sleep-n-sec"]
    assert [node.display_name for node in sleeps] == [f"sleep({i}:{20 + i})" for i in range(11)]
    assert sleeps[3].stdout_tail == ["sleeping for 23 seconds", "done"]
    assert max_overlap(fast_sleep) == 11  # no parallelism limit: all at once


def check_output_parameter():
    result = run("output-parameter.yaml")
    assert result.phase == "Succeeded"
    assert result.node("generate-parameter").outputs == {"hello-param": "hello world"}
    assert result.node("consume-parameter").inputs == {"message": "hello world"}
    assert printed(result, "consume-parameter") == ["hello world"]


def check_parallelism_limit(fast_sleep):
    # parallelism: 2 - ten sleeps, at most two at a time (five rounds of "sleep 10").
    result = run("parallelism-limit.yaml")
    assert result.phase == "Succeeded"
    assert len(pods(result)) == 10
    assert max_overlap(fast_sleep) == 2
    assert result.duration >= 5 * 10 * SLEEP_SCALE


def check_retry_script():
    # Fails with a 66% probability, retried up to 10 times: it succeeds on the first attempt
    # that exits 0 (the overwhelmingly likely outcome), or fails after 11 attempts.
    result = run("retry-script.yaml")
    attempts = result.children(result.root)
    assert result.root.type == "Retry" and 1 <= len(attempts) <= 11
    assert all(attempt.phase == "Failed" for attempt in attempts[:-1])
    if result.phase == "Succeeded":
        assert attempts[-1].phase == "Succeeded"
    else:
        assert result.phase == "Failed" and len(attempts) == 11
        assert result.root.message == "No more retries left"


def check_scripts_bash():
    result = run("scripts-bash.yaml")
    assert result.phase == "Succeeded"
    number = int(result.node("generate").result)
    assert 1 <= number <= 100
    assert printed(result, "print") == [f"result was: {number}"]


def check_scripts_python():
    result = run("scripts-python.yaml")
    assert result.phase == "Succeeded"
    number = int(result.node("generate").result)
    assert 1 <= number <= 100
    assert printed(result, "print") == [f"result was: {number}"]


CHECKS = {
    name[len("check_") :].replace("_", "-") + ".yaml": check
    for name, check in dict(globals()).items()
    if name.startswith("check_")
}


def test_every_example_has_an_expectation():
    examples = sorted(path.name for path in require_examples().glob("*.yaml"))
    assert examples, f"no examples in {EXAMPLES}"
    assert sorted(set(examples) - set(CHECKS)) == [], "examples without an expectation in this file"


@pytest.mark.parametrize("example", sorted(CHECKS))
def test_example(example, request):
    require(EXAMPLES / example)
    check = CHECKS[example]
    check(**{name: request.getfixturevalue(name) for name in inspect.signature(check).parameters})
