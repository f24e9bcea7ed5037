"""Manifests as YAML that reads top-down: what it is, its parameters, then the templates.

Hera's own ``to_yaml`` puts ``spec.arguments`` after all the templates; a user who opens the
committed file to see what to pass with ``-p`` should find the parameters first. The key order
is fixed here, so the rendered text (and the golden files) change only when the content does.
"""

from __future__ import annotations

from typing import Any

import yaml

# Read first, in this order, wherever they appear; the rest follows Hera's reading order
# (scalars, then lists, then mappings) and the templates come last.
_FIRST = (
    "apiVersion",
    "kind",
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
    "metadata",
    "spec",
    "schedules",
    "timezone",
    "entrypoint",
    "template",
    "depends",
    "withParam",
    "arguments",
    "parameters",
    "inputs",
    "outputs",
    "image",
    "command",
    "args",
)
_LAST = ("workflowSpec", "templates")


def _rank(item: tuple[str, Any]) -> tuple[int, int, str]:
    key, value = item
    if key in _FIRST:
        return (0, _FIRST.index(key), key)
    if key in _LAST:
        return (2, _LAST.index(key), key)
    kind = 0 if not isinstance(value, (dict, list)) else 1 if isinstance(value, list) else 2
    return (1, kind, key)


def ordered(value: Any) -> Any:
    """``value`` with every mapping's keys in reading order (lists keep their order)."""
    if isinstance(value, dict):
        return {key: ordered(item) for key, item in sorted(value.items(), key=_rank)}
    if isinstance(value, list):
        return [ordered(item) for item in value]
    return value


class _Dumper(yaml.SafeDumper):
    """Multi-line text (the spec) as a ``|`` block, as a person would write it."""


def _text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    if data in ("y", "Y", "n", "N"):  # YAML 1.1 booleans to kubectl and Argo
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="'")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _text)


def dump(document: dict) -> str:
    """A manifest dictionary as YAML in reading order, lines never wrapped."""
    return yaml.dump(
        ordered(document),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=2**31 - 1,
    )
