"""``withItems``, ``withParam`` and ``withSequence``: one task or step per item.

Mirrors Argo's ``expandTask`` / ``processItem`` / ``expandSequence`` (operator.go, dag.go):
``{{item}}`` is a string item itself, a number's or boolean's JSON text, or a list's or map's
compact JSON (map keys sorted); ``{{item.KEY}}`` is a map item's field (its JSON text when not a
string). Each item's node is named ``NAME(INDEX:DESCRIPTION)``, parentheses dropped from the
description, a map described as its sorted ``key:value`` pairs.
"""

from __future__ import annotations

import json
import re

from kaleidoscope.workflows.executor.scope import go_json
from kaleidoscope.workflows.rules.loops import loop_fields


class Number:
    """A JSON number, kept as written (``1.0`` stays ``1.0``, as Go keeps raw JSON)."""

    def __init__(self, text: str):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, Number) and other.text == self.text

    def __repr__(self):
        return self.text


def _from_json(text: str):
    return json.loads(text, parse_int=Number, parse_float=Number)


def _from_yaml(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return Number(json.dumps(value))
    if isinstance(value, list):
        return [_from_yaml(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _from_yaml(item) for key, item in value.items()}
    return value if isinstance(value, str) or value is None else str(value)


def _json(value, sort_keys: bool = False) -> str:
    # Go re-marshals an item's raw JSON as written; only a map item's own keys get sorted
    # (json.Marshal of a map[string]Item), so nested values keep their order.
    if isinstance(value, Number):
        return value.text
    if isinstance(value, list):
        return "[" + ",".join(_json(item) for item in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value) if sort_keys else list(value)
        return "{" + ",".join(go_json(key) + ":" + _json(value[key]) for key in keys) + "}"
    return go_json(value)


def _text(value) -> str:
    """Go's ``fmt.Sprintf("%v", item)`` for an item value."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return _json(value)


def loop_of(step: dict) -> dict:
    """The one field that makes a task or step loop, as ``{field: value}`` for :func:`items`.

    Which field counts is Argo's rule (:mod:`kaleidoscope.workflows.rules.loops`): an empty
    ``withItems`` or ``withParam`` beside it is as good as absent.
    """
    return {field: step[field] for field in loop_fields(step)[:1]}


def items(step: dict) -> list | None:
    """The items of a (substituted) task or step, or None when it does not loop.

    Raises:
        ValueError: ``withParam`` is not a JSON list, or ``withSequence`` is malformed.
    """
    if step.get("withItems") is not None:
        return [_from_yaml(item) for item in step["withItems"]]
    if step.get("withParam") is not None:
        text = str(step["withParam"])
        try:
            value = _from_json(text)
        except ValueError as error:
            raise ValueError(f"withParam value could not be parsed as a JSON list: {text.strip()}: {error}") from None
        if not isinstance(value, list):
            raise ValueError(f"withParam value could not be parsed as a JSON list: {text.strip()}")
        return value
    if step.get("withSequence") is not None:
        return sequence(step["withSequence"])
    return None


def sequence(spec: dict) -> list[str]:
    """``withSequence`` items: strings from start to end (or count of them), printf-formatted."""

    def number(field: str) -> int:
        try:
            return int(str(spec[field]).strip())
        except ValueError:
            raise ValueError(f"withSequence.{field}: bad value {spec[field]!r}: must be a whole number") from None

    start = number("start") if spec.get("start") not in (None, "") else 0
    if spec.get("end") not in (None, ""):
        end = number("end")
    else:
        count = number("count")
        if count == 0:
            return []
        end = start + count - 1
    step = 1 if start <= end else -1
    fmt = re.sub(r"%v", "%d", spec.get("format") or "%d")
    try:
        return [fmt % value for value in range(start, end + step, step)]
    except (TypeError, ValueError) as error:
        raise ValueError(f"withSequence.format: bad value {spec.get('format')!r}: {error}") from None


def item_values(item) -> tuple[dict[str, str], str]:
    """(``item``/``item.KEY`` values, description for the node name) of one item."""
    if isinstance(item, dict):
        values = {f"item.{key}": _text(value) for key, value in item.items()}
        values["item"] = _json(item, sort_keys=True)
        description = ",".join(sorted(f"{key}:{_text(value)}" for key, value in item.items()))
    elif isinstance(item, list):
        values = {"item": _json(item)}
        description = "[" + " ".join(_text(value) for value in item) + "]"
    else:
        values = {"item": _text(item)}
        description = _text(item)
    return values, description.replace("(", "").replace(")", "")


def node_suffix(index: int, description: str) -> str:
    return f"({index}:{description})"
