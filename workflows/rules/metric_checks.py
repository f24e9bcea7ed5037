"""The checks of a ``metrics`` field, of the workflow or of a template, as Argo's validation makes
them (``validate.go``, ``metrics_custom.go``): names, label keys, help, one value, real-time
gauges, one help and kind per name, and every variable in Argo's metric scope. The rules
themselves are :mod:`.metrics`.
"""

from __future__ import annotations

from typing import Any

from kaleidoscope.workflows.rules.metrics import (
    KINDS,
    NODE_VARIABLES,
    REALTIME_VALUES,
    label_problem,
    name_problem,
)
from kaleidoscope.workflows.rules.scope import Scope, listing
from kaleidoscope.workflows.rules.variables import strings, tags

#: Metric name -> (where it was first emitted, its help, its kind).
SeenKinds = dict[str, tuple[str, Any, str]]


def check(metrics: Any, where: str, scope: Scope, level: str, seen: SeenKinds) -> list[str]:
    """Every problem of a ``metrics`` field at ``where``, each as ``<path>: <what is wrong>``.

    Args:
        metrics: The field's value.
        where: Its path.
        scope: What its ``{{...}}`` may name besides the emitting node's own variables.
        level: ``workflow`` or ``template``: where the metric is.
        seen: The metrics met so far in the manifest, by name; updated, so a later metric of the
            same name is checked against the first.
    """
    problems: list[str] = []

    def add(at: str, message: str) -> None:
        problems.append(f"{at}: {message}")

    if not isinstance(metrics, dict):
        return problems
    for index, metric in enumerate(metrics.get("prometheus") or []):
        at = f"{where}.prometheus[{index}]"
        if not isinstance(metric, dict):
            continue
        name = metric.get("name")
        why = name_problem(name)
        if why:
            add(f"{at}.name", f"bad value {name!r}: {why}")
        for label_index, label in enumerate(metric.get("labels") or []):
            key = label.get("key") if isinstance(label, dict) else None
            why = label_problem(key)
            if why:
                add(f"{at}.labels[{label_index}].key", f"bad value {key!r}: {why}")
        if not metric.get("help"):
            add(f"{at}.help", "required: Argo refuses a metric without help")
        kinds = [kind for kind in KINDS if metric.get(kind) is not None]
        if len(kinds) != 1:
            add(at, f"a metric has exactly one of {', '.join(KINDS)} (found: {', '.join(kinds) or 'none'})")
        for kind in kinds:
            body = metric[kind] if isinstance(metric[kind], dict) else {}
            if not body.get("value"):
                add(f"{at}.{kind}.value", "required: what the metric records")
            if kind == "gauge" and body.get("realtime") and body.get("value") != REALTIME_VALUES[level]:
                add(f"{at}.gauge.value", f"a real-time gauge of a {level} records only {REALTIME_VALUES[level]}")
        if isinstance(name, str) and kinds:
            first = seen.setdefault(name, (at, metric.get("help"), kinds[0]))
            if first[1:] != (metric.get("help"), kinds[0]):
                add(
                    at,
                    f"metric '{name}' is also {first[0]} with another help or kind: Argo keeps one of each "
                    f"per name and refuses the second",
                )
        for path, text in strings(metric, at):
            for tag in tags(text):
                if tag is None:
                    add(path, "'{{' is never closed by '}}'")
                    continue
                why = variable_problem(tag, scope)
                if why:
                    add(path, f"{{{{{tag}}}}} does not resolve: {why}")
    return problems


def variable_problem(tag: str, scope: Scope) -> str | None:
    """Why ``tag`` does not resolve in a metric, or None: Argo's metric scope is the scope of the
    place plus the emitting node's own variables; nothing in a metric is a script's own."""
    text = tag.strip()
    if text in NODE_VARIABLES or text.startswith("=") or text in scope.names:
        return None
    root = text.split(".", 1)[0]
    if root == "outputs":
        declared = sorted(name for name in scope.names if name.startswith("outputs."))
        return f"the emitting node has no {text} (its outputs: {listing(declared)})"
    if root in ("inputs", "workflow", "item", "tasks", "steps", "pod"):
        return scope.unresolved(tag) or None
    return f"not a variable of a metric ({', '.join(NODE_VARIABLES)}, the workflow's, inputs and outputs)"
