"""Steps templates: groups run one after another, the steps of a group in parallel.

Follows ``executeSteps`` / ``executeStepGroup`` in Argo's ``workflow/controller/steps.go``: a
step whose ``when`` is false is Skipped; a step with a loop runs one node per item in the same
group; a group fails when a child Failed or Errored and its ``continueOn`` does not allow it, and
then the steps template fails without starting the next group. Later groups see the earlier
steps' outputs (a loop's outputs aggregated) as ``steps.NAME.*``.
"""

from __future__ import annotations

import queue

from kaleidoscope.workflows.executor import conditions, hooks, loops, variables
from kaleidoscope.workflows.executor.calls import Call
from kaleidoscope.workflows.executor.dag import continues_on
from kaleidoscope.workflows.executor.model import call_label
from kaleidoscope.workflows.executor.nodes import FAILED, Node
from kaleidoscope.workflows.executor.parallel import Boundary
from kaleidoscope.workflows.executor.scope import aggregate, arguments, node_values, template_outputs
from kaleidoscope.workflows.rules.loops import has_loop
from kaleidoscope.workflows.rules.variables import is_item

_RESOLVE_ERRORS = (variables.Unresolved, variables.Absent, ValueError)


def run(runner, node: Node, template: dict, values: dict, depth: int) -> None:
    """Run a steps template as ``node`` (already created) and finish it."""
    boundary = Boundary(node, template)
    scope = dict(values)
    for index, group in enumerate(template["steps"]):
        if runner.stop.is_set():
            runner.finish(node, "Failed", runner.stop_reason)
            return
        group_node = runner.new_node(f"{node.name}[{index}]", f"[{index}]", "StepGroup", None, node)
        scope.update(runner.output_values())
        children, error = _run_group(runner, template, group, group_node, boundary, scope, depth)
        failed = error or _failure(group, children, runner.stop_reason)
        if failed:
            runner.finish(group_node, "Error" if error else "Failed", failed)
            runner.finish(node, "Failed", failed)
            return
        runner.finish(group_node, "Succeeded")
        for step in group:
            called = runner.wf.resolve(step, template)
            items = children[step["name"]]
            if has_loop(step):
                ran = [item for item in items if item is not None and item.type != "Skipped"]
                scope.update(node_values("steps", step["name"], group_node, called))
                scope.update(aggregate("steps", step["name"], ran))
            elif items and items[0] is not None:
                scope.update(node_values("steps", step["name"], items[0], called))
    scope.update(runner.output_values())
    try:
        node.outputs = template_outputs(template, scope)
    except ValueError as error:
        runner.finish(node, "Error", str(error))
        return
    runner.finish(node, "Succeeded")


def _run_group(runner, template, group, group_node, boundary, scope, depth):
    """Start every step of a group and wait for them: ({step: [nodes]}, error message or "")."""
    events: queue.Queue = queue.Queue()
    children: dict[str, list] = {step["name"]: [] for step in group}
    started = 0

    def start(step: dict, suffix: str, args: dict, slot: int, scope: dict | None) -> None:
        name = step["name"]
        call = Call(
            group_node, boundary, depth, runner.captures_result(template, name), boundary.enqueue(), runner.next_order()
        )

        def body():
            child = None
            try:
                try:
                    child = runner.call(
                        f"{group_node.name}.{name}{suffix}", f"{name}{suffix}", step, args, call, template
                    )
                finally:
                    boundary.discard(call.ticket)  # before the hook, which needs a place of its own
                if scope is not None:
                    hooks.after(runner, step, child, template, "steps", scope, boundary, depth)
            finally:
                events.put((name, slot, child))

        runner.spawn(body)

    def settle(step: dict, suffix: str, phase: str, message: str) -> Node:
        return runner.new_node(
            f"{group_node.name}.{step['name']}{suffix}",
            f"{step['name']}{suffix}",
            "Skipped",
            call_label(step),
            group_node,
            phase,
            message,
        )

    error = ""
    for step in group:
        name = step["name"]
        step_scope = {**scope, "steps.name": name}
        try:
            if has_loop(step):
                fields = variables.substitute_all(loops.loop_of(step), step_scope, keep=is_item)
                entries = []
                for index, item in enumerate(loops.items(fields) or []):
                    item_values, description = loops.item_values(item)
                    entries.append((loops.node_suffix(index, description), {**step_scope, **item_values}))
            else:
                entries = [("", step_scope)]
        except _RESOLVE_ERRORS as problem:
            children[name].append(settle(step, "", "Error", str(problem)))
            error = error or str(problem)
            continue
        for suffix, full in entries:
            try:
                when = variables.substitute(str(step["when"]), full) if step.get("when") else ""
                if when and not conditions.evaluate(when):
                    children[name].append(settle(step, suffix, "Skipped", f"when '{when}' evaluated false"))
                    continue
                args = arguments(step, full)
            except _RESOLVE_ERRORS as problem:
                children[name].append(settle(step, suffix, "Error", str(problem)))
                error = error or str(problem)
                continue
            children[name].append(None)
            start(step, suffix, args, len(children[name]) - 1, None if has_loop(step) else full)
            started += 1
    for _ in range(started):
        name, slot, child = events.get()
        children[name][slot] = child
    return children, error


def _failure(group: list[dict], children: dict[str, list], stop_reason: str) -> str:
    for step in group:
        for child in children[step["name"]]:
            if child is None:
                return stop_reason
            if child.phase in FAILED and not continues_on(step.get("continueOn"), child.phase):
                return f"child '{child.id}' failed"
    return ""
