"""A workflow's spec joined with the WorkflowTemplate its ``workflowTemplateRef`` names.

Argo's ``JoinWorkflowSpec`` and ``MergeTo`` (``workflow/util/merge.go``): the template's spec is
the base and the workflow's own spec a Kubernetes strategic merge patch over it, so the workflow
wins field by field. Mappings merge key by key; a list with a merge key in Argo's types
(``templates``, ``volumes``, ``arguments.parameters``... by ``name``) merges item by item, an
item of the workflow merged into the template's item of the same key and a new one added; any
other list, and every scalar, the workflow gives replaces the template's. Items are ordered as
``mergeSlice`` orders them (``k8s.io/apimachinery/pkg/util/strategicpatch``): the workflow's items
in its order, the template's own ones kept before a workflow item that follows them in the
template. Then, as ``JoinWorkflowSpec`` does, a parameter with a value (``value``, ``default`` or
``valueFrom``) is the workflow's own declaration whole when it declares one with a value, else
the template's whole: the parameter's other fields are not mixed. A field the workflow leaves
empty (null, ``[]``, ``""`` but for a parameter's value or default) is not set, as Go's
``omitempty`` drops it before the merge.
"""

from __future__ import annotations

import copy

#: Per Argo type: field -> (type of its value or items, merge key of a merged list or None).
_TYPES: dict[str, dict[str, tuple[str | None, str | None]]] = {
    "WorkflowSpec": {
        "templates": ("Template", "name"),
        "templateDefaults": ("Template", None),
        "arguments": ("Arguments", None),
        "volumes": (None, "name"),
        "tolerations": (None, "key"),
        "imagePullSecrets": (None, "name"),
        "hostAliases": (None, "ip"),
    },
    "Template": {
        "inputs": ("Arguments", None),
        "outputs": ("Arguments", None),
        "dag": ("DAG", None),
        "volumes": (None, "name"),
        "initContainers": (None, "name"),
        "sidecars": (None, "name"),
        "tolerations": (None, "key"),
        "hostAliases": (None, "ip"),
    },
    "Arguments": {"parameters": (None, "name"), "artifacts": (None, "name")},
    "DAG": {"tasks": (None, "name")},
}


def _empty(key: str, value) -> bool:
    # A parameter's value and default are pointers in Argo's types: an empty text is a value. An
    # empty mapping stays: most are structs (``emptyDir: {}``), which omitempty keeps.
    return value is None or value == [] or (value == "" and key not in ("value", "default"))


def _omit_empty(value):
    """The value as Go marshals it: empty fields of mappings dropped (list items kept)."""
    if isinstance(value, dict):
        return {key: _omit_empty(item) for key, item in value.items() if not _empty(key, item)}
    if isinstance(value, list):
        return [_omit_empty(item) for item in value]
    return value


def _merge_map(original: dict, patch: dict, kind: str | None) -> dict:
    merged = dict(original)
    fields = _TYPES.get(kind or "", {})
    for key, value in patch.items():
        if key not in merged or type(merged[key]) is not type(value):
            merged[key] = value
            continue
        item_kind, merge_key = fields.get(key, (None, None))
        if isinstance(value, dict):
            merged[key] = _merge_map(merged[key], value, item_kind)
        elif isinstance(value, list) and merge_key is not None:
            merged[key] = _merge_list(merged[key], value, item_kind, merge_key)
        else:
            merged[key] = value
    return merged


def _merge_list(original: list, patch: list, kind: str | None, key: str) -> list:
    """``mergeSlice`` for a list of mappings with a merge key."""
    if not all(isinstance(item, dict) for item in [*original, *patch]):
        return patch
    for item in patch:
        if key not in item:
            raise ValueError(f"an item has no {key!r}, the key items are merged by")
    merged = list(original)
    for item in patch:
        found = next((index for index, known in enumerate(merged) if known.get(key) == item[key]), None)
        if found is None:
            merged.append(item)
        else:
            merged[found] = _merge_map(merged[found], item, kind)
    patch_keys = [item[key] for item in patch]
    original_keys = [item.get(key) for item in original]
    from_patch = sorted(
        (item for item in merged if item.get(key) in patch_keys), key=lambda item: patch_keys.index(item[key])
    )
    server_only = [item for item in merged if item.get(key) not in patch_keys]
    # mergeSortedSlice: a template-only item goes first when the template has it before the
    # workflow's next item; otherwise the workflow's item goes.
    ordered, left, right = [], 0, 0
    while left < len(server_only) or right < len(from_patch):
        if left >= len(server_only):
            ordered.append(from_patch[right])
            right += 1
        elif right >= len(from_patch):
            ordered.append(server_only[left])
            left += 1
        else:
            mine, theirs = server_only[left].get(key), from_patch[right][key]
            if (
                mine in original_keys
                and theirs in original_keys
                and original_keys.index(mine) < original_keys.index(theirs)
            ):
                ordered.append(server_only[left])
                left += 1
            else:
                ordered.append(from_patch[right])
                right += 1
    return ordered


def _has_value(param: dict) -> bool:
    return any(param.get(field) is not None for field in ("value", "default", "valueFrom"))


def _with_values(spec: dict) -> dict[str, dict]:
    params = ((spec.get("arguments") or {}).get("parameters")) or []
    return {
        param["name"]: param for param in params if isinstance(param, dict) and "name" in param and _has_value(param)
    }


def join(workflow_spec: dict, template_spec: dict) -> dict:
    """The spec a workflow with a ``workflowTemplateRef`` runs (new objects; inputs unchanged).

    Raises:
        ValueError: a merged list's item lacks its merge key (Argo fails the workflow so too).
    """
    own = _omit_empty(copy.deepcopy(workflow_spec))
    base = _omit_empty(copy.deepcopy(template_spec))
    merged = _merge_map(base, own, "WorkflowSpec")
    mine, theirs = _with_values(own), _with_values(base)
    params = (merged.get("arguments") or {}).get("parameters") or []
    for index, param in enumerate(params):
        name = param.get("name") if isinstance(param, dict) else None
        if isinstance(name, str) and _has_value(param):
            chosen = mine.get(name) or theirs.get(name)
            if chosen is not None:
                params[index] = copy.deepcopy(chosen)
    return merged
