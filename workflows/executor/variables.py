"""Argo's simple template tags, ``{{name}}``, and their substitution.

Argo substitutes tags in one pass over the text of a field (``util/template`` in Argo); how a
tag is read is :mod:`kaleidoscope.workflows.rules.variables`. Expression tags (``{{=...}}``) need
Argo's expression language and are refused when the manifest is loaded, so they never reach this
module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from kaleidoscope.workflows.rules.variables import TAG


def to_text(value) -> str:
    """A YAML scalar as Argo reads it into a string parameter."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else str(value)


class Unresolved(Exception):
    """A tag whose variable has no value in the scope."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"failed to resolve {{{{{name}}}}}")


class Absent(Exception):
    """A reference to an output of a Skipped or Omitted node that declared no default.

    Argo calls such an output *absent* (docs/variables.md, "Outputs of Skipped and Omitted
    Nodes"): it fails the referencing node unless the consumer's input default applies.
    """

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"{{{{{name}}}}} refers to an output of a node that was skipped or omitted and has no default")


class Broken:
    """A value that exists but cannot be formed; substituting it fails the node with ``message``."""

    def __init__(self, message: str):
        self.message = message


#: The value of an absent output (see :class:`Absent`).
ABSENT = object()


def substitute(text: str, values: Mapping[str, Any], keep: Callable[[str], bool] | None = None) -> str:
    """Replace every tag in ``text`` by its value.

    Args:
        text: the field's text.
        values: variable name -> string value, :data:`ABSENT` or :class:`Broken`.
        keep: names it accepts are left as they are (e.g. ``item`` before a loop expands).

    Raises:
        Unresolved: a tag's name is not in ``values`` (and not kept).
        Absent: a tag refers to an absent output.
        ValueError: a tag's value is :class:`Broken` (its message says why).
    """

    def replace(match: re.Match) -> str:
        name = match.group(1).strip()
        if keep is not None and keep(name):
            return match.group(0)
        if name not in values:
            raise Unresolved(name)
        value = values[name]
        if value is ABSENT:
            raise Absent(name)
        if isinstance(value, Broken):
            raise ValueError(value.message)
        return value

    return TAG.sub(replace, text)


def substitute_all(value: Any, values: Mapping[str, Any], keep: Callable[[str], bool] | None = None) -> Any:
    """:func:`substitute` in every string of a YAML value (mapping keys are left alone)."""
    if isinstance(value, str):
        return substitute(value, values, keep)
    if isinstance(value, list):
        return [substitute_all(item, values, keep) for item in value]
    if isinstance(value, dict):
        return {key: substitute_all(item, values, keep) for key, item in value.items()}
    return value
