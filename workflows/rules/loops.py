"""What makes a DAG task or a step loop: ``withItems``, ``withParam`` or ``withSequence``.

Argo's ``ShouldExpand`` (``pkg/apis/workflow/v1alpha1/workflow_types.go``), which the
controller (``workflow/controller/dag.go``, ``steps.go``) and the validation's
``addItemsToScope`` (``workflow/validate/validate.go``) both follow: a non-empty ``withItems``
list, a non-empty ``withParam`` string, or any ``withSequence``. So ``withItems: []`` and
``withParam: ""`` are as good as absent: the task runs once, and has no ``{{item}}``.
"""

from __future__ import annotations

from collections.abc import Mapping

FIELDS = ("withItems", "withParam", "withSequence")


def loop_fields(call: Mapping) -> list[str]:
    """The loop fields of a task or step that make it loop, in :data:`FIELDS` order.

    More than one is an error Argo reports ("only one of withItems, withParam, withSequence").
    """
    given = []
    if call.get("withItems") not in (None, []):
        given.append("withItems")
    if call.get("withParam") not in (None, ""):
        given.append("withParam")
    if call.get("withSequence") is not None:
        given.append("withSequence")
    return given


def has_loop(call: Mapping) -> bool:
    """Whether a task or step fans out over items."""
    return bool(loop_fields(call))
