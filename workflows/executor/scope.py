"""What later tasks and steps see of earlier ones: ``tasks.X.*`` / ``steps.X.*`` values.

The aggregated outputs of a fan-out follow Argo's ``processAggregateNodeOutputs``
(``workflow/controller/operator.go``): over the succeeded items, in item order,
``outputs.parameters`` is a JSON list of ``{name: value}`` maps, ``outputs.parameters.NAME`` a
JSON list of the values (parsed when every value is a JSON list or object, strings otherwise),
and ``outputs.result`` a JSON list of the results, each parsed as JSON. A result that is not JSON
cannot be aggregated, in Argo as here (argoproj/argo-workflows#14439): a reference to it fails.
"""

from __future__ import annotations

import json
import socket

from kaleidoscope.workflows.executor import variables
from kaleidoscope.workflows.executor.nodes import Node, rfc3339
from kaleidoscope.workflows.rules.variables import TAG

_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _go_number(value):
    # Go's encoding/json prints float64 1.0 as 1.
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {key: _go_number(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_go_number(item) for item in value]
    return value


def go_json(value, sort_keys: bool = True) -> str:
    """JSON as Go's ``json.Marshal`` writes it: compact, map keys sorted, HTML characters escaped."""
    text = json.dumps(_go_number(value), separators=(",", ":"), sort_keys=sort_keys, ensure_ascii=False)
    return "".join(_HTML.get(char, char) for char in text)


def compact(text: str) -> str:
    """Raw JSON without insignificant white-space, numbers and key order kept (Go's json.Compact).

    Raises:
        ValueError: not JSON.
    """
    json.loads(text)
    out, in_string, escaped = [], False, False
    for char in text:
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif not char.isspace():
            out.append(char)
    return "".join(_HTML.get(char, char) for char in "".join(out))


def _value_list(values: list[str]) -> str:
    parsed = []
    for value in values:
        try:
            item = json.loads(value)
        except ValueError:
            return go_json(values)
        if not isinstance(item, (list, dict)):
            return go_json(values)
        parsed.append(item)
    return go_json(parsed)


def aggregate(prefix: str, name: str, children: list[Node]) -> dict:
    """The aggregated outputs of a fan-out's items (``children`` in item order)."""
    succeeded = [child for child in children if child.phase == "Succeeded"]
    maps, results, broken = [], [], None
    by_name: dict[str, list[str]] = {}
    for child in succeeded:
        if child.outputs:
            maps.append(dict(child.outputs))
            for key, value in child.outputs.items():
                by_name.setdefault(key, []).append(value)
        if child.result is not None:
            try:
                results.append(compact(child.result))
            except ValueError:
                broken = (
                    f"cannot aggregate {prefix}.{name}.outputs.result: the result of {child.display_name} "
                    f"is not JSON (Argo cannot aggregate it either: argoproj/argo-workflows#14439)"
                )
    values = {
        f"{prefix}.{name}.outputs.parameters": go_json(maps),
        f"{prefix}.{name}.outputs.result": variables.Broken(broken) if broken else "[" + ",".join(results) + "]",
    }
    for key, items in by_name.items():
        values[f"{prefix}.{name}.outputs.parameters.{key}"] = _value_list(items)
    return values


def node_values(prefix: str, name: str, node: Node, called: dict | None, children: list[Node] | None = None) -> dict:
    """``<prefix>.<name>.*`` for a finished task or step (``children``: a fan-out's items)."""
    base = f"{prefix}.{name}"
    values: dict[str, object] = {
        f"{base}.id": node.id,
        f"{base}.status": node.phase,
        f"{base}.startedAt": rfc3339(node.started_at),
        f"{base}.finishedAt": rfc3339(node.finished_at),
        f"{base}.hostNodeName": socket.gethostname(),
    }
    if node.exit_code is not None:
        values[f"{base}.exitCode"] = str(node.exit_code)
    if children is not None:
        values.update(aggregate(prefix, name, children))
    elif node.type == "Skipped":
        # docs/variables.md, "Outputs of Skipped and Omitted Nodes": a declared default, or absent.
        for out in ((called or {}).get("outputs") or {}).get("parameters") or []:
            default = (out.get("valueFrom") or {}).get("default")
            values[f"{base}.outputs.parameters.{out['name']}"] = variables.ABSENT if default is None else str(default)
        values[f"{base}.outputs.result"] = variables.ABSENT
    else:
        values.update({f"{base}.outputs.parameters.{key}": value for key, value in node.outputs.items()})
        if node.result is not None:
            values[f"{base}.outputs.result"] = node.result
    return values


def arguments(step: dict, values: dict) -> dict[str, object]:
    """A task's or step's argument values; an argument that is only a reference to an absent
    output becomes :data:`variables.ABSENT` (the consumer's input default then applies).

    Raises:
        variables.Unresolved, variables.Absent, ValueError: as :func:`variables.substitute`.
    """
    resolved: dict[str, object] = {}
    for param in (step.get("arguments") or {}).get("parameters") or []:
        text = str(param.get("value"))
        whole = TAG.fullmatch(text.strip())
        if whole and values.get(whole.group(1).strip()) is variables.ABSENT:
            resolved[param["name"]] = variables.ABSENT
        else:
            resolved[param["name"]] = variables.substitute(text, values)
    return resolved


def template_outputs(template: dict, values: dict) -> dict[str, str]:
    """A DAG or steps template's output parameters (``valueFrom.parameter``, else its default).

    Raises:
        ValueError: an output cannot be resolved and has no default.
    """
    outputs: dict[str, str] = {}
    for out in (template.get("outputs") or {}).get("parameters") or []:
        source = out.get("valueFrom") or {}
        try:
            outputs[out["name"]] = variables.substitute(str(source["parameter"]), values)
        except (variables.Unresolved, variables.Absent, ValueError) as error:
            if source.get("default") is None:
                raise ValueError(f"outputs.parameters.{out['name']}: {error}") from None
            outputs[out["name"]] = str(source["default"])
    return outputs
