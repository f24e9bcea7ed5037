"""A DAG's dependency graph: what a task waits for, directly or not; cycles; default targets.

``upstream`` maps each task to the tasks it waits for (from ``depends`` or ``dependencies``,
see :mod:`.depends`), in the order they are written. Argo's validation refuses a cycle
(``verifyNoCycles`` in ``workflow/validate/validate.go``); a task sees the outputs of its
ancestors (``GetTaskAncestry`` in ``workflow/common/ancestry.go``); a DAG without ``target``
runs the tasks nothing depends on (``findLeafTaskNames`` in ``workflow/controller/dag.go``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def ancestors(name: str, upstream: Mapping[str, Sequence[str]]) -> list[str]:
    """Every task ``name`` waits for, directly or not, nearest first; never ``name`` itself.

    Names that are not tasks of ``upstream`` are left out.
    """
    found: list[str] = []
    pending = list(reversed(upstream.get(name, ())))
    while pending:
        other = pending.pop()
        if other not in found and other != name and other in upstream:
            found.append(other)
            pending.extend(reversed(upstream[other]))
    return found


def cycles(upstream: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Each distinct dependency cycle once, as the names along it ending where it starts.

    The search starts from the tasks in ``upstream``'s order and follows each task's
    dependencies in their order, so the first cycle is the same on every call.
    """
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for other in upstream.get(name, ()):
            if state.get(other) == 1:
                cycle = path[path.index(other) :] + [other]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    found.append(cycle)
            elif state.get(other) is None and other in upstream:
                visit(other, path + [other])
        state[name] = 2

    for name in upstream:
        if state.get(name) is None:
            visit(name, [name])
    return found


def leaves(upstream: Mapping[str, Sequence[str]]) -> list[str]:
    """The tasks no other task waits for, sorted: a DAG's targets when it names none."""
    needed = {other for names in upstream.values() for other in names}
    return sorted(name for name in upstream if name not in needed)
