"""``spec.onExit``: the exit handler runs once the main tree has ended, whatever its phase, with
``workflow.status``, ``workflow.failures`` and ``workflow.duration``; a main tree that succeeded
takes the handler's failure. What Argo does: workflow/controller/operator.go (operate: the
failures list, the onExit node ``<workflow>.onExit``, the final phase) and Argo's
examples/exit-handlers.yaml, whose shape the first test runs."""

from __future__ import annotations

import json

import pytest

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.executor import execute, format_tree, load
from kaleidoscope.workflows.lint import lint
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


# -- exit hooks of tasks and steps ------------------------------------------------------------------
# Argo v4.1.2, workflow/controller/exit_handler.go (runOnExitNode): a task's or step's hooks.exit
# (or its older onExit) runs as `<node>.onExit`, a child of the node it hooks, with that node's
# outputs in its arguments' scope; dag.go (evaluateDependsLogic, CheckAllHooksFullfilled) makes
# the dependents wait for it; assessDAGPhase reads the target tasks only, so the hook's failure
# leaves the DAG's phase alone. Argo's examples/exit-handler-with-param.yaml is the first case.


def _hooked_step(template: str = "output", **hook) -> dict:
    return {"name": "step-1", "template": template, "hooks": {"exit": {"template": "exit", **hook}}}


def test_a_steps_exit_hook_runs_after_it_with_its_outputs(tmp_path):
    hook = {"arguments": {"parameters": [{"name": "message", "value": "{{steps.step-1.outputs.parameters.result}}"}]}}
    manifest = workflow(
        [
            {"name": "main", "steps": [[_hooked_step(**hook)]]},
            sh("output", "echo -n hello world > /tmp/hello.txt", outputs={"result": {"path": "/tmp/hello.txt"}}),
            sh("exit", "echo got: {{inputs.parameters.message}}", inputs=["message"]),
        ]
    )
    result = execute(manifest, show_progress=False, workdir=tmp_path / "run")
    assert result.phase == "Succeeded", format_tree(result)
    step, hooked = result.node("step-1"), result.node("step-1.onExit")
    assert hooked.parent == step.id and hooked.started_at >= step.finished_at
    assert next((tmp_path / "run").glob("nodes/step-1.onExit-*/stdout")).read_text() == "got: hello world\n"


def test_a_dependent_task_waits_for_the_exit_hook_whose_failure_fails_nothing():
    manifest = workflow(
        [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {"name": "a", "template": "ok", "onExit": "hook"},
                        {"name": "b", "template": "check", "depends": "a"},
                    ]
                },
            },
            sh("ok", "true"),
            sh("hook", "sleep 0.3; exit 3"),
            sh("check", "true"),
        ]
    )
    result = execute(manifest, show_progress=False)
    hooked = result.node("a.onExit")
    assert hooked.phase == "Failed" and result.node("b").started_at >= hooked.finished_at
    assert (result.node("a").phase, result.node("b").phase, result.phase) == ("Succeeded", "Succeeded", "Succeeded")


def test_the_workflows_hooks_exit_is_its_exit_handler_with_arguments(tmp_path):
    hook = {"template": "report", "arguments": {"parameters": [{"name": "status", "value": "{{workflow.status}}"}]}}
    manifest = workflow(
        [sh("main", "exit 1"), sh("report", "echo status={{inputs.parameters.status}}", inputs=["status"])],
        hooks={"exit": hook},
    )
    result = execute(manifest, show_progress=False, workdir=tmp_path / "run")
    assert result.phase == "Failed" and _by_display(result)[f"{result.name}.onExit"].phase == "Succeeded"
    assert next((tmp_path / "run").glob("nodes/*.onExit-*/stdout")).read_text() == "status=Failed\n"


@pytest.mark.parametrize(
    "hooks, problem",
    [
        (
            {"running": {"template": "ok", "expression": "steps['step-1'].status == 'Running'"}},
            "spec.templates[0].steps[0][0].hooks.running: not supported by the local executor: only the exit hook",
        ),
        (
            {"exit": {"template": "ok", "expression": "true"}},
            "spec.templates[0].steps[0][0].hooks.exit.expression: not supported by the local executor",
        ),
        ({"exit": {"template": "nowhere"}}, "spec.templates[0].steps[0][0].hooks.exit.template: template 'nowhere'"),
    ],
)
def test_hooks_the_executor_cannot_run_are_refused_at_load(hooks, problem):
    step = {"name": "step-1", "template": "ok", "hooks": hooks}
    with pytest.raises(InvalidInput) as caught:
        load(workflow([{"name": "main", "steps": [[step]]}, sh("ok", "true")]))
    assert any(line.startswith(f"manifest: {problem}") for line in caught.value.problems), caught.value.problems


def test_an_exit_hook_on_a_loop_is_refused_at_load():
    task = {"name": "a", "template": "ok", "withItems": [1, 2], "hooks": {"exit": {"template": "ok"}}}
    with pytest.raises(InvalidInput, match=r"spec\.templates\[0\]\.dag\.tasks\[0\]: not supported .* with a loop"):
        load(workflow([{"name": "main", "dag": {"tasks": [task]}}, sh("ok", "true")]))


def test_the_lint_lets_a_hook_name_the_outputs_of_the_step_it_hooks():
    hook = {"arguments": {"parameters": [{"name": "m", "value": "{{steps.step-1.outputs.parameters.result}}"}]}}
    manifest = workflow(
        [
            {"name": "main", "steps": [[_hooked_step(**hook)]]},
            sh("output", "true", outputs={"result": {"path": "/tmp/r"}}),
            sh("exit", "true", inputs=["m"]),
        ]
    )
    assert lint(manifest, strict=True) == []
    # Its siblings' outputs it may not name: they run at the same time.
    hook["arguments"]["parameters"][0]["value"] = "{{steps.other.outputs.parameters.result}}"
    assert lint(manifest) and lint(manifest) == lint(manifest, strict=True)
