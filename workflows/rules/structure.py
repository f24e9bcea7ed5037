"""A DAG's and a steps template's structure, checked as Argo's validation checks them: the one
place both ``kaleidoscope lint`` and the local executor's load read these rules from, so they give
the same verdict in the same words.

Argo v4.1.2, ``workflow/validate/validate.go`` (``validateDAG``, ``validateDAGTargets``): a DAG
has tasks with unique names; one DAG uses ``depends`` or ``dependencies``, not both;
``continueOn`` does not go with ``depends`` (its ``.Failed`` and ``.Errored`` say it); every task a
task waits for exists; ``.AnySucceeded`` and ``.AllFailed`` name a task that loops; no task waits
for itself through others; every name of ``target`` is a task. ``depends`` is read with Argo's
lexer (:func:`.depends.operands`) and parsed with its grammar (:func:`.depends.parse`); the graph
is :mod:`.dag`. A ``target`` naming variables is resolved when the DAG runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kaleidoscope.workflows.rules import dag as graph
from kaleidoscope.workflows.rules import depends
from kaleidoscope.workflows.rules.loops import has_loop


def listing(names: Iterable[str]) -> str:
    """Names for a message, sorted; ``none`` for none."""
    names = sorted(names)
    return ", ".join(names) if names else "none"


@dataclass
class Shape:
    """What a DAG's check found: its task names, what each task waits for, and its problems."""

    names: dict[str, int] = field(default_factory=dict)  # task name -> index
    upstream: dict[Any, list[str]] = field(default_factory=dict)  # task name -> the tasks it waits for
    problems: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


def dag(template_dag: dict, where: str) -> Shape:
    """Check a template's ``dag`` (at ``where``, e.g. ``spec.templates[0].dag``)."""
    shape = Shape()
    tasks = [task for task in (template_dag.get("tasks") or []) if isinstance(task, dict)]
    if not tasks:
        shape.add(f"{where}.tasks", "a DAG needs at least one task")
        return shape
    for index, task in enumerate(tasks):
        name = task.get("name")
        if not name:
            shape.add(f"{where}.tasks[{index}].name", "every task needs a name")
        elif name in shape.names:
            shape.add(
                f"{where}.tasks[{index}].name", f"'{name}' is already the name of {where}.tasks[{shape.names[name]}]"
            )
        else:
            shape.names[name] = index
    if any(task.get("depends") for task in tasks) and any(task.get("dependencies") for task in tasks):
        shape.add(where, "use depends or dependencies in one DAG, not both")
    for index, task in enumerate(tasks):
        shape.upstream[task.get("name")] = _dependencies(shape, f"{where}.tasks[{index}]", task, tasks)
    _cycles(shape, where, tasks)
    target = template_dag.get("target")
    for name in target.split() if isinstance(target, str) else []:
        if "{{" not in name and name not in shape.names:
            shape.add(f"{where}.target", f"task '{name}' is not defined in this DAG (tasks: {listing(shape.names)})")
    return shape


def _dependencies(shape: Shape, where: str, task: dict, tasks: list[dict]) -> list[str]:
    """The existing tasks ``task`` waits for; its problems go to ``shape``."""
    found: list[str] = []
    names = shape.names
    expression = task.get("depends")
    if expression is not None and task.get("continueOn") is not None:
        shape.add(where, "cannot use continueOn with depends (depend on the task's .Failed or .Errored instead)")
    if isinstance(expression, str):
        try:
            depends.parse(expression)  # the grammar, a task result's name included
        except ValueError as error:
            shape.add(f"{where}.depends", str(error))
        for operand in depends.operands(expression):
            name, result = operand.task, operand.result
            if name not in names:
                shape.add(f"{where}.depends", f"task '{name}' is not defined in this DAG (tasks: {listing(names)})")
                continue
            if result in depends.ITEM_RESULTS and not has_loop(tasks[names[name]]):
                shape.add(
                    f"{where}.depends",
                    f"'{name}.{result}' needs task '{name}' to loop (withItems, withParam or withSequence)",
                )
            found.append(name)
    for index, name in enumerate(task.get("dependencies") or []):
        if name in names:
            found.append(name)
        else:
            shape.add(
                f"{where}.dependencies[{index}]", f"task '{name}' is not defined in this DAG (tasks: {listing(names)})"
            )
    return list(dict.fromkeys(found))


def _cycles(shape: Shape, where: str, tasks: list[dict]) -> None:
    """One problem per dependency cycle, at the cycle's first task in the DAG."""
    for cycle in graph.cycles(shape.upstream):
        first = min(cycle[:-1], key=shape.names.__getitem__)
        field_name = "depends" if tasks[shape.names[first]].get("depends") else "dependencies"
        shape.add(
            f"{where}.tasks[{shape.names[first]}].{field_name}",
            f"dependency cycle (each waits for the next): {' -> '.join(cycle)}",
        )


def steps(groups: object, where: str) -> list[str]:
    """Check a template's ``steps`` (at ``where``, e.g. ``spec.templates[0].steps``): a list of
    non-empty groups of steps, each step named, no name used twice in the template
    (``validateSteps``)."""
    if not isinstance(groups, list):
        return [f"{where}: must be a list of step groups"]
    problems: list[str] = []
    seen: dict[str, str] = {}
    for group_index, group in enumerate(groups):
        if not isinstance(group, list) or not group:
            problems.append(f"{where}[{group_index}]: a step group is a non-empty list of steps")
            continue
        for index, step in enumerate(group):
            step_where = f"{where}[{group_index}][{index}]"
            name = step.get("name") if isinstance(step, dict) else None
            if not name:
                problems.append(f"{step_where}.name: every step needs a name")
            elif name in seen:
                problems.append(f"{step_where}.name: '{name}' is already the name of {seen[name]}")
            else:
                seen[name] = step_where
    return problems
