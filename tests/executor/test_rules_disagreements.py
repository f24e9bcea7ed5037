"""The lint and the local executor give Argo's rules one verdict, and where they once disagreed.

Both call ``kaleidoscope.workflows.rules.validate.validate`` (the executor in its strict form), so
for any manifest the executor's load reports every problem ``kaleidoscope lint --strict`` does, in
the same words; the last tests prove it on broken manifests of every kind of rule. The earlier
cases are where the two disagreed before they shared the rules; the comment above each names the
Argo (v4.1.2) or Go source that decides it.
"""

from __future__ import annotations

import copy

import pytest

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.argo.options import BuildOptions, option_problems
from kaleidoscope.workflows.executor import execute, load
from kaleidoscope.workflows.lint import lint
from kaleidoscope.workflows.rules import cron, depends, durations, loops
from tests.executor.manifests import workflow


def _dag(*tasks: dict, templates: tuple[dict, ...] = ()) -> dict:
    """A Workflow whose entrypoint is a DAG of ``tasks`` over an ``echo`` container template."""
    echo = {"name": "echo", "container": {"image": "alpine", "command": ["true"]}}
    return workflow([{"name": "main", "dag": {"tasks": list(tasks)}}, echo, *templates])


def _executor_problems(manifest: dict) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        load(copy.deepcopy(manifest))
    return caught.value.problems


# -- task names and the depends lexer ---------------------------------------------------------
# workflow/common/ancestry.go: the lexer reads a task name as [a-zA-Z0-9][-a-zA-Z0-9]*, so "a_b"
# is the two operands "a" and "b"; workflow/validate/validate.go (isValidWorkflowFieldName)
# refuses "_" in a task's or step's name. The executor used to read "a_b" as one name and accept it.


def test_the_depends_lexer_splits_a_name_at_an_underscore():
    assert depends.operands("my_task.Succeeded") == [depends.Ref("my", None), depends.Ref("task", "Succeeded")]
    with pytest.raises(ValueError, match="unexpected '_task'"):
        depends.parse("my_task")


def test_a_task_name_with_an_underscore_is_refused_by_both():
    manifest = _dag(
        {"name": "my_task", "template": "echo"},
        {"name": "after", "template": "echo", "depends": "my_task"},
    )
    linted = lint(manifest)
    assert any(p.startswith("spec.templates[0].dag.tasks[0].name: bad value 'my_task'") for p in linted), linted
    assert any("task 'my' is not defined in this DAG" in p for p in linted), linted
    refused = _executor_problems(manifest)
    assert any(p.startswith("manifest: spec.templates[0].dag.tasks[0].name: bad value 'my_task'") for p in refused)
    assert any("spec.templates[0].dag.tasks[1].depends: unexpected '_task'" in p for p in refused), refused


def test_a_step_name_with_an_underscore_is_refused_by_both():
    manifest = _dag({"name": "a", "template": "steps"})
    manifest["spec"]["templates"].append({"name": "steps", "steps": [[{"name": "one_step", "template": "echo"}]]})
    assert any("steps[0][0].name: bad value 'one_step'" in p for p in lint(manifest))
    assert any("steps[0][0].name: bad value 'one_step'" in p for p in _executor_problems(manifest))


# -- what counts as a loop ----------------------------------------------------------------------
# pkg/apis/workflow/v1alpha1/workflow_types.go (DAGTask.ShouldExpand, WorkflowStep.ShouldExpand)
# and workflow/validate/validate.go (addItemsToScope): a non-empty withItems, a non-empty
# withParam, or any withSequence. The executor counted `withItems: []` and `withParam: ""` as loops.


@pytest.mark.parametrize(
    "call, fields",
    [
        ({"withItems": []}, []),
        ({"withParam": ""}, []),
        ({"withItems": None, "withParam": None, "withSequence": None}, []),
        ({"withItems": ["a"]}, ["withItems"]),
        ({"withParam": "[]"}, ["withParam"]),  # an empty list at run time: a loop of no items
        ({"withSequence": {}}, ["withSequence"]),  # a Sequence pointer, even an empty one
        ({"withItems": [], "withParam": '["a"]'}, ["withParam"]),
        ({"withItems": [1], "withParam": "x"}, ["withItems", "withParam"]),
    ],
)
def test_what_makes_a_loop(call, fields):
    assert loops.loop_fields(call) == fields
    assert loops.has_loop(call) is bool(fields)


def test_an_empty_with_items_is_no_loop_for_either():
    uses_item = {
        "name": "a",
        "template": "say",
        "withItems": [],
        "arguments": {"parameters": [{"name": "m", "value": "{{item}}"}]},
    }
    say = {
        "name": "say",
        "inputs": {"parameters": [{"name": "m"}]},
        "container": {"image": "alpine", "command": ["true"]},
    }
    manifest = _dag(uses_item, templates=(say,))
    assert any("{{item}} does not resolve" in p for p in lint(manifest))
    assert any("{{item}} does not resolve" in p for p in _executor_problems(manifest))


def test_an_empty_with_items_runs_the_task_once():
    manifest = _dag({"name": "a", "template": "echo", "withItems": []})
    assert lint(manifest) == []
    result = execute(manifest, show_progress=False)
    assert result.phase == "Succeeded"
    assert [node.type for node in result.nodes if node.display_name == "a"] == ["Pod"]  # not a Skipped group


def test_an_empty_with_items_beside_with_param_is_not_two_loops():
    manifest = _dag({"name": "a", "template": "echo", "withItems": [], "withParam": '["x", "y"]'})
    assert lint(manifest) == []
    result = execute(manifest, show_progress=False)
    assert result.phase == "Succeeded"
    assert sorted(node.display_name for node in result.nodes if node.type == "Pod") == ["a(0:x)", "a(1:y)"]


# -- .AnySucceeded / .AllFailed of a task that does not loop ------------------------------------
# workflow/validate/validate.go (validateDAG): "uses an items-based condition such as
# .AnySucceeded or .AllFailed but does not contain any items". The lint refused it, the
# executor ran it (always false). Both now read rules/structure.py: the same words.


def test_item_results_need_a_loop_for_both():
    manifest = _dag({"name": "a", "template": "echo"}, {"name": "b", "template": "echo", "depends": "a.AnySucceeded"})
    problem = (
        "spec.templates[0].dag.tasks[1].depends: 'a.AnySucceeded' needs task 'a' to loop "
        "(withItems, withParam or withSequence)"
    )
    assert problem in lint(manifest)
    assert f"manifest: {problem}" in _executor_problems(manifest)
    manifest["spec"]["templates"][0]["dag"]["tasks"][0]["withItems"] = [1, 2]
    assert lint(manifest) == []
    load(manifest)


# -- what a finished task offers ----------------------------------------------------------------
# workflow/validate/validate.go (addOutputsToScope): exitCode and outputs.result only for a
# template that has output (Template.HasOutput: container, script, ...); a looped DAG or steps
# template aggregates outputs.parameters only. The executor offered exitCode for every task and
# outputs.result for every looped one.


@pytest.mark.parametrize("variable", ["{{tasks.inner.exitCode}}", "{{tasks.inner.outputs.result}}"])
def test_a_dag_template_task_has_no_exit_code_or_result(variable):
    inner_dag = {"name": "inner-dag", "dag": {"tasks": [{"name": "x", "template": "echo"}]}}
    say = {
        "name": "say",
        "inputs": {"parameters": [{"name": "m"}]},
        "container": {"image": "alpine", "command": ["true"]},
    }
    manifest = _dag(
        {"name": "inner", "template": "inner-dag", "withItems": [1]},
        {
            "name": "after",
            "template": "say",
            "depends": "inner",
            "arguments": {"parameters": [{"name": "m", "value": variable}]},
        },
        templates=(inner_dag, say),
    )
    assert any(f"{variable} does not resolve" in p for p in lint(manifest))
    assert any(f"{variable} does not resolve" in p for p in _executor_problems(manifest))


# -- a {{ never closed ---------------------------------------------------------------------------
# util/template/validate.go: fasttemplate refuses a template whose "{{" has no "}}", in
# validation and at run time alike. The lint refused it; the executor passed the text through.


def test_an_unclosed_tag_is_refused_by_both():
    manifest = _dag({"name": "a", "template": "echo"})
    manifest["spec"]["templates"][1]["container"]["args"] = ["{{inputs.parameters.x"]
    assert any(p.endswith("container.args[0]: '{{' is never closed by '}}'") for p in lint(manifest))
    assert any(p.endswith("container.args[0]: '{{' is never closed by '}}'") for p in _executor_problems(manifest))


# -- Go durations ----------------------------------------------------------------------------------
# Go's time.ParseDuration (src/time/format.go) knows ns, us, µs (U+00B5), μs (U+03BC), ms, s, m,
# h, fractions such as .5s and 1.s, a sign, and a bare 0. Argo's retry backoff reads its fields
# with ParseStringToDuration (pkg/apis/workflow/v1alpha1/utils.go): a whole number of seconds,
# then Go's grammar; robfig/cron (parser.go) reads "@every " and then Go's grammar. The four
# copies disagreed: the options and the chart had no µs or μs, the cron check no μs, and none
# but the executor's took ".5s".


@pytest.mark.parametrize("text", ["1µs", "1μs", "1us", ".5s", "1.s", "1.5h", "0"])
def test_every_go_duration_is_one_everywhere(text):
    assert durations.parse(text) >= 0
    assert option_problems(BuildOptions(retry_backoff=text)) == []
    cron.check(f"@every {text}")
    assert durations.parse_argo(text) == durations.parse(text)


# -- a DAG's structure: one check, two callers ---------------------------------------------------
# rules/structure.py holds validateDAG's rules once; the lint and the executor's load both call
# it, so for each broken DAG below they report the same problems, word for word.


@pytest.mark.parametrize(
    "tasks",
    [
        [],
        [{"name": "a", "template": "echo"}, {"name": "a", "template": "echo"}],
        [{"name": "a", "template": "echo", "depends": "b"}, {"name": "b", "template": "echo", "depends": "a"}],
        [
            {"name": "a", "template": "echo"},
            {"name": "b", "template": "echo", "depends": "a", "continueOn": {"failed": True}},
        ],
        [{"name": "a", "template": "echo"}, {"name": "b", "template": "echo", "dependencies": ["z"]}],
        [{"name": "a", "template": "echo", "depends": "a.Finished"}],
        [{"name": "a", "template": "echo"}, {"name": "b", "template": "echo", "depends": "a", "dependencies": ["a"]}],
    ],
    ids=["empty", "twice", "cycle", "continueOn", "missing", "bad-result", "both-forms"],
)
def test_lint_and_executor_give_a_dags_structure_the_same_verdict(tasks):
    _assert_same_verdict(_dag(*tasks), "spec.templates[0].dag")


def _assert_same_verdict(manifest: dict, where: str) -> None:
    """The lint and the executor's load report the same problems under ``where``, and some."""
    linted = [p for p in lint(manifest) if p.startswith(where)]
    assert linted, f"each case is broken under {where}"
    loaded = [p.removeprefix("manifest: ") for p in _executor_problems(manifest)]
    assert [p for p in loaded if p.startswith(where)] == linted


def _steps(*groups) -> dict:
    """A Workflow whose entrypoint is a steps template of ``groups`` over the ``echo`` template."""
    manifest = _dag({"name": "x", "template": "echo"})
    manifest["spec"]["templates"][0] = {"name": "main", "steps": list(groups)}
    return manifest


@pytest.mark.parametrize(
    "groups",
    [
        ([],),
        ([{"name": "a", "template": "echo"}], [{"name": "a", "template": "echo"}]),
        ([{"template": "echo"}],),
    ],
    ids=["empty-group", "twice", "nameless"],
)
def test_lint_and_executor_give_a_steps_structure_the_same_verdict(groups):
    _assert_same_verdict(_steps(*groups), "spec.templates[0].steps")


# -- every rule: one validator, two callers ------------------------------------------------------
# The executor's load calls validate(strict=True): what `kaleidoscope lint --strict` reports, the
# load reports too, word for word, before its own checks of what it can run here.


def _with_template(manifest: dict, template: dict) -> dict:
    manifest["spec"]["templates"].append(template)
    return manifest


_SAY = {"name": "say", "inputs": {"parameters": [{"name": "m"}]}, "container": {"image": "a", "command": ["echo"]}}
_GEN = {
    "name": "gen",
    "container": {"image": "a", "command": ["true"]},
    "outputs": {"parameters": [{"name": "p", "valueFrom": {"path": "/tmp/p"}}]},
}


def _say(name: str, value: str, **task) -> dict:
    return {"name": name, "template": "say", "arguments": {"parameters": [{"name": "m", "value": value}]}, **task}


BROKEN = {
    "undefined-template": _dag({"name": "a", "template": "ehco"}),
    "undefined-input": _with_template(
        _dag({"name": "a", "template": "echo2"}),
        {"name": "echo2", "container": {"image": "a", "command": ["echo", "{{inputs.parameters.nope}}"]}},
    ),
    "item-outside-a-loop": _with_template(_dag(_say("a", "{{item}}")), _SAY),
    "missing-input": _with_template(_dag({"name": "a", "template": "say"}), _SAY),
    "two-loops": _with_template(_dag(_say("a", "{{item}}", withItems=[1], withParam="[1]")), _SAY),
    "not-upstream": _with_template(
        _with_template(_dag({"name": "g", "template": "gen"}, _say("b", "{{tasks.g.outputs.parameters.p}}")), _SAY),
        _GEN,
    ),
    "undeclared-output": _with_template(
        _with_template(
            _dag({"name": "g", "template": "gen"}, _say("b", "{{tasks.g.outputs.parameters.q}}", depends="g")), _SAY
        ),
        _GEN,
    ),
    "enum": {
        **_dag({"name": "a", "template": "echo"}),
        "spec": {
            **_dag({"name": "a", "template": "echo"})["spec"],
            "arguments": {"parameters": [{"name": "size", "value": "xl", "enum": ["s", "m"]}]},
        },
    },
    "bad-step-name": _steps([{"name": "one_step", "template": "echo"}]),
    "expression-tag": _with_template(_dag(_say("a", "{{=1 + 1}}")), _SAY),
    "own-tag-of-a-script": _with_template(_dag(_say("a", "{{tag}}")), _SAY),
}
#: What Argo accepts and only a run that fills every tag before a node starts refuses.
STRICT_ONLY = {"expression-tag", "own-tag-of-a-script"}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_executor_reports_every_problem_the_strict_lint_reports(case):
    manifest = BROKEN[case]
    strict = lint(copy.deepcopy(manifest), strict=True)
    assert strict, f"{case} is broken"
    loaded = [p.removeprefix("manifest: ") for p in _executor_problems(manifest)]
    assert loaded[: len(strict)] == strict
    # The plain lint is Argo's verdict: the same problems but for what only strictness adds.
    assert (lint(copy.deepcopy(manifest)) == []) == (case in STRICT_ONLY)
    if case not in STRICT_ONLY:
        assert lint(copy.deepcopy(manifest)) == strict
