"""Exit hooks: a template run once a task, a step or the whole workflow has ended, whatever its phase.

Follows Argo v4.1.2 (``runOnExitNode`` in workflow/controller/exit_handler.go,
``GetExitHook`` in pkg/apis/workflow/v1alpha1/workflow_types.go):

- the exit hook of a task, a step or the workflow is its ``hooks.exit``, else its older
  ``onExit`` (a template name; a task's or step's gets the workflow's arguments);
- a task's or step's hook runs as the node ``<node name>.onExit``, a child of the node it hooks,
  with that node's own outputs and status in its arguments' scope;
- those after the task or step wait for its hook (``common.CheckAllHooksFullfilled``), while the
  hook's phase changes neither the node's nor its DAG's (``assessDAGPhase`` reads the target
  tasks' branches only).

Hooks named otherwise run while their ``expression`` holds, which needs Argo's controller: the
load refuses them (:mod:`.fields`).
"""

from __future__ import annotations

from kaleidoscope.workflows.executor import variables
from kaleidoscope.workflows.executor.calls import Call
from kaleidoscope.workflows.executor.nodes import Node
from kaleidoscope.workflows.executor.parallel import Boundary
from kaleidoscope.workflows.executor.scope import arguments, node_values

_RESOLVE_ERRORS = (variables.Unresolved, variables.Absent, ValueError)


def exit_hook(owner: dict, workflow_arguments: dict | None = None) -> dict | None:
    """The exit hook of a task, step or workflow spec, as a lifecycle hook; None when it has none."""
    hooks = owner.get("hooks")
    if isinstance(hooks, dict) and hooks.get("exit"):
        return hooks["exit"]
    if owner.get("onExit"):
        return {"template": owner["onExit"], "arguments": workflow_arguments or {}}
    return None


def after(runner, call: dict, node: Node | None, caller: dict, root: str, scope: dict, boundary: Boundary, depth: int):
    """Run the exit hook of ``call`` (a task or step of ``caller``) once its node has ended.

    Args:
        runner: the run.
        call: the task or step.
        node: its node; nothing runs when there is none (the run stopped before it started).
        caller: the DAG or steps template it belongs to.
        root: ``tasks`` or ``steps``, the prefix of its variables.
        scope: the variables its own arguments were made from.
        boundary: the DAG's or steps template's parallelism.
        depth: the call depth of its template.
    """
    hook = exit_hook(call, runner.wf.spec.get("arguments"))
    if hook is None or node is None or runner.stop.is_set():
        return None
    name, display = f"{node.name}.onExit", f"{node.display_name}.onExit"
    values = {**scope, **node_values(root, call["name"], node, runner.wf.resolve(call, caller))}
    ticket = boundary.enqueue()
    try:
        try:
            args = arguments(hook, values)
        except _RESOLVE_ERRORS as error:
            return runner.new_node(name, display, "Skipped", hook.get("template"), node, "Error", str(error))
        return runner.call(name, display, hook, args, Call(node, boundary, depth, False, ticket), caller)
    finally:
        boundary.discard(ticket)
