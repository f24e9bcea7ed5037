"""What each place of a manifest lets a ``{{...}}`` tag name, and why a tag does not resolve.

Follows Argo's ``resolveAllVariables`` (``workflow/validate/validate.go``): tags are read as
fasttemplate reads them (:mod:`kaleidoscope.workflows.rules.variables`), ``{{=expression}}``
tags are not checked, and only variables under a root Argo defines are (a script may use
``{{...}}`` of its own, which Argo leaves as written).

A *strict* scope (what the local executor needs: it fills every tag before a node starts) also
refuses expression tags and tags under any other root, and resolves run-time variables only
where the run sets them (:func:`kaleidoscope.workflows.rules.validate.validate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kaleidoscope.workflows.rules.structure import listing
from kaleidoscope.workflows.rules.variables import is_expression, is_item

__all__ = ["CHECKED_ROOTS", "RUNTIME_PREFIXES", "Scope", "listing"]

#: Roots Argo checks (common.GlobalVarValidWorkflowVariablePrefix), plus ``item`` itself.
CHECKED_ROOTS = ("item", "steps", "inputs", "outputs", "pod", "workflow", "tasks")
#: Resolved at run time whatever the manifest says.
RUNTIME_PREFIXES = (
    "outputs.",  # a template naming its own outputs (metrics)
    "workflow.creationTimestamp",
    "workflow.scheduledTime",
    "workflow.duration",
    "tasks.name",
    "steps.name",
)


@dataclass
class Scope:
    """What ``{{...}}`` may name at one place, and how to explain what it may not.

    Attributes:
        names: Variables that resolve exactly.
        prefixes: Variables that resolve by prefix (run-time values, unknown outputs).
        loop: None outside a loop, ``"param"`` (any ``item.*``) or ``"items"`` (``item_keys``).
        item_keys: Keys of the ``withItems`` maps.
        inputs: The template's input parameters, for messages.
        parameters: The workflow's parameters, for messages.
        nodes: Task or step name -> why it cannot be named here (``""``: it can).
        node_kind: ``"tasks"`` in a DAG, ``"steps"`` in a steps template, else None.
        strict: Every tag must resolve, whatever its root; expression tags are refused.
        referenced: The place is in a template another object holds (run by ``templateRef``).
    """

    names: set[str] = field(default_factory=set)
    prefixes: tuple[str, ...] = RUNTIME_PREFIXES
    loop: str | None = None
    item_keys: set[str] = field(default_factory=set)
    inputs: list[str] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)
    nodes: dict[str, str] = field(default_factory=dict)
    node_kind: str | None = None
    strict: bool = False
    referenced: bool = False

    def extended(self, names: set[str], loop: Scope | None = None, **changes) -> Scope:
        """This scope plus ``names`` (a trailing ``.*`` allows anything below), a loop's items."""
        prefixes = self.prefixes + tuple(name[:-1] for name in names if name.endswith(".*"))
        exact = self.names | {name for name in names if not name.endswith(".*")}
        if loop is not None:
            changes.update(loop=loop.loop, item_keys=loop.item_keys)
        return replace(self, names=exact, prefixes=prefixes, **changes)

    def unresolved(self, tag: str) -> str | None:
        """Why ``tag`` does not resolve here, or None when it does (or is not Argo's to check)."""
        text = tag.strip()
        root = text.split(".", 1)[0]
        if is_expression(text):
            return "an expression tag needs Argo's expression language: use a simple tag" if self.strict else None
        if root not in CHECKED_ROOTS:
            if not self.strict or text in self.names or text.startswith(self.prefixes):
                return None
            return "not a variable Argo sets here (Argo would leave the tag as written)"
        if is_item(text):
            return self._item(text)
        if text in self.names or text.startswith(self.prefixes):
            return None
        parts = text.split(".")
        if root == "inputs":
            if len(parts) >= 3 and parts[1] == "parameters":
                return f"this template has no input parameter '{parts[2]}' (inputs: {listing(self.inputs)})"
            return "this template has no such input"
        if root == "workflow":
            if len(parts) >= 3 and parts[1] == "parameters" and self.referenced:
                return (
                    f"no workflow parameter '{parts[2]}': a template run by templateRef sees the parameters of "
                    f"the workflow that runs it: declare '{parts[2]}' in that workflow's spec.arguments"
                )
            if len(parts) >= 3 and parts[1] == "parameters":
                return (
                    f"no workflow parameter '{parts[2]}' in spec.arguments.parameters "
                    f"(declared: {listing(self.parameters)})"
                )
            return "not a workflow variable of this manifest"
        if root == "pod":
            return "only a template that runs a pod has pod.name"
        if root in ("tasks", "steps"):
            return self._node(root, parts)
        return "not defined here"

    def _item(self, text: str) -> str | None:
        if self.loop is None:
            return "only a task or step with withItems, withParam or withSequence has {{item}}"
        key = text[len("item.") :] if text.startswith("item.") else None
        if key is None or self.loop == "param" or key in self.item_keys:
            return None
        return f"no item has the key '{key}' (keys: {listing(self.item_keys)})"

    def _node(self, root: str, parts: list[str]) -> str:
        if root != self.node_kind or len(parts) < 2:
            return f"{root}.* is only defined inside a {'DAG' if root == 'tasks' else 'steps'} template"
        what, name = root[:-1], parts[1]
        why = self.nodes.get(name)
        if why is None:
            where = "this DAG" if root == "tasks" else "an earlier step group"
            usable = (node for node, reason in self.nodes.items() if not reason)
            return f"no {what} '{name}' in {where} (known: {listing(usable)})"
        return why or f"{what} '{name}' has no '{'.'.join(parts[2:])}'"
