"""DAG dependencies for the lint: what each task waits for, cycles, and what is upstream.

``depends`` is read with Argo's own tokeniser (``workflow/common/ancestry.go``): every
``task`` or ``task.Result`` in the expression, whatever the operators around them.
"""

from __future__ import annotations

import re

from kaleidoscope.workflows._lint_variables import listing

TASK_RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed")
_ITEM_RESULTS = ("AnySucceeded", "AllFailed")
_TOKEN = re.compile(r"([a-zA-Z0-9][-a-zA-Z0-9]*?\.[A-Z][a-zA-Z]+)|([a-zA-Z0-9][-a-zA-Z0-9]*)")
_LOOPS = ("withItems", "withParam", "withSequence")


def loops(task: dict) -> bool:
    """Whether a task or step fans out over items."""
    return any(task.get(key) not in (None, "", []) for key in _LOOPS)


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
        for with_result, bare in _TOKEN.findall(depends):
            name, _, result = (with_result or bare).partition(".")
            if name not in names:
                problems.append(f"{where}.depends: task '{name}' is not defined in this DAG (tasks: {listing(names)})")
                continue
            if result and result not in TASK_RESULTS:
                problems.append(
                    f"{where}.depends: '{name}.{result}' is not a task result (use {', '.join(TASK_RESULTS)})"
                )
            elif result in _ITEM_RESULTS and not loops(tasks[names[name]]):
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
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    problems: list[str] = []
    reported: set[frozenset] = set()

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dependency in upstream.get(name, []):
            if state.get(dependency) == 1:
                cycle = path[path.index(dependency) :] + [dependency]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    first = min(cycle[:-1], key=names.__getitem__)
                    field_name = "depends" if tasks[names[first]].get("depends") else "dependencies"
                    problems.append(
                        f"{where}.dag.tasks[{names[first]}].{field_name}: "
                        f"dependency cycle (each waits for the next): {' -> '.join(cycle)}"
                    )
            elif state.get(dependency) is None:
                visit(dependency, path + [dependency])
        state[name] = 2

    for name in names:
        if state.get(name) is None:
            visit(name, [name])
    return problems


def ancestors(name: str, upstream: dict[str, list[str]]) -> set[str]:
    """Every task ``name`` waits for, directly or not."""
    seen: set[str] = set()
    pending = list(upstream.get(name, []))
    while pending:
        other = pending.pop()
        if other not in seen and other != name:
            seen.add(other)
            pending.extend(upstream.get(other, []))
    return seen
