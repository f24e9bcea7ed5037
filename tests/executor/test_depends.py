"""Argo's enhanced depends expressions and ``when`` conditions, as pure functions."""

from __future__ import annotations

import pytest

from kaleidoscope.workflows.executor import conditions
from kaleidoscope.workflows.rules import depends
from kaleidoscope.workflows.rules.depends import TaskResults


def _results(**phases) -> dict[str, TaskResults]:
    return {name: TaskResults(phase) for name, phase in phases.items()}


# (expression, continueOn per task, phases, expected) — the first rows are the examples of
# Argo's docs/enhanced-depends-logic.md.
CASES = [
    # "task || task-2.Failed" == (task.Succeeded || task.Skipped || task.Daemoned) || task-2.Failed
    ("task || task-2.Failed", {}, {"task": "Succeeded", "task-2": "Succeeded"}, True),
    ("task || task-2.Failed", {}, {"task": "Skipped", "task-2": "Succeeded"}, True),
    ("task || task-2.Failed", {}, {"task": "Failed", "task-2": "Failed"}, True),
    ("task || task-2.Failed", {}, {"task": "Failed", "task-2": "Succeeded"}, False),
    ("task || task-2.Failed", {}, {"task": "Omitted", "task-2": "Error"}, False),
    ("(task-2.Succeeded || task-2.Skipped) && !task-3.Failed", {}, {"task-2": "Skipped", "task-3": "Succeeded"}, True),
    ("(task-2.Succeeded || task-2.Skipped) && !task-3.Failed", {}, {"task-2": "Succeeded", "task-3": "Failed"}, False),
    ("(task-2.Succeeded || task-2.Skipped) && !task-3.Failed", {}, {"task-2": "Failed", "task-3": "Succeeded"}, False),
    # dag-continue-on-fail.yaml: D runs after B failed and C succeeded; G is omitted after E failed.
    ("B.Failed && C", {}, {"B": "Failed", "C": "Succeeded"}, True),
    ("B.Failed && C", {}, {"B": "Succeeded", "C": "Succeeded"}, False),
    ("E && F", {}, {"E": "Failed", "F": "Succeeded"}, False),
    # Each result name means its phase; Errored is the Error phase.
    ("A.Errored", {}, {"A": "Error"}, True),
    ("A.Errored", {}, {"A": "Failed"}, False),
    ("A.Omitted", {}, {"A": "Omitted"}, True),
    ("A.Skipped", {}, {"A": "Omitted"}, False),
    ("A.Daemoned", {}, {"A": "Succeeded"}, False),
    # A bare name accepts Succeeded and Skipped, not Omitted, Failed or Error...
    ("A", {}, {"A": "Skipped"}, True),
    ("A", {}, {"A": "Omitted"}, False),
    ("A", {}, {"A": "Error"}, False),
    # ...unless the task's continueOn widens it (Argo's expandDependency).
    ("A", {"A": {"failed": True}}, {"A": "Failed"}, True),
    ("A", {"A": {"failed": True}}, {"A": "Error"}, False),
    ("A", {"A": {"error": True}}, {"A": "Error"}, True),
    # Precedence: ! over && over ||.
    ("!A.Succeeded || B.Succeeded && C.Succeeded", {}, {"A": "Succeeded", "B": "Succeeded", "C": "Failed"}, False),
    ("!A.Succeeded || B.Succeeded && C.Succeeded", {}, {"A": "Failed", "B": "Failed", "C": "Failed"}, True),
    ("!(A.Succeeded || B.Succeeded)", {}, {"A": "Failed", "B": "Error"}, True),
]


@pytest.mark.parametrize("expression, continue_on, phases, expected", CASES)
def test_depends_expression(expression, continue_on, phases, expected):
    tree = depends.parse(expression)
    assert depends.evaluate(tree, _results(**phases), continue_on) is expected


def test_fan_out_results_any_succeeded_and_all_failed():
    mixed = {"A": TaskResults("Failed", ("Failed", "Succeeded"))}
    failed = {"A": TaskResults("Failed", ("Failed", "Failed"))}
    assert depends.evaluate(depends.parse("A.AnySucceeded"), mixed, {})
    assert not depends.evaluate(depends.parse("A.AllFailed"), mixed, {})
    assert depends.evaluate(depends.parse("A.AllFailed"), failed, {})
    # Without items nothing "all failed" (Argo: allFailed starts true only with children).
    assert not depends.evaluate(depends.parse("A.AllFailed"), {"A": TaskResults("Failed")}, {})


def test_dependencies_list_is_a_conjunction_of_bare_names():
    tree = depends.from_dependencies(["A", "B"])
    assert depends.tasks(tree) == ["A", "B"]
    assert depends.evaluate(tree, _results(A="Succeeded", B="Skipped"), {})
    assert not depends.evaluate(tree, _results(A="Succeeded", B="Failed"), {})
    assert depends.describe(tree, {"B": {"failed": True}}) == (
        "((A.Succeeded || A.Skipped || A.Daemoned) && (B.Succeeded || B.Skipped || B.Daemoned || B.Failed))"
    )


def test_tasks_lists_each_dependency_once_in_order():
    assert depends.tasks(depends.parse("(b-1.Failed || a) && !b-1.Succeeded")) == ["b-1", "a"]


@pytest.mark.parametrize(
    "expression, message",
    [
        ("A.Finished", "task result 'Finished' for task 'A' is invalid"),
        ("A &&", "expected a task name"),
        ("(A || B", "missing ')'"),
        ("A B", "unexpected"),
        ("A & B", "unexpected"),
        ("", "empty"),
    ],
)
def test_malformed_depends_is_refused(expression, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        depends.parse(expression)


@pytest.mark.parametrize(
    "condition, expected",
    [
        ("heads == heads", True),  # bare words are strings (Argo turns variables into strings)
        ("tails == heads", False),
        ('"hello world" == "hello world"', True),
        ("5 > 3", True),
        ("10 > 9", True),  # numbers compare as numbers, not text
        ("2.5 <= 2.5", True),
        ("-1 < 0", True),
        ("5 == 5.0", True),
        ("5 == five", False),
        ("a != b && 1 < 2", True),
        ("a == b || !(1 > 2)", True),
        ("true", True),
        ("false || false", False),
        ("hello =~ 'h.*o'", True),
        ("hello !~ '^x'", True),
        ("", True),
    ],
)
def test_when_conditions(condition, expected):
    assert conditions.evaluate(condition) is expected


@pytest.mark.parametrize("condition", ["heads", "5", "1 < ", "(a == a", "a == a b"])
def test_when_that_is_not_a_boolean_expression_is_an_error(condition):
    with pytest.raises(ValueError):
        conditions.evaluate(condition)
