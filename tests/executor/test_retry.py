"""retryStrategy: durations, the retry decision, and retries with backoff in a real run."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from kaleidoscope.workflows.executor import execute
from kaleidoscope.workflows.executor.retry import Strategy, decide
from kaleidoscope.workflows.rules.durations import parse_argo as parse_duration
from tests.executor.manifests import workflow


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("10s", 10),
        ("1m", 60),
        ("1m30s", 90),
        ("2h", 7200),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        (30, 30),
        ("45", 45),
        ("0", 0),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["ten", "10x", "1m-", ""])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_strategy_accepts_string_and_integer_limits_and_defaults_to_on_failure():
    assert Strategy.parse({"limit": "10"}) == Strategy(limit=10)
    assert Strategy.parse({"limit": 2, "retryPolicy": "Always"}).policy == "Always"
    with pytest.raises(ValueError, match="retryPolicy"):
        Strategy.parse({"limit": 1, "retryPolicy": "Sometimes"})
    with pytest.raises(ValueError, match=r"backoff\.duration"):
        Strategy.parse({"limit": 1, "backoff": {"factor": 2}})


def test_backoff_grows_by_factor_and_stops_at_cap():
    strategy = Strategy.parse({"limit": 10, "backoff": {"duration": "1s", "factor": 2, "cap": "5s"}})
    assert [strategy.wait(n) for n in range(1, 6)] == [1, 2, 4, 5, 5]


# (strategy, attempts so far, last phase) -> (retry?, message)
DECISIONS = [
    ({"limit": 2}, 1, "Failed", True, ""),
    ({"limit": 2}, 3, "Failed", False, "No more retries left"),  # limit counts retries: 3 runs
    ({"limit": 2}, 1, "Error", False, "boom"),  # OnFailure does not retry errors
    ({"limit": 2, "retryPolicy": "OnError"}, 1, "Error", True, ""),
    ({"limit": 2, "retryPolicy": "OnError"}, 1, "Failed", False, "boom"),
    ({"limit": 2, "retryPolicy": "Always"}, 1, "Error", True, ""),
    ({"limit": 2, "retryPolicy": "OnTransientError"}, 1, "Failed", False, "boom"),
    ({}, 50, "Failed", True, ""),  # no limit: until it succeeds
    ({"limit": 2}, 1, "Succeeded", False, ""),
]


@pytest.mark.parametrize("spec, attempts, phase, retry, message", DECISIONS)
def test_decide(spec, attempts, phase, retry, message):
    verdict = decide(Strategy.parse(spec), attempts, phase, "boom", 0.0, 1.0, 1.0)
    assert (verdict.retry, verdict.message) == (retry, message)


def test_max_duration_stops_retries_and_backoff_that_would_pass_it():
    strategy = Strategy.parse({"limit": 10, "backoff": {"duration": "10s", "maxDuration": "15s"}})
    assert decide(strategy, 1, "Failed", "", 0.0, 1.0, 1.0).wait == pytest.approx(10)
    assert decide(strategy, 1, "Failed", "", 0.0, 6.0, 6.0).message == "Backoff would exceed max duration limit"
    assert decide(strategy, 1, "Failed", "", 0.0, 16.0, 16.0).message == "Max duration limit exceeded"
    # A scale shortens every duration alike.
    assert decide(strategy, 1, "Failed", "", 0.0, 0.01, 0.01, scale=0.01).wait == pytest.approx(0.1)
    assert not decide(strategy, 1, "Failed", "", 0.0, 0.1, 0.1, scale=0.01).retry


@pytest.mark.parametrize(
    "expression, last, expected",
    [
        ("asInt(lastRetry.exitCode) != 2", {"lastRetry.exitCode": "1"}, True),
        ("asInt(lastRetry.exitCode) != 2", {"lastRetry.exitCode": "2"}, False),
        ('lastRetry.status != "Error"', {}, True),  # the last phase was Failed
        ("asInt(lastRetry.duration) < 60 and retries < '9'", {"lastRetry.duration": "1.5"}, True),
        ("lastRetry.message matches 'exit code (1|3)'", {}, True),
        ("not (lastRetry.exitCode == '-1')", {"lastRetry.exitCode": "-1"}, False),
        ("asFloat(lastRetry.duration) >= 1.5 || false", {"lastRetry.duration": "1.5"}, True),
    ],
)
def test_retry_expression_decides_after_policy_and_limit(expression, last, expected):
    strategy = Strategy.parse({"limit": 5, "expression": expression})
    assert strategy.policy == "Always"  # an expression alone makes the policy Always (Argo >= 3.5)
    verdict = decide(strategy, 1, "Failed", "Error (exit code 3)", 0.0, 1.0, 1.0, last=last)
    assert verdict.retry is expected
    if not expected:
        assert verdict.message == "retryStrategy.expression evaluated to false"


def test_retry_expression_type_errors_and_unknown_names():
    with pytest.raises(ValueError, match="cannot compare"):
        decide(Strategy.parse({"limit": 1, "expression": "lastRetry.exitCode < 2"}), 1, "Failed", "", 0, 1, 1)
    with pytest.raises(ValueError, match=r"unknown name 'lastRetry\.code'"):
        Strategy.parse({"expression": "lastRetry.code == '1'"})


def _workflow(template: dict, log: Path) -> dict:
    return workflow([template], parameters={"log": str(log)})


def test_retries_wait_the_backoff_schedule_then_succeed(tmp_path):
    # GIVEN a node failing twice, then succeeding, with backoff 10s doubling, scaled to 1/50
    log = tmp_path / "starts"
    template = {
        "name": "main",
        "retryStrategy": {"limit": "3", "backoff": {"duration": "10s", "factor": "2"}},
        "script": {
            "image": "alpine",
            "command": ["sh"],
            "source": 'date +%s.%N >> "{{workflow.parameters.log}}"\n[ "{{retries}}" = 2 ]\n',
        },
    }
    result = execute(_workflow(template, log), show_progress=False, backoff_scale=0.02)
    # THEN three attempts ran under one Retry node, 0.2 s then 0.4 s apart (plus run time)
    assert result.phase == "Succeeded"
    retry_node = result.root
    assert retry_node.type == "Retry"
    assert [child.phase for child in result.children(retry_node)] == ["Failed", "Failed", "Succeeded"]
    assert [child.display_name for child in result.children(retry_node)] == [
        f"{result.name}(0)",
        f"{result.name}(1)",
        f"{result.name}(2)",
    ]
    starts = [float(line) for line in log.read_text().split()]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert 0.2 <= gaps[0] < 0.2 + 0.6
    assert 0.4 <= gaps[1] < 0.4 + 0.6
    assert gaps[1] > gaps[0] + 0.1


def test_retries_stop_at_the_limit(tmp_path):
    template = {
        "name": "main",
        "retryStrategy": {"limit": 2},
        "container": {"image": "alpine", "command": ["sh", "-c", "exit 3"]},
    }
    result = execute(_workflow(template, tmp_path / "log"), show_progress=False)
    assert result.phase == "Failed"
    assert result.root.message == "No more retries left"
    assert len(result.root.children) == 3
    assert result.root.exit_code == 3


def test_on_error_policy_retries_a_missing_output_but_not_a_failure(tmp_path):
    # A missing output file is an error of the executor (phase Error), not a failed command.
    missing = {
        "name": "main",
        "retryStrategy": {"limit": 1, "retryPolicy": "OnError"},
        "container": {"image": "alpine", "command": ["true"]},
        "outputs": {"parameters": [{"name": "p", "valueFrom": {"path": "/tmp/none"}}]},
    }
    result = execute(_workflow(missing, tmp_path / "log"), show_progress=False)
    assert result.phase == "Error"
    attempts = result.children(result.root)
    assert [child.phase for child in attempts] == ["Error", "Error"]
    assert attempts[0].message == "open /tmp/none: No such file or directory"
    assert result.root.message == "No more retries left"

    failing = {
        "name": "main",
        "retryStrategy": {"limit": 1, "retryPolicy": "OnError"},
        "container": {"image": "alpine", "command": ["false"]},
    }
    result = execute(_workflow(failing, tmp_path / "log"), show_progress=False)
    assert result.phase == "Failed"
    assert len(result.root.children) == 1


def test_retry_expression_stops_on_an_exit_code(tmp_path):
    # The project's augment step: retried, except when it exits 2 (invalid input).
    template = {
        "name": "main",
        "retryStrategy": {"limit": 3, "expression": "asInt(lastRetry.exitCode) != 2"},
        "container": {"image": "alpine", "command": ["sh", "-c", "exit 2"]},
    }
    result = execute(_workflow(template, tmp_path / "log"), show_progress=False)
    assert result.phase == "Failed" and len(result.root.children) == 1
    assert result.root.message == "retryStrategy.expression evaluated to false"


def test_backoff_scale_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KALEIDOSCOPE_BACKOFF_SCALE", "0.01")
    template = {
        "name": "main",
        "retryStrategy": {"limit": 1, "backoff": {"duration": "30s"}},
        "container": {"image": "alpine", "command": ["false"]},
    }
    started = time.monotonic()
    result = execute(_workflow(template, tmp_path / "log"), show_progress=False)
    assert len(result.root.children) == 2
    assert 0.3 <= time.monotonic() - started < 5


def test_workflow_level_retry_strategy_applies_to_every_template(tmp_path):
    manifest = _workflow({"name": "main", "container": {"image": "alpine", "command": ["false"]}}, tmp_path / "log")
    manifest["spec"]["retryStrategy"] = {"limit": 1}
    result = execute(manifest, show_progress=False)
    assert result.root.type == "Retry" and len(result.root.children) == 2


def test_an_empty_retry_strategy_retries_until_the_node_succeeds(tmp_path):
    # Argo's examples/retry-container-to-completion.yaml: `retryStrategy: {}` has no limit, so the
    # controller retries until success (workflow/controller/operator.go, processNodeRetries:
    # the limit applies only when retryStrategy.Limit is set). Here it fails six times first.
    template = {
        "name": "main",
        "retryStrategy": {},
        "script": {"image": "alpine", "command": ["sh"], "source": '[ "{{retries}}" -ge 6 ]\n'},
    }
    result = execute(_workflow(template, tmp_path / "log"), show_progress=False)
    assert result.phase == "Succeeded" and result.root.type == "Retry"
    assert [child.phase for child in result.children(result.root)] == ["Failed"] * 6 + ["Succeeded"]


def test_a_template_empty_retry_strategy_overrides_the_workflow_default(tmp_path):
    # A template's own retryStrategy, even {}, replaces the workflow's (Argo merges nothing here).
    manifest = _workflow(
        {
            "name": "main",
            "retryStrategy": {},
            "script": {"image": "alpine", "command": ["sh"], "source": '[ "{{retries}}" -ge 3 ]\n'},
        },
        tmp_path / "log",
    )
    manifest["spec"]["retryStrategy"] = {"limit": 1}
    result = execute(manifest, show_progress=False)
    assert result.phase == "Succeeded" and len(result.root.children) == 4


@pytest.mark.parametrize(("safe", "attempts"), [("true", 3), ("false", 1)])
def test_a_retry_expression_reads_the_templates_inputs(tmp_path, safe, attempts):
    # Argo's examples/retry-conditional.yaml: `{{inputs.parameters.safe-to-retry}} == true` in the
    # expression; the controller substitutes the template's variables before evaluating it.
    template = {
        "name": "main",
        "inputs": {"parameters": [{"name": "safe", "value": safe}]},
        "retryStrategy": {
            "limit": 2,
            "expression": "{{inputs.parameters.safe}} == true && asInt(lastRetry.exitCode) == 1",
        },
        "container": {"image": "alpine", "command": ["sh", "-c", "exit 1"]},
    }
    result = execute(_workflow(template, tmp_path / "log"), show_progress=False)
    assert result.phase == "Failed" and len(result.root.children) == attempts
