"""DAG dependencies for the lint: what each task waits for, and the problems of its fields.

``depends`` is read with Argo's own lexer (:func:`kaleidoscope.workflows.rules.depends.operands`):
every ``task`` or ``task.Result`` in the expression, whatever the operators around them, as
Argo's validation reads it. The graph (ancestors, cycles) is :mod:`kaleidoscope.workflows.rules.dag`.
"""

from __future__ import annotations

from kaleidoscope.workflows._lint_variables import listing
from kaleidoscope.workflows.rules import dag
from kaleidoscope.workflows.rules.depends import ITEM_RESULTS, RESULTS, operands
from kaleidoscope.workflows.rules.loops import has_loop


def dependencies(where: str, task: dict, names: dict[str, int], tasks: list[dict]) -> tuple[list[str], list[str]]:
    """The tasks ``task`` waits for (existing ones), and the problems of its depends/dependencies.

    Args:
        where: The task's path, e.g. ``spec.templates[0].dag.tasks[2]``.
        task: The task.
        names: Task name -> index in the DAG.
        tasks: The DAG's tasks.
    """
    found: list[str] = []
    problems: list[str] = []
    if task.get("depends") and task.get("dependencies"):
        problems.append(f"{where}: give depends or dependencies, not both")
    depends = task.get("depends")
    if isinstance(depends, str):
        for operand in operands(depends):
            name, result = operand.task, operand.result
            if name not in names:
                problems.append(f"{where}.depends: task '{name}' is not defined in this DAG (tasks: {listing(names)})")
                continue
            if result and result not in RESULTS:
                problems.append(f"{where}.depends: '{name}.{result}' is not a task result (use {', '.join(RESULTS)})")
            elif result in ITEM_RESULTS and not has_loop(tasks[names[name]]):
                problems.append(
                    f"{where}.depends: '{name}.{result}' needs task '{name}' to loop (withItems, withParam or withSequence)"
                )
            found.append(name)
    for index, name in enumerate(task.get("dependencies") or []):
        if name in names:
            found.append(name)
        else:
            problems.append(
                f"{where}.dependencies[{index}]: task '{name}' is not defined in this DAG (tasks: {listing(names)})"
            )
    return list(dict.fromkeys(found)), problems


def cycle_problems(where: str, tasks: list[dict], names: dict[str, int], upstream: dict[str, list[str]]) -> list[str]:
    """One problem per dependency cycle, at the cycle's first task in the DAG."""
    problems: list[str] = []
    for cycle in dag.cycles(upstream):
        first = min(cycle[:-1], key=names.__getitem__)
        field_name = "depends" if tasks[names[first]].get("depends") else "dependencies"
        problems.append(
            f"{where}.dag.tasks[{names[first]}].{field_name}: "
            f"dependency cycle (each waits for the next): {' -> '.join(cycle)}"
        )
    return problems
