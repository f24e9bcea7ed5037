"""``spec.onExit``: the exit handler runs once the main tree has ended, whatever its phase, with
``workflow.status``, ``workflow.failures`` and ``workflow.duration``; a main tree that succeeded
takes the handler's failure. What Argo does: workflow/controller/operator.go (operate: the
failures list, the onExit node ``<workflow>.onExit``, the final phase) and Argo's
examples/exit-handlers.yaml, whose shape the first test runs."""

from __future__ import annotations

import json

import pytest

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.executor import execute, format_tree
from tests.executor.manifests import sh, workflow


def _workflow(main_script: str, handler: list[dict], *extra: dict) -> dict:
    templates = [sh("main", main_script), {"name": "exit-handler", "steps": [handler]}, *extra]
    return workflow(templates, onExit="exit-handler")


REPORT = "echo '{{workflow.status}}'; echo {{workflow.failures}}; echo '{{workflow.duration}}'"


def _by_display(result) -> dict:
    return {node.display_name: node for node in result.nodes}


def test_the_exit_handler_runs_after_a_failed_main_with_its_status_and_failures(tmp_path):
    manifest = _workflow(
        "echo intentional failure; exit 1",
        [
            {"name": "notify", "template": "report"},
            {"name": "celebrate", "template": "ok", "when": "{{workflow.status}} == Succeeded"},
            {"name": "cry", "template": "ok", "when": "{{workflow.status}} != Succeeded"},
        ],
        sh("report", REPORT),
        sh("ok", "true"),
    )
    result = execute(manifest, show_progress=False, workdir=tmp_path / "run")
    nodes = _by_display(result)
    assert result.phase == "Failed" and result.message == "Error (exit code 1)"
    handler = nodes[f"{result.name}.onExit"]
    assert handler.parent is None and handler.phase == "Succeeded"
    assert (nodes["celebrate"].phase, nodes["cry"].phase) == ("Skipped", "Succeeded")
    status, failures, duration = next((tmp_path / "run").glob("nodes/notify-*/stdout")).read_text().splitlines()
    assert status == "Failed" and float(duration) >= 0
    # Argo's failedNodeStatus, one per failed or errored node, in its field order.
    [failure] = json.loads(failures)
    assert list(failure) == ["displayName", "message", "templateName", "phase", "podName", "finishedAt"]
    assert (failure["displayName"], failure["templateName"], failure["phase"]) == (result.name, "main", "Failed")
    # `argo get` shows the exit handler's tree after the main one.
    tree = format_tree(result)
    assert tree.index(f"{result.name}.onExit") > tree.index(f"✖ {result.name}")


def test_a_failing_exit_handler_fails_a_workflow_whose_main_succeeded(tmp_path):
    manifest = _workflow("true", [{"name": "notify", "template": "broken"}], sh("broken", "exit 3"))
    result = execute(manifest, show_progress=False)
    assert result.root.phase == "Succeeded"
    assert result.phase == "Failed" and result.message == _by_display(result)[f"{result.name}.onExit"].message


def test_a_succeeded_workflow_reports_no_failures(tmp_path):
    manifest = _workflow("true", [{"name": "notify", "template": "report"}], sh("report", REPORT))
    result = execute(manifest, show_progress=False, workdir=tmp_path / "run")
    assert result.phase == "Succeeded"
    status, failures, _ = next((tmp_path / "run").glob("nodes/notify-*/stdout")).read_text().splitlines()
    assert (status, failures) == ("Succeeded", "null")  # Go's JSON of an empty list of failures


def test_an_exit_handler_naming_no_template_is_refused_before_anything_runs():
    manifest = _workflow("true", [{"name": "notify", "template": "ok"}], sh("ok", "true"))
    manifest["spec"]["onExit"] = "nowhere"
    with pytest.raises(InvalidInput, match=r"spec\.onExit: template 'nowhere' is not defined"):
        execute(manifest, show_progress=False)
