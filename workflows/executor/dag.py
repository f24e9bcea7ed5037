"""DAG templates: a task starts once its dependencies allow it; the DAG's phase as Argo decides it.

Follows ``executeDAG`` / ``assessDAGPhase`` in Argo's ``workflow/controller/dag.go``:

- a task whose ``depends`` (or ``dependencies``) is false once its dependencies finished is
  Omitted; one whose ``when`` is false is Skipped; a task with a loop becomes a TaskGroup of items;
- the DAG runs its targets (``dag.target``, default: the tasks nothing depends on) and their
  ancestors. Its phase walks the graph from the roots: a task that ran passes its own phase to
  its dependents, a Skipped or Omitted task passes on the phase it inherited, a Failed or Errored
  phase wins over Succeeded. The DAG fails if a target's phase is Failed or Error, unless that
  target's ``continueOn`` allows it;
- fail fast (``dag.failFast``, default true): the phase is assessed after every change, after
  starting every task its dependencies allow. While any started task runs the DAG is Running
  (Argo's walk stops at the first unfinished node), so a failure does not stop tasks whose
  dependencies finish later; Argo v4.1.2's code behaves so too, although its docs say "no new
  tasks will be scheduled". A DAG fails fast only when nothing it started still runs and a
  target failed; then it starts nothing more.
"""

from __future__ import annotations

import queue
from collections import deque
from dataclasses import dataclass, field

from kaleidoscope.workflows.executor import conditions, hooks, loops, variables
from kaleidoscope.workflows.executor.calls import Call
from kaleidoscope.workflows.executor.model import Dag, call_label
from kaleidoscope.workflows.executor.nodes import FAILED, Node
from kaleidoscope.workflows.executor.parallel import Boundary
from kaleidoscope.workflows.executor.process import NodeError
from kaleidoscope.workflows.executor.scope import arguments, node_values, template_outputs
from kaleidoscope.workflows.rules import depends
from kaleidoscope.workflows.rules.loops import has_loop
from kaleidoscope.workflows.rules.variables import is_item

_COMPLETED = ("Succeeded", "Failed", "Error")
_RESOLVE_ERRORS = (variables.Unresolved, variables.Absent, ValueError)


@dataclass
class _Task:
    node: Node | None = None
    started: bool = False
    items: list[Node | None] | None = None  # a fan-out's item nodes, in item order
    descriptions: list[str] = field(default_factory=list)  # a fan-out's items, for node names
    pending: int = 0
    done: bool = False
    abandoned: bool = False  # the run stopped before it could start

    def item_nodes(self) -> list[Node | None]:
        """A fan-out's item nodes (the task is one)."""
        assert self.items is not None, "not a fan-out"
        return self.items

    def results(self) -> depends.TaskResults:
        """What this finished task offers to a depends expression."""
        assert self.node is not None, "not finished"
        return depends.TaskResults(self.node.phase, tuple(item.phase for item in self.items or () if item is not None))


def continues_on(continue_on: dict | None, phase: str) -> bool:
    continue_on = continue_on or {}
    return bool(
        continue_on.get("failed") if phase == "Failed" else continue_on.get("error") if phase == "Error" else False
    )


def run(runner, node: Node, template: dict, values: dict, depth: int) -> None:
    """Run a DAG template as ``node`` (already created) and finish it."""
    _DagRun(runner, node, template, values, depth).run()


class _DagRun:
    """One DAG node's run: the task states, changed only by the thread that runs the DAG."""

    def __init__(self, runner, node: Node, template: dict, values: dict, depth: int):
        self.runner, self.node, self.template, self.values, self.depth = runner, node, template, values, depth
        self.dag = Dag.of(template, values)
        unknown = [name for name in self.dag.targets if name not in self.dag.tasks]
        if unknown:
            raise NodeError(f"target: no task named '{unknown[0]}' in this dag")
        self.needed = self.dag.needed()
        self.fail_fast = template["dag"].get("failFast", True) is not False
        self.boundary = Boundary(node, template)
        self.states = {name: _Task() for name in self.dag.order}
        self.events: queue.Queue = queue.Queue()  # (task, item index or None, node or None)
        self.running = 0

    def run(self) -> None:
        runner, halted = self.runner, False
        while True:
            if not runner.stop.is_set() and not halted:
                self.schedule()
            phase = _assess(self.dag, self.states, self.fail_fast)
            if phase in FAILED and self.fail_fast and not halted:
                halted = True  # start nothing more
                self.boundary.cancel.set()
            if self.running == 0:
                break
            self.receive(*self.events.get())
        self.conclude(phase)

    def receive(self, name: str, index: int | None, child: Node | None) -> None:
        self.running -= 1
        state = self.states[name]
        if index is None:
            state.node, state.done, state.abandoned = child, child is not None, child is None
        else:
            state.item_nodes()[index] = child
            state.pending -= 1
            if state.pending == 0:
                self.finish_group(name)

    def conclude(self, phase: str) -> None:
        runner, node = self.runner, self.node
        if runner.stop.is_set() and phase not in FAILED:
            runner.finish(node, "Failed", runner.stop_reason)
            return
        if phase == "Running":  # tasks that never started: the run stopped, or fail-fast stopped them
            phase = "Failed"
        if phase in FAILED:
            failed = [
                name
                for name in self.dag.targets
                if (target := self.states[name].node) is not None and target.phase in FAILED
            ]
            runner.finish(node, phase, f"task '{failed[0]}' {phase.lower()}" if failed else runner.stop_reason)
            return
        try:
            node.outputs = template_outputs(self.template, self.scope(self.dag.order, ""))
        except ValueError as error:
            runner.finish(node, "Error", str(error))
            return
        runner.finish(node, "Succeeded")

    def scope(self, tasks, name: str) -> dict:
        """Variables for task ``name``: the template's, and ``tasks.*`` of ``tasks``."""
        scope = {**self.values, **self.runner.output_values(), "tasks.name": name}
        for other in tasks:
            state = self.states[other]
            if state.node is not None:
                called = self.runner.wf.resolve(self.dag.tasks[other], self.template)
                items = [item for item in state.items if item is not None] if state.items is not None else None
                scope.update(node_values("tasks", other, state.node, called, items))
        return scope

    def schedule(self) -> None:
        """Start (or settle) every needed task whose dependencies have all finished."""
        progressed = True
        while progressed:
            progressed = False
            for name in self.dag.order:
                state = self.states[name]
                if (
                    name in self.needed
                    and not state.started
                    and all(self.states[dep].done for dep in self.dag.deps[name])
                ):
                    progressed = True
                    self.start_task(name)

    def start_task(self, name: str) -> None:
        dag, task, state = self.dag, self.dag.tasks[name], self.states[name]
        state.started = True
        if dag.logic[name] is not None:
            results = {dep: self.states[dep].results() for dep in dag.deps[name]}
            if not depends.evaluate(dag.logic[name], results, dag.continue_on):
                self.settle(name, "Omitted", "omitted: depends condition not met")
                return
        scope = self.scope(dag.ancestors(name), name)
        try:
            when = variables.substitute(str(task["when"]), scope, keep=is_item) if task.get("when") else ""
            if not has_loop(task):
                if when and not conditions.evaluate(when):
                    self.settle(name, "Skipped", f"when '{when}' evaluated false")
                else:
                    self.start(name, "", task, arguments(task, scope), self.node, None, scope)
                return
            items = loops.items(variables.substitute_all(loops.loop_of(task), scope, keep=is_item))
        except _RESOLVE_ERRORS as error:
            self.settle(name, "Error", str(error))
            return
        self.fan_out(name, task, scope, when, items)

    def fan_out(self, name: str, task: dict, scope: dict, when: str, items: list | None) -> None:
        """A TaskGroup node with one child per item (Argo's expandTask)."""
        state = self.states[name]
        group = self.runner.new_node(f"{self.node.name}.{name}", name, "TaskGroup", call_label(task), self.node)
        state.node, state.items, state.descriptions = group, [None] * len(items or ()), []
        if not items:
            group.type = "Skipped"
            self.runner.finish(group, "Skipped", "Skipped, empty params")
            state.done = True
            return
        for index, item in enumerate(items):
            item_values, description = loops.item_values(item)
            state.descriptions.append(description)
            full = {**scope, **item_values}
            try:
                item_when = variables.substitute(when, full) if when else ""
                if item_when and not conditions.evaluate(item_when):
                    self.settle(name, "Skipped", f"when '{item_when}' evaluated false", group, index)
                    continue
                args = arguments(task, full)
            except _RESOLVE_ERRORS as error:
                self.settle(name, "Error", str(error), group, index)
                continue
            state.pending += 1
            self.start(name, loops.node_suffix(index, description), task, args, group, index)
        if state.pending == 0:
            self.finish_group(name)

    def start(
        self, name: str, suffix: str, task: dict, args: dict, parent: Node, index: int | None, scope: dict | None = None
    ) -> None:
        """Run a task (or one item) in its own thread, then its exit hook (given ``scope``, the
        variables its arguments were made from); its end comes back through ``events``."""
        self.running += 1
        runner, boundary = self.runner, self.boundary
        call = Call(
            parent,
            boundary,
            self.depth,
            runner.captures_result(self.template, name),
            boundary.enqueue(),
            runner.next_order(),
        )

        def body():
            child = None
            try:
                try:
                    child = runner.call(
                        f"{self.node.name}.{name}{suffix}", f"{name}{suffix}", task, args, call, self.template
                    )
                finally:
                    boundary.discard(call.ticket)  # before the hook, which needs a place of its own
                if scope is not None:
                    hooks.after(runner, task, child, self.template, "tasks", scope, boundary, self.depth)
            finally:
                self.events.put((name, index, child))

        runner.spawn(body)

    def settle(self, name: str, phase: str, message: str, parent: Node | None = None, index: int | None = None) -> None:
        """A task or item that will not run: a Skipped-type node with ``phase``."""
        state = self.states[name]
        suffix = "" if index is None else loops.node_suffix(index, state.descriptions[index])
        child = self.runner.new_node(
            f"{self.node.name}.{name}{suffix}",
            f"{name}{suffix}",
            "Skipped",
            call_label(self.dag.tasks[name]),
            parent or self.node,
            phase,
            message,
        )
        if index is None:
            state.node, state.done = child, True
        else:
            state.item_nodes()[index] = child

    def finish_group(self, name: str) -> None:
        """A fan-out ends Succeeded, or as its last Failed/Errored item (Argo's executeDAGTask)."""
        state = self.states[name]
        phase, items = "Succeeded", state.item_nodes()
        for item in items:
            if item is None:
                phase = "Failed"
            elif item.phase in FAILED:
                phase = item.phase
        assert state.node is not None  # the TaskGroup node
        self.runner.finish(state.node, phase, self.runner.stop_reason if None in items else "")
        state.done = True


def _assess(dag: Dag, states: dict, fail_fast: bool) -> str:
    """Argo's ``assessDAGPhase``: Running, Succeeded, Failed or Error."""
    created = {name for name, state in states.items() if state.started and not state.abandoned}
    dependents = {
        name: [other for other in dag.order if name in dag.deps[other] and other in created] for name in dag.order
    }
    pending = deque((name, "Succeeded") for name in dag.order if not dag.deps[name] and name in created)
    seen = set(pending)
    target_phases = dict.fromkeys(dag.targets, "")
    while pending:
        name, inherited = pending.popleft()
        state = states[name]
        if not state.done or state.node is None:
            return "Running"
        branch = state.node.phase if state.node.phase in _COMPLETED else inherited
        if name in target_phases and target_phases[name] not in FAILED:
            target_phases[name] = branch
        passed = [branch]
        if state.items:
            passed = [item.phase if item is not None and item.phase in _COMPLETED else branch for item in state.items]
        for dependent in dependents[name]:
            for phase in passed:
                if (dependent, phase) not in seen:
                    seen.add((dependent, phase))
                    pending.append((dependent, phase))
    result = "Succeeded"
    for name in dag.targets:
        phase = target_phases[name]
        if phase == "":
            result = "Running"
            if not fail_fast:
                break
        elif phase in FAILED:
            if continues_on(dag.continue_on[name], phase):
                continue
            result = phase
            if fail_fast:
                break
    return result
