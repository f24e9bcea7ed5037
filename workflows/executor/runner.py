"""Run a checked Workflow on this machine: templates, retries, parallelism and deadlines.

Every node that runs (a pod, a nested DAG or steps template) runs in its own thread; a DAG or
steps template waits for its children and decides its phase as Argo's controller does
(``dag.py``, ``steps.py`` here). Pods run in the run's runtime (``runtimes.py``): local processes
(``process.py``) by default, or containers (``container.py``).

- ``spec.parallelism`` bounds the pods running at once in the whole workflow; a DAG or steps
  template's ``parallelism`` bounds its own running children (pods and nested templates, not
  their descendants), as Argo counts them (``workflow/controller/node_counters.go``).
- a template's ``synchronization`` (mutexes): taken before its node starts, after its workflow's
  own, and released when the node ended, retries included (``synchronization.py``).
- ``spec.activeDeadlineSeconds``: when it passes, running pods are stopped (SIGTERM to their
  process group, SIGKILL after a grace period), nothing new starts, and the workflow fails with
  "Step exceeded its deadline". A container or script template's ``activeDeadlineSeconds`` stops
  that pod alone (it applies to pods only, as in Argo).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from contextlib import contextmanager, suppress
from pathlib import Path

from kaleidoscope.workflows.executor import dag, hooks, process, secrets, steps, synchronization, variables
from kaleidoscope.workflows.executor.calls import Call
from kaleidoscope.workflows.executor.model import (
    DISPLAY_NAME,
    STRFTIME_CHARS,
    Workflow,
    call_label,
    is_pod,
    kind_of,
    safe_name,
)
from kaleidoscope.workflows.executor.nodes import DONE, Node
from kaleidoscope.workflows.executor.parallel import Slots
from kaleidoscope.workflows.executor.process import NodeError, PodRequest
from kaleidoscope.workflows.executor.retry import Strategy, decide
from kaleidoscope.workflows.executor.runtimes import Processes, Runtime
from kaleidoscope.workflows.executor.scope import arguments, go_json
from kaleidoscope.workflows.executor.variables import to_text
from kaleidoscope.workflows.rules.durations import parse_argo
from kaleidoscope.workflows.rules.validate import SCHEDULED_TIME_ANNOTATION

#: The holder of a workflow-level lock in :attr:`Runner.held_locks` (a node's is its id).
WORKFLOW_HOLDER = ""
MAX_DEPTH = 100  # templates calling templates; Argo's controller stops at a similar depth
_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generateName alphabet
_TYPES = {"container": "Pod", "script": "Pod", "dag": "DAG", "steps": "Steps"}


def fnv32a(text: str) -> int:
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


class Runner:
    """One run of a workflow: :meth:`run_entrypoint` once, then read ``nodes``."""

    def __init__(
        self,
        workflow: Workflow,
        parameters: dict[str, str],
        *,
        secret_values,
        folder: Path,
        on_event=None,
        backoff_scale: float = 1.0,
        grace: float = 5.0,
        runtime: Runtime | None = None,
    ):
        self.wf = workflow
        self.runtime: Runtime = runtime or Processes()
        metadata = workflow.metadata
        self.name = metadata.get("name") or (
            (metadata.get("generateName") or "workflow-") + "".join(random.choices(_GENERATE_ALPHABET, k=5))
        )
        self.uid = str(uuid.uuid4())
        self.created = time.time()
        self.folder = folder
        self.secret_values = secret_values or {}
        self.on_event = on_event
        self.backoff_scale = backoff_scale
        self.grace = grace
        self.lock = threading.RLock()
        self.stop = threading.Event()
        self.stop_reason = ""
        self.stopped_by: int | None = None  # the signal that stopped the executor, if one did
        self.started_at = time.time()
        self.nodes: dict[str, Node] = {}
        self.order: dict[str, int] = {}  # node id -> when its parent decided to start it
        self._counter = itertools.count()
        self.progress_files: dict[str, Path | None] = {}
        self.global_outputs: dict[str, str] = {}
        self.event_error: BaseException | None = None
        limit = workflow.spec.get("parallelism")
        self.pod_slots = Slots(int(limit)) if limit else None
        self.globals = self._globals()
        # Parameter values may use the other workflow variables (not each other); a tag that
        # names nothing known is left as written.
        self.parameters = {
            name: variables.substitute(value, self.globals, keep=lambda tag: tag not in self.globals)
            for name, value in self._parameters(parameters).items()
        }
        listing = go_json([{"name": name, "value": value} for name, value in self.parameters.items()], sort_keys=False)
        self.globals["workflow.parameters"] = self.globals["workflow.parameters.json"] = listing
        self.globals.update({f"workflow.parameters.{name}": value for name, value in self.parameters.items()})
        self._result_refs: dict[int, set[str]] = {}
        #: The locks this run holds: lock name -> its holder, a node's id or WORKFLOW_HOLDER.
        self.held_locks: dict[str, str] = {}
        #: Called once when a node is about to wait for a template-level lock: (display name,
        #: lock name, what the lock's file says of its holder).
        self.on_lock_wait: Callable[[str, str, str], None] | None = None

    # --- values -------------------------------------------------------------------------------

    def _parameters(self, given: dict[str, str]) -> dict[str, str]:
        params = {param["name"]: to_text(param.get("value")) for param in self.wf.arguments}
        params.update({name: to_text(value) for name, value in given.items()})
        return params

    def _globals(self) -> dict[str, str]:
        metadata, spec = self.wf.metadata, self.wf.spec
        created = time.gmtime(self.created)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", created)
        values = {
            "workflow.name": self.name,
            "workflow.namespace": metadata.get("namespace") or "default",
            "workflow.uid": self.uid,
            "workflow.mainEntrypoint": spec["entrypoint"],
            "workflow.serviceAccountName": spec.get("serviceAccountName") or "",
            "workflow.creationTimestamp": stamp,
            "workflow.creationTimestamp.RFC3339": stamp,
            "workflow.creationTimestamp.s": str(int(self.created)),
            "workflow.labels.json": go_json(metadata.get("labels") or {}),
            "workflow.annotations.json": go_json(metadata.get("annotations") or {}),
        }
        for char in STRFTIME_CHARS:
            with suppress(ValueError):
                values[f"workflow.creationTimestamp.{char}"] = time.strftime("%" + char, created)
        if spec.get("priority") is not None:
            values["workflow.priority"] = str(spec["priority"])
        scheduled = (metadata.get("annotations") or {}).get(SCHEDULED_TIME_ANNOTATION)
        if scheduled is not None:
            values["workflow.scheduledTime"] = str(scheduled)
        values.update({f"workflow.labels.{k}": to_text(v) for k, v in (metadata.get("labels") or {}).items()})
        values.update({f"workflow.annotations.{k}": to_text(v) for k, v in (metadata.get("annotations") or {}).items()})
        return values

    def values(self) -> dict:
        """The workflow-wide variables now (global outputs grow as nodes finish)."""
        return {**self.globals, **self.output_values()}

    def output_values(self) -> dict:
        """``workflow.outputs.parameters.*``: what finished nodes exported with ``globalName``."""
        with self.lock:
            return {f"workflow.outputs.parameters.{k}": v for k, v in self.global_outputs.items()}

    def captures_result(self, parent_template: dict, name: str) -> bool:
        """Whether ``name``'s stdout is referenced as ``outputs.result`` in its parent template.

        Argo captures a result only then (``hasOutputResultRef`` in operator.go).
        """
        key = id(parent_template)  # templates of two WorkflowTemplates may share a name
        if key not in self._result_refs:
            prefix = "tasks" if "dag" in parent_template else "steps"
            text = json.dumps(parent_template)
            self._result_refs[key] = set(re.findall(rf"{prefix}\.([-\w]+)\.outputs\.result", text))
        return name in self._result_refs[key]

    # --- nodes --------------------------------------------------------------------------------

    def new_node(
        self,
        name: str,
        display: str,
        type_: str,
        template: str | None,
        parent: Node | None,
        phase: str = "Running",
        message: str = "",
        inputs: dict | None = None,
        order: int | None = None,
    ) -> Node:
        with self.lock:
            # The workflow's root has the workflow's name as its id, as in Argo; the exit
            # handler, the other node without a parent, is named like any other node.
            node_id = self.name if name == self.name else f"{self.name}-{fnv32a(name)}"
            node = Node(
                node_id,
                name,
                display,
                type_,
                template,
                phase,
                message,
                started_at=time.time(),
                parent=parent.id if parent else None,
                inputs=dict(inputs or {}),
            )
            if phase in DONE:
                node.finished_at = node.started_at
            self.nodes[node_id] = node
            self.order[node_id] = next(self._counter) if order is None else order
            if parent is not None:
                parent.children.append(node_id)
        self._event(node)
        return node

    def finish(self, node: Node, phase: str, message: str = "") -> Node:
        with self.lock:
            node.phase = phase
            node.message = message
            node.finished_at = time.time()
            self.progress_files.pop(node.id, None)
        self._event(node)
        return node

    def _event(self, node: Node) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(node)
        except Exception as error:  # a broken callback must not hang the run's threads
            with self.lock:
                self.event_error = self.event_error or error

    def halt(self, reason: str) -> None:
        """Stop the run: running pods are terminated, nothing new starts."""
        with self.lock:
            if not self.stop.is_set():
                self.stop_reason = reason
                self.stop.set()

    def next_order(self) -> int:
        """A place in the tree for a child about to start (threads may create nodes out of order)."""
        with self.lock:
            return next(self._counter)

    def sort_children(self) -> None:
        """Children in the order their parents started them (loops in item order)."""
        with self.lock:
            for node in self.nodes.values():
                node.children.sort(key=lambda child: self.order.get(child, 0))

    def spawn(self, target, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        return thread

    # --- templates ----------------------------------------------------------------------------

    def run_entrypoint(self) -> Node | None:
        """Run the entrypoint with the workflow's parameters; blocks until it ends."""
        self.started_at = time.time()
        template = self.wf.templates[self.wf.spec["entrypoint"]]
        return self.execute(self.name, self.name, template, dict(self.parameters), Call(None, None, 0))

    @property
    def exit_node_name(self) -> str:
        return f"{self.name}.onExit"  # Argo's common.GenerateOnExitNodeName

    @property
    def exit_node(self) -> Node | None:
        """The exit handler's node, once it started."""
        return self.nodes.get(f"{self.name}-{fnv32a(self.exit_node_name)}")

    def run_exit_handler(self) -> Node | None:
        """Run ``spec.onExit`` once the entrypoint's tree has ended, whatever its phase, as Argo's
        controller does (workflow/controller/operator.go, operate): with ``workflow.status``,
        ``workflow.failures`` and ``workflow.duration`` set. None when there is none, or when the
        run was stopped (a stopped executor starts nothing more, as ``argo terminate``)."""
        handler = hooks.exit_hook(self.wf.spec)
        root = self.nodes.get(self.name)
        if handler is None or self.stop.is_set():
            return None
        phase = root.phase if root is not None else "Error"
        status = {"Skipped": "Succeeded", "Omitted": "Succeeded"}.get(phase, phase)
        with self.lock:
            failed = [node for node in self.nodes.values() if node.phase in ("Failed", "Error")]
        failures = [
            {
                "displayName": node.display_name,
                "message": node.message,
                "templateName": node.template or "",
                "phase": node.phase,
                "podName": f"{self.name}-{node.template or ''}-{fnv32a(node.name)}",
                "finishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(node.finished_at or time.time())),
            }
            for node in sorted(failed, key=lambda node: node.started_at or 0.0)
        ]
        self.globals.update(
            {
                "workflow.status": status,
                # Go's JSON of a list with no failures is null; Argo quotes the JSON
                # (strconv.Quote) so that substitution keeps its inner quotes.
                "workflow.failures": json.dumps(go_json(failures or None, sort_keys=False), ensure_ascii=False),
                "workflow.duration": f"{time.time() - self.started_at:f}",
            }
        )
        name = self.exit_node_name
        try:
            args = arguments(handler, self.values())
        except (variables.Unresolved, variables.Absent, ValueError) as error:
            return self.new_node(name, name, "Skipped", handler["template"], None, "Error", str(error))
        return self.execute(name, name, self.wf.templates[handler["template"]], args, Call(None, None, 0))

    def call(self, name: str, display: str, step: dict, args: dict, call: Call, caller: dict) -> Node | None:
        """Run the template a task or step of ``caller`` names, with its argument values.

        A ``templateRef`` runs the referenced template here, in this workflow (its variables,
        volumes, default retryStrategy); the template's own calls resolve in its WorkflowTemplate.
        """
        template = self.wf.resolve(step, caller)
        assert template is not None, "checked at load"
        if step.get("templateRef") is not None:
            call.label = call_label(step)
        return self.execute(name, display, template, args, call)

    def execute(self, name: str, display: str, template: dict, args: dict, call: Call) -> Node | None:
        """Run a template as node ``name``; None when the run stopped before it could start."""
        node_type = _TYPES[kind_of(template)]
        label = call.label or template["name"]
        if call.depth > MAX_DEPTH:
            return self.new_node(
                name,
                display,
                node_type,
                label,
                call.parent,
                "Error",
                f"Maximum recursion depth exceeded ({MAX_DEPTH})",
                order=call.order,
            )
        try:
            inputs = self._inputs(template, args)
        except NodeError as error:
            return self.new_node(name, display, node_type, label, call.parent, "Error", str(error), order=call.order)
        values = self.values()
        values.update({f"inputs.parameters.{key}": value for key, value in inputs.items()})
        values["inputs.parameters"] = go_json([{"name": k, "value": v} for k, v in inputs.items()], sort_keys=False)
        values["node.name"] = name
        annotation = (template.get("annotations") or {}).get(DISPLAY_NAME)
        if annotation:
            with suppress(variables.Unresolved, variables.Absent, ValueError):
                display = variables.substitute(str(annotation), values)
        if template.get("synchronization"):
            return self._locked(name, display, template, values, inputs, call)
        return self._run(name, display, template, values, inputs, call)

    def _run(self, name: str, display: str, template: dict, values: dict, inputs: dict, call: Call) -> Node | None:
        strategy = self.wf.retry_strategy(template)
        if strategy is None:
            return self._attempt(name, display, template, values, inputs, call)
        return self._retry(name, display, template, values, inputs, call, Strategy.resolved(strategy, values))

    def _locked(self, name: str, display: str, template: dict, values: dict, inputs: dict, call: Call) -> Node | None:
        """Run a template holding its mutexes: taken before its node starts, given back when it
        ended (retries included), as Argo's ``executeTemplate`` does; None if the run stopped first.

        A lock that the workflow or an enclosing node already holds fails the node at once: Argo
        lets a holder in again only under its own key (the workflow's, or the node's), so it
        would wait for itself until the workflow's deadline.
        """

        def failed(message: str) -> Node:
            label = call.label or template["name"]
            node_type = _TYPES[kind_of(template)]
            return self.new_node(name, display, node_type, label, call.parent, "Error", message, inputs, call.order)

        try:
            names = synchronization.lock_names(template["synchronization"], values, self.globals["workflow.namespace"])
        except synchronization.LockNameError as error:
            return failed(str(error))
        enclosing = self._enclosing(call.parent)
        with self.lock:
            ours = {lock: self.held_locks[lock] for lock in names if self.held_locks.get(lock) in enclosing}
        if ours:
            lock, holder = next(iter(ours.items()))
            who = "the workflow itself" if holder == WORKFLOW_HOLDER else f"node {self.nodes[holder].display_name}"
            return failed(
                f"Waiting for {lock} lock, which {who} holds: Argo would wait here forever (a lock lets in "
                f"again only the workflow or node that took it); give the two mutexes different names"
            )
        locks = synchronization.Locks(names, f"{self.name}, node {display}")
        tell = self.on_lock_wait
        if not locks.acquire((lambda lock, holder: tell(display, lock, holder)) if tell else None, stop=self.stop):
            return None
        node_id = self.name if call.parent is None else f"{self.name}-{fnv32a(name)}"
        with self.lock:
            self.held_locks.update(dict.fromkeys(names, node_id))
        try:
            return self._run(name, display, template, values, inputs, call)
        finally:
            with self.lock:
                for lock in names:
                    self.held_locks.pop(lock, None)
            locks.release()

    def _enclosing(self, parent: Node | None) -> set[str]:
        """The holders a node would wait for forever: the workflow, its parent and their parents."""
        holders = {WORKFLOW_HOLDER}
        with self.lock:
            while parent is not None:
                holders.add(parent.id)
                parent = self.nodes.get(parent.parent) if parent.parent else None
        return holders

    def _inputs(self, template: dict, args: dict) -> dict[str, str]:
        inputs: dict[str, str] = {}
        for param in (template.get("inputs") or {}).get("parameters") or []:
            name = param["name"]
            given = args.get(name)
            if given is not None and given is not variables.ABSENT:
                value = to_text(given)
            elif param.get("value") is not None:
                value = to_text(param["value"])
            elif param.get("default") is not None:
                value = to_text(param["default"])
            elif given is variables.ABSENT:
                raise NodeError(
                    f"inputs.parameters.{name}: its argument refers to an output of a skipped or "
                    f"omitted node, which has no default, and the input has no default either"
                )
            else:
                raise NodeError(f"inputs.parameters.{name} was not supplied")
            from_template = given is None or given is variables.ABSENT  # arguments come substituted
            try:
                value = variables.substitute(value, self.values()) if from_template else value
            except (variables.Unresolved, variables.Absent, ValueError) as error:
                raise NodeError(f"inputs.parameters.{name}: {error}") from None
            enum = param.get("enum")
            if enum is not None and value not in [to_text(item) for item in enum]:
                raise NodeError(
                    f"inputs.parameters.{name}: value '{value}' is not one of "
                    f"{', '.join(to_text(item) for item in enum)}"
                )
            inputs[name] = value
        return inputs

    def _retry(self, name, display, template, values, inputs, call: Call, strategy: Strategy) -> Node:
        label = call.label or template["name"]
        node = self.new_node(name, display, "Retry", label, call.parent, inputs=inputs, order=call.order)
        inner = Call(node, call.boundary, call.depth, call.capture_result, call.ticket, label=call.label)
        first_started, attempt = None, 0
        while True:
            child = self._attempt(
                f"{name}({attempt})",
                f"{display}({attempt})",
                template,
                {**values, "retries": str(attempt)},
                inputs,
                inner,
            )
            if child is None:
                return self.finish(node, "Failed", self.stop_reason)
            first_started = first_started or child.started_at or time.time()  # new_node sets started_at
            attempt += 1
            if self.stop.is_set():
                verdict = None
            else:
                last = {
                    "lastRetry.exitCode": "-1" if child.exit_code is None else str(child.exit_code),
                    "lastRetry.duration": str(child.duration or 0.0),
                }
                try:
                    verdict = decide(
                        strategy,
                        attempt,
                        child.phase,
                        child.message,
                        first_started,
                        child.finished_at or time.time(),
                        time.time(),
                        self.backoff_scale,
                        last,
                    )
                except ValueError as error:
                    node.outputs, node.result, node.exit_code = dict(child.outputs), child.result, child.exit_code
                    return self.finish(node, "Error", f"retryStrategy.expression: {error}")
            if verdict is None or not verdict.retry:
                node.outputs, node.result, node.exit_code = dict(child.outputs), child.result, child.exit_code
                message = (
                    self.stop_reason
                    if verdict is None and child.phase != "Succeeded"
                    else (verdict.message if verdict and verdict.message else child.message)
                )
                return self.finish(node, child.phase, message)
            with self.lock:
                node.message = f"Backoff for {verdict.wait:.1f}s" if verdict.wait else ""
            if verdict.wait and self.stop.wait(verdict.wait):
                node.outputs, node.result, node.exit_code = dict(child.outputs), child.result, child.exit_code
                return self.finish(node, child.phase, self.stop_reason)

    @contextmanager
    def _slots(self, call: Call, pod: bool):
        """Wait for the boundary's slot, then (pods) the workflow's; yield whether both came."""
        boundary = call.boundary
        cancel = boundary.cancel if boundary else None
        taken = []
        ok = True
        if boundary is not None and boundary.slots is not None:
            ticket = call.ticket if call.ticket is not None else boundary.slots.enqueue()
            call.ticket = None  # a retry's next attempt queues anew
            ok = boundary.slots.wait(ticket, self.stop, cancel)
            if ok:
                taken.append(boundary.slots)
        # The template's slot first: a pod never waits for it while holding a workflow slot.
        if ok and pod and self.pod_slots is not None:
            ok = self.pod_slots.acquire(self.stop, cancel)
            if ok:
                taken.append(self.pod_slots)
        try:
            yield ok and not self.stop.is_set() and not (cancel is not None and cancel.is_set())
        finally:
            for slots in reversed(taken):
                slots.release()

    def _attempt(self, name, display, template, values, inputs, call: Call) -> Node | None:
        kind = kind_of(template)
        with self._slots(call, is_pod(template)) as ok:
            if not ok:
                return None
            label = call.label or template["name"]
            node = self.new_node(name, display, _TYPES[kind], label, call.parent, inputs=inputs, order=call.order)
            try:
                if is_pod(template):
                    self._pod(node, template, values, call)
                elif kind == "dag":
                    dag.run(self, node, template, values, call.depth + 1)
                else:
                    steps.run(self, node, template, values, call.depth + 1)
            except NodeError as error:  # the template cannot run with these values: Argo's Error
                self.finish(node, "Error", str(error))
            except Exception as error:  # a bug here must fail the node, not hang the run
                node.stderr_tail = traceback.format_exc().splitlines()[-8:]
                self.finish(node, "Error", f"internal error in the local executor: {error!r}")
        if node.fulfilled:
            for out in (template.get("outputs") or {}).get("parameters") or []:
                if out.get("globalName") and out["name"] in node.outputs:
                    with self.lock:
                        self.global_outputs[out["globalName"]] = node.outputs[out["name"]]
        return node

    def _pod(self, node: Node, template: dict, values: dict, call: Call) -> None:
        folder = self.folder / "nodes" / f"{safe_name(node.display_name)}-{fnv32a(node.name):08x}"
        node.folder = str(folder)
        pod_name = f"{self.name}-{template['name']}-{fnv32a(node.name)}"
        deadline = template.get("activeDeadlineSeconds")
        request = PodRequest(
            template,
            {**values, "pod.name": pod_name},
            folder,
            self.wf.volumes(template),
            self.secret,
            call.capture_result,
            parse_argo(deadline) if deadline is not None else None,
            name=pod_name,
            security_context=self.wf.spec.get("securityContext"),
        )
        try:
            pod = self.runtime.prepare(request)
        except NodeError as error:
            self.finish(node, "Error", str(error))
            return
        with self.lock:
            self.progress_files[node.id] = pod.progress_file
        outcome = self.runtime.run(pod, self.stop, self.grace, lambda: self.stop_reason)
        node.outputs, node.result, node.exit_code = outcome.parameters, outcome.result, outcome.exit_code
        node.stdout_tail, node.stderr_tail = outcome.stdout_tail, outcome.stderr_tail
        node.progress = process.read_progress(pod.progress_file)
        self.finish(node, outcome.phase, outcome.message)

    def secret(self, name: str, key: str, optional: bool) -> str | None:
        """A ``secretKeyRef`` value: the secrets mapping, then ``KALEIDOSCOPE_SECRET_<NAME>_<KEY>``."""
        value = secrets.lookup(self.secret_values, name, key)
        if value is None and not optional:
            raise NodeError(secrets.missing(name, key))
        return value

    # --- progress -----------------------------------------------------------------------------

    def progress(self) -> dict:
        """Pods done/running/total and the sum of their ``done/total`` progress files."""
        with self.lock:
            pods = [node for node in self.nodes.values() if node.type == "Pod"]
            files = dict(self.progress_files)
        done, total = 0, 0
        for node in pods:
            reading = process.read_progress(files[node.id]) if node.id in files else node.progress
            if reading:
                done, total = done + reading[0], total + reading[1]
        return {
            "pods": len(pods),
            "pods_done": sum(node.fulfilled for node in pods),
            "pods_running": sum(not node.fulfilled for node in pods),
            "items_done": done,
            "items_total": total,
        }
