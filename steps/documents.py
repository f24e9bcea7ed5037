"""Parsing untrusted YAML/JSON documents (specs) at a bounded cost.

Anyone who can submit to the Argo server can type a spec into the UI, and every step pod parses
it. YAML aliases make a 1 kB document stand for 10^8 strings: PyYAML builds them as shared
references cheaply, but everything that walks the result (schema validation, hashing, error
messages) pays for every expanded node. So the text's size is bounded first, then the document's
*expanded* node count and depth are computed on the node graph before anything is built from it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from kaleidoscope.steps.errors import InvalidInput

if TYPE_CHECKING:
    import yaml

#: Largest document accepted, in bytes of UTF-8. The workflow passes the spec as one command-line
#: argument (``--spec-text=...``) and Linux caps one argument at 128 KiB: refusing well below
#: that turns an oversized spec into exit 2 instead of a failure to start the pod.
MAX_BYTES = 64 * 1024
#: Most nodes (mappings, lists, scalars) once aliases are expanded; a real spec has a few hundred.
MAX_NODES = 10_000
#: Deepest nesting; a real spec is four levels deep.
MAX_DEPTH = 32
#: Longest excerpt of a bad value repeated in a message.
EXCERPT = 80


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """``text`` cut to ``limit`` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _expanded_size(root: yaml.Node, origin: str) -> int:
    """Nodes and depth of the document with every alias expanded, computed without expanding."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, depth)
    # Iterative post-order walk: a hostile document must not exhaust Python's stack either.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if not children_done:
            if key in open_nodes:
                raise InvalidInput(f"{origin}: an alias refers to a node that contains it (recursive document)")
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        open_nodes.discard(key)
        total = 1 + sum(sizes[id(child)][0] for child in children)
        depth = 1 + max((sizes[id(child)][1] for child in children), default=0)
        if total > MAX_NODES:
            raise _too_many(origin)
        if depth > MAX_DEPTH:
            raise _too_deep(origin)
        sizes[key] = (total, depth)
    return sizes[id(root)][0]


def _children(node: yaml.Node) -> list[yaml.Node]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _too_many(origin: str) -> InvalidInput:
    return InvalidInput(
        f"{origin}: the document expands to more than {MAX_NODES:,} values (YAML aliases?): a spec is a few hundred"
    )


def _too_deep(origin: str) -> InvalidInput:
    return InvalidInput(f"{origin}: the document nests deeper than {MAX_DEPTH} levels")


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def _check_plain_size(document: Any, origin: str) -> None:
    """The node-count and depth bounds of :func:`_expanded_size`, on a parsed JSON document."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _too_many(origin)
        if depth > MAX_DEPTH:
            raise _too_deep(origin)
        if isinstance(value, dict):
            # A YAML mapping's keys are nodes too: counted the same way.
            stack.extend((part, depth + 1) for pair in value.items() for part in pair)
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def parse(text: str, origin: str = "<spec>") -> Any:
    """Parse YAML or JSON text (JSON is YAML) within the bounds above.

    Raises:
        InvalidInput: too large, too deep, too many values, or not YAML; one short line naming
            ``origin`` (and the line and column of a syntax error).
    """
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise InvalidInput(f"{origin}: the document is {size:,} bytes; at most {MAX_BYTES:,} are accepted")
    if text.lstrip().startswith("{"):
        # JSON, how the workflow passes the spec to every pod: read without importing PyYAML
        # (~10 ms of a pod's start-up). JSON has no aliases, so its size is its node count.
        # Anything json refuses (or a NaN, which YAML reads as a string) goes through YAML below,
        # which reads valid JSON the same way and names the line of a syntax error.
        try:
            document = json.loads(text, parse_constant=_not_json)
        except (ValueError, RecursionError):
            pass
        else:
            _check_plain_size(document, origin)
            return document
    import yaml

    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            _expanded_size(root, origin)
            return loader.construct_document(root)
        finally:
            loader.dispose()
    except RecursionError:
        # PyYAML's composer recurses once per level: thousands of nested brackets, which fit in
        # MAX_BYTES, exhaust Python's stack before the depth can be counted.
        raise _too_deep(origin) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark else origin
        problem = excerpt(str(getattr(error, "problem", None) or error))
        raise InvalidInput(f"{where}: not valid YAML or JSON: {problem}") from error
