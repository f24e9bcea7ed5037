"""``{{...}}`` tags: how they are read, where they stand, and what a finished node offers them.

Argo reads tags as fasttemplate does (``util/template`` in Argo): from ``{{`` to the first
``}}`` after it, white-space inside the braces ignored; a ``{{`` never closed makes the whole
field invalid, in validation and at run time. ``{{=expression}}`` tags are Argo's expression
language, a different grammar.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

#: One simple tag; group 1 is what stands between the braces.
TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
#: Template kinds whose node has a result and an exit code (Argo's ``Template.HasOutput``).
RESULT_KINDS = ("container", "containerSet", "script", "data", "http", "plugin")
#: What any finished task or step offers: ``tasks.NAME.<field>`` or ``steps.NAME.<field>``.
NODE_FIELDS = ("id", "startedAt", "finishedAt", "hostNodeName", "status")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def tags(text: str) -> Iterator[str | None]:
    """What stands between the braces of each tag of ``text``, in order; None for a ``{{`` never closed."""
    end = 0
    for match in TAG.finditer(text):
        yield match.group(1)
        end = match.end()
    if "{{" in text[end:]:
        yield None


def names(text: str) -> list[str]:
    """The variable names of the closed tags of ``text``, white-space stripped, in order."""
    return [tag.strip() for tag in tags(text) if tag is not None]


def is_expression(tag: str) -> bool:
    """Whether a tag is an expression tag (``{{=...}}``)."""
    return tag.strip().startswith("=")


def is_item(name: str) -> bool:
    """Whether a variable is a loop's ``item`` or one of its keys."""
    return name == "item" or name.startswith("item.")


def key_path(where: str, key: Any) -> str:
    """``where`` extended by a key or index: ``a.b``, ``a[0]``, ``a["x.io/y"]``."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    key = str(key)
    if _PLAIN_KEY.match(key):
        return f"{where}.{key}" if where else key
    return f'{where}["{key}"]'


def strings(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a manifest value with its path (mapping keys are not values)."""
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, key_path(where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings(value, key_path(where, index))


def _names(items: Any) -> list[str]:
    return [item["name"] for item in items or [] if isinstance(item, dict) and item.get("name")]


def node_variables(root: str, name: str, template: Mapping | None, looped: bool) -> set[str]:
    """The variables a finished task or step offers to those after it (Argo's ``addOutputsToScope``).

    Args:
        root: ``tasks`` in a DAG, ``steps`` in a steps template.
        name: The task's or step's name.
        template: The template it runs; None when unknown here (``templateRef``, ``inline``).
        looped: Whether it loops: its outputs are then also aggregated as ``outputs.parameters``.
    """
    base = f"{root}.{name}"
    names = {f"{base}.{field}" for field in NODE_FIELDS}
    if template is None:
        return names
    if template.get("daemon"):
        names.add(f"{base}.ip")
    if any(template.get(kind) is not None for kind in RESULT_KINDS):
        names |= {f"{base}.outputs.result", f"{base}.exitCode"}
    outputs = template.get("outputs") or {}
    names |= {f"{base}.outputs.parameters.{output}" for output in _names(outputs.get("parameters"))}
    names |= {f"{base}.outputs.artifacts.{output}" for output in _names(outputs.get("artifacts"))}
    if looped:
        names.add(f"{base}.outputs.parameters")
    return names
