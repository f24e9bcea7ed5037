"""Argo's rules for a whole manifest, checked once: :func:`validate`, which ``kaleidoscope lint``
and the local executor's load both call, so the two give the same verdict in the same words.

Argo's schema says which fields exist and their types; a manifest that passes it can still fail
on submission or half-way through a run. This follows Argo's own validation
(``workflow/validate/validate.go`` at v4.1.2) for the rules that matter to a DAG or steps
workflow:

- every template reference resolves (``entrypoint``, ``onExit``, hooks, each task and step);
- every ``{{...}}`` variable resolves where it is used: workflow parameters and metadata, the
  template's inputs, ``item`` only in a loop, ``tasks.X`` only for a task upstream of the one
  using it (and only outputs X's template declares), ``steps.X`` only from an earlier group; in
  a template's ``synchronization``, its inputs and the workflow's variables; in the
  workflow-level ``synchronization`` and ``workflowMetadata``, the workflow's own variables;
- DAG dependencies name tasks of the same DAG, with valid results, and form no cycle
  (:mod:`.structure`);
- an ``enum`` is non-empty and contains the parameter's value or default;
- a template's required inputs are given by every task and step that calls it;
- custom metrics (``metrics.prometheus``, of the workflow and of each template) have names and
  label keys Prometheus and Argo accept, a help text, one value (a real-time gauge only
  ``{{workflow.duration}}`` or ``{{duration}}``), the same help and kind wherever a name recurs,
  and every variable resolves in Argo's metric scope: the workflow's variables, the node's
  ``status``, ``duration``, ``exitCode``, ``retries`` and ``resourcesDuration.*``, and the
  template's own inputs and declared outputs (:mod:`.metrics`).

Like Argo, variables under another root than ``inputs``, ``outputs``, ``workflow``, ``tasks``,
``steps``, ``pod`` or ``item`` (a script's own ``{{...}}``), and ``{{=expression}}`` tags, are
not checked; ``templateRef`` targets live in other objects and are taken on trust unless the
caller can ``resolve`` them. Stricter than Argo: a WorkflowTemplate's
``{{workflow.parameters.X}}`` must name a parameter it declares, and ``tasks.X`` must name an
upstream task (one that is not may not have run yet). Argo does not validate the workflow-level
``synchronization`` and ``workflowMetadata`` at all: it substitutes them with the workflow's
variables before the run starts (``substituteGlobalVariables`` in
workflow/controller/operator.go) and leaves a tag it cannot resolve as written, so a misspelt
``{{workflow.parameters.X}}`` in a mutex name would make one lock of every run; this names it.

``strict=True`` is what a run needs before its first node starts (the local executor's load):
every tag resolves, whatever its root, expression tags are refused, the workflow's argument
values are checked too, and run-time variables resolve only where the run sets them
(``workflow.status``, ``failures`` and ``duration`` with an exit handler, ``workflow.scheduledTime``
in a CronWorkflow's run, ``retries`` in a pod that retries, a pod's ``outputs.parameters.X.path``).

Each problem names its place, e.g. ``spec.templates[2].dag.tasks[1].depends: ...``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from kaleidoscope.workflows.rules import metric_checks, structure
from kaleidoscope.workflows.rules.dag import ancestors
from kaleidoscope.workflows.rules.loops import has_loop, loop_fields
from kaleidoscope.workflows.rules.names import field_name_problem
from kaleidoscope.workflows.rules.scope import RUNTIME_PREFIXES, Scope, listing
from kaleidoscope.workflows.rules.variables import key_path, node_variables, strings, tags

KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")
POD_TYPES = ("container", "script", "resource", "containerSet", "data")
_TEMPLATE_TYPES = (
    "container",
    "containerSet",
    "steps",
    "script",
    "resource",
    "dag",
    "suspend",
    "data",
    "http",
    "plugin",
)
_WORKFLOW_VARIABLES = (
    "name",
    "namespace",
    "uid",
    "mainEntrypoint",
    "serviceAccountName",
    "status",
    "parameters",
    "parameters.json",
    "annotations",
    "annotations.json",
    "labels",
    "labels.json",
)
#: What Argo's CronWorkflow controller annotates each run with; ``{{workflow.scheduledTime}}`` reads it.
SCHEDULED_TIME_ANNOTATION = "workflows.argoproj.io/scheduled-time"
#: Set once the main tree has ended, for the exit handler.
EXIT_HANDLER_VARIABLES = ("workflow.status", "workflow.failures", "workflow.duration")
#: What a strict scope resolves only where the run sets it (see the module's docstring).
_RUN_SET = ("outputs.", "workflow.scheduledTime", "workflow.duration")

#: The template a task or step of a template runs, when the caller can find it (``templateRef``,
#: or a call inside a referenced object); None when it cannot.
Resolver = Callable[[dict, dict], "dict | None"]


def _names(items: Any) -> list[str]:
    return [item["name"] for item in items or [] if isinstance(item, dict) and item.get("name")]


def _required_inputs(template: dict) -> list[str]:
    return [
        parameter["name"]
        for parameter in ((template.get("inputs") or {}).get("parameters") or [])
        if isinstance(parameter, dict)
        and parameter.get("name")
        and not any(key in parameter for key in ("value", "default", "valueFrom"))
    ]


class _Validator:
    def __init__(
        self,
        document: dict,
        strict: bool = False,
        resolve: Resolver | None = None,
        library: Iterable[tuple[str, dict]] = (),
        unsubstituted: Iterable[str] = (),
    ):
        self.strict, self.resolve, self.library = strict, resolve, list(library)
        self.unscanned = {"metrics", *unsubstituted}
        self.foreign = {id(template) for _, template in self.library}
        self.problems: list[str] = []
        self.kind = document.get("kind")
        spec = document.get("spec") or {}
        if self.kind == "CronWorkflow":
            self.base, self.spec = "spec.workflowSpec", spec.get("workflowSpec")
            self.cron_metadata = spec.get("workflowMetadata") or {}
        else:
            self.base, self.spec, self.cron_metadata = "spec", document.get("spec"), {}
        self.metadata = document.get("metadata") or {}
        self.templates: dict[str, tuple[int, dict]] = {}
        self.metric_kinds: metric_checks.SeenKinds = {}

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    # -- the whole spec ---------------------------------------------------------------------

    def run(self) -> list[str]:
        if self.kind not in KINDS:
            self.add("kind", f"bad value {self.kind!r}: lint knows {', '.join(KINDS)}")
            return self.problems
        if not isinstance(self.spec, dict):
            self.add(self.base, "missing: the workflow spec")
            return self.problems
        spec, base = self.spec, self.base
        templates = spec.get("templates") or []
        for index, template in enumerate(templates):
            name = template.get("name") if isinstance(template, dict) else None
            if not name:
                self.add(f"{base}.templates[{index}].name", "every template needs a name")
            elif name in self.templates:
                first = self.templates[name][0]
                self.add(
                    f"{base}.templates[{index}].name", f"'{name}' is already the name of {base}.templates[{first}]"
                )
            else:
                self.templates[name] = (index, template)
        arguments = (spec.get("arguments") or {}).get("parameters") or []
        self.parameters(f"{base}.arguments.parameters", arguments, "value")
        if "workflowTemplateRef" not in spec:  # else the templates live in another object
            self.entrypoint(spec, arguments)
        for hook, body in (spec.get("hooks") or {}).items():
            if isinstance(body, dict) and body.get("template"):
                self.reference(key_path(f"{base}.hooks", hook) + ".template", body["template"])
        scope = self.global_scope(spec, arguments, templates)
        # Substituted before any node ran: no workflow output exists yet.
        before_run = replace(
            scope,
            names={name for name in scope.names if not name.startswith("workflow.outputs.")},
            prefixes=tuple(prefix for prefix in scope.prefixes if not prefix.startswith("workflow.outputs.")),
        )
        for field in ("synchronization", "workflowMetadata"):
            self.variables(spec.get(field), f"{base}.{field}", before_run)
        # Emitted with the scope of the run's root node: the entrypoint's outputs, no other.
        entry = self.templates.get(str(spec.get("entrypoint")), (0, {}))[1]
        entry_outputs = {
            f"outputs.parameters.{name}" for name in _names((entry.get("outputs") or {}).get("parameters"))
        }
        # Emitted when the workflow has ended: its status and duration are known.
        ended = scope.extended({"workflow.status", "workflow.duration"})
        self.metrics(spec.get("metrics"), f"{base}.metrics", _without_runtime_outputs(ended, entry_outputs), "workflow")
        if self.strict:
            for index, parameter in enumerate(arguments):
                if isinstance(parameter, dict):
                    self.variables(parameter.get("value"), f"{base}.arguments.parameters[{index}].value", before_run)
        for index, template in enumerate(templates):
            if isinstance(template, dict):
                self.template(f"{base}.templates[{index}]", template, scope)
        # Templates this workflow reaches in other objects run in it, with its variables.
        for place, template in self.library:
            self.template(place, template, replace(scope, referenced=True))
        return self.problems

    def entrypoint(self, spec: dict, arguments: list) -> None:
        base, entrypoint = self.base, spec.get("entrypoint")
        if entrypoint:
            template = self.reference(f"{base}.entrypoint", entrypoint)
            if template is not None and self.kind in ("Workflow", "CronWorkflow"):
                given = set(_names(arguments))
                for name in _required_inputs(template):
                    if name not in given:
                        self.add(
                            f"{base}.entrypoint",
                            f"template '{entrypoint}' needs the input parameter '{name}': "
                            f"add it to {base}.arguments.parameters",
                        )
        elif self.kind in ("Workflow", "CronWorkflow"):
            self.add(f"{base}.entrypoint", "required: the template a run starts with")
        if spec.get("onExit"):
            self.reference(f"{base}.onExit", spec["onExit"])

    def global_scope(self, spec: dict, arguments: list, templates: list) -> Scope:
        names = {f"workflow.{name}" for name in _WORKFLOW_VARIABLES}
        declared = _names(arguments)
        names |= {f"workflow.parameters.{name}" for name in declared}
        workflow_metadata = spec.get("workflowMetadata") or {}
        for source in (self.metadata, workflow_metadata, self.cron_metadata):
            names |= {f"workflow.annotations.{key}" for key in (source.get("annotations") or {})}
            names |= {f"workflow.labels.{key}" for key in (source.get("labels") or {})}
        names |= {f"workflow.labels.{key}" for key in (workflow_metadata.get("labelsFrom") or {})}
        if spec.get("priority") is not None:
            names.add("workflow.priority")
        if spec.get("onExit") or (spec.get("hooks") or {}).get("exit"):
            names.update(EXIT_HANDLER_VARIABLES)
        elif self.strict:
            names -= set(EXIT_HANDLER_VARIABLES)
        if self.strict and SCHEDULED_TIME_ANNOTATION in (self.metadata.get("annotations") or {}):
            names.add("workflow.scheduledTime")
        lifted: set[str] = set()
        for template in templates:
            outputs = (template.get("outputs") or {}) if isinstance(template, dict) else {}
            for kind in ("parameters", "artifacts"):
                for output in outputs.get(kind) or []:
                    global_name = output.get("globalName") if isinstance(output, dict) else None
                    if global_name:  # one named at run time lets any name under it exist
                        lifted.add(f"workflow.outputs.{kind}." + ("*" if "{{" in global_name else global_name))
        prefixes: tuple[str, ...] = RUNTIME_PREFIXES
        if self.strict:
            prefixes = tuple(prefix for prefix in prefixes if prefix not in _RUN_SET)
        return Scope(names=names, parameters=declared, prefixes=prefixes, strict=self.strict).extended(lifted)

    # -- parts ----------------------------------------------------------------------------

    def reference(self, where: str, name: Any) -> dict | None:
        if name in self.templates:
            return self.templates[name][1]
        self.add(where, f"template '{name}' is not defined (templates: {listing(self.templates)})")
        return None

    def parameters(self, where: str, parameters: list, value_key: str) -> None:
        seen: set[Any] = set()
        for index, parameter in enumerate(parameters):
            if not isinstance(parameter, dict):
                continue
            name = parameter.get("name")
            if name in seen:
                self.add(f"{where}[{index}].name", f"'{name}' is declared twice")
            seen.add(name)
            enum = parameter.get("enum")
            if enum is None:
                continue
            if not enum:
                self.add(f"{where}[{index}].enum", "an enum needs at least one value")
            elif value_key in parameter and str(parameter[value_key]) not in [str(item) for item in enum]:
                allowed = ", ".join(map(repr, enum))
                value = parameter[value_key]
                self.add(f"{where}[{index}].{value_key}", f"{value!r} is not one of its enum values ({allowed})")

    def variables(self, node: Any, where: str, scope: Scope) -> None:
        for path, text in strings(node, where):
            for tag in tags(text):
                if tag is None:
                    self.add(path, "'{{' is never closed by '}}'")
                    continue
                why = scope.unresolved(tag)
                if why:
                    self.add(path, f"{{{{{tag}}}}} does not resolve: {why}")

    def metrics(self, metrics: Any, where: str, scope: Scope, level: str) -> None:
        self.problems += metric_checks.check(metrics, where, scope, level, self.metric_kinds)

    def template(self, where: str, template: dict, global_scope: Scope) -> None:
        types = [name for name in _TEMPLATE_TYPES if template.get(name) is not None]
        if len(types) != 1:
            found = ", ".join(types) or "none"
            self.add(where, f"a template has exactly one of {', '.join(_TEMPLATE_TYPES)} (found: {found})")
        inputs = template.get("inputs") or {}
        self.parameters(f"{where}.inputs.parameters", inputs.get("parameters") or [], "default")
        input_names = _names(inputs.get("parameters"))
        names = {f"inputs.parameters.{name}" for name in input_names}
        if input_names:
            names.add("inputs.parameters")
        leaf = not ({"dag", "steps"} & set(types))
        for artifact in _names(inputs.get("artifacts")):
            names.add(f"inputs.artifacts.{artifact}")
            if leaf:
                names.add(f"inputs.artifacts.{artifact}.path")
        if set(types) & set(POD_TYPES):
            names.add("pod.name")
            if self.strict:
                names |= self.pod_run_variables(template)
        names.add("node.name")
        scope = global_scope.extended(names, inputs=input_names)
        if "dag" in types or "steps" in types:
            if "dag" in types:
                self.dag(where, template, scope)
            else:
                self.steps(where, template, scope)
            # Taken before the template's node starts: its inputs and the workflow's variables.
            self.variables(template.get("synchronization"), f"{where}.synchronization", scope)
        else:
            self.variables({key: value for key, value in template.items() if key not in self.unscanned}, where, scope)
        outputs = template.get("outputs") or {}
        own = {f"outputs.parameters.{name}" for name in _names(outputs.get("parameters"))}
        if set(types) & {"container", "script", "containerSet"}:
            own.add("outputs.result")
        self.metrics(template.get("metrics"), f"{where}.metrics", _without_runtime_outputs(scope, own), "template")

    def pod_run_variables(self, template: dict) -> set[str]:
        """What a run sets in a pod of ``template`` besides its inputs: ``retries`` when it
        retries (its own strategy or the workflow's), its output parameters' paths."""
        names = {
            f"outputs.parameters.{name}.path" for name in _names((template.get("outputs") or {}).get("parameters"))
        }
        spec = self.spec if isinstance(self.spec, dict) else {}
        strategy = template["retryStrategy"] if "retryStrategy" in template else spec.get("retryStrategy")
        if strategy is not None:
            names.add("retries")
        return names

    def callee(self, where: str, call: dict, caller: dict) -> dict | None:
        """The template a task or step of ``caller`` runs; None when it is unknown here
        (``templateRef`` or ``inline``, unless the caller can resolve them)."""
        given = [key for key in ("template", "templateRef", "inline") if call.get(key)]
        if len(given) != 1:
            self.add(where, f"give exactly one of template, templateRef, inline (found: {', '.join(given) or 'none'})")
            return None
        if given[0] == "inline":
            return None
        if given[0] == "template" and id(caller) not in self.foreign:
            return self.reference(f"{where}.template", call["template"])
        # Found in, or missing from, another object: the caller who read it says which.
        return self.resolve(call, caller) if self.resolve is not None else None

    def call(self, where: str, call: dict, template: dict | None) -> Scope | None:
        """Checks of one task or step against the template it runs; its loop, for the scope."""
        given_loops = loop_fields(call)
        if len(given_loops) > 1:
            self.add(
                where, f"only one of withItems, withParam, withSequence can be given (found: {', '.join(given_loops)})"
            )
        arguments = (call.get("arguments") or {}).get("parameters") or []
        self.parameters(f"{where}.arguments.parameters", arguments, "value")
        if template is not None:
            self.arguments(where, arguments, template)
        if not given_loops:
            return None
        if given_loops[0] == "withItems" and isinstance(call["withItems"], list):
            keys = {key for item in call["withItems"] if isinstance(item, dict) for key in item}
            return Scope(loop="items", item_keys=keys)
        return Scope(loop="param" if given_loops[0] == "withParam" else "items")

    def arguments(self, where: str, arguments: list, template: dict) -> None:
        """Required inputs given; literal values within the input's enum."""
        name = template.get("name")
        given = {
            argument.get("name"): (index, argument)
            for index, argument in enumerate(arguments)
            if isinstance(argument, dict)
        }
        for required in _required_inputs(template):
            if required not in given:
                self.add(f"{where}.arguments", f"template '{name}' needs the input parameter '{required}'")
        for parameter in (template.get("inputs") or {}).get("parameters") or []:
            enum = parameter.get("enum")
            if not enum or parameter.get("name") not in given:
                continue
            index, argument = given[parameter["name"]]
            value = argument.get("value")
            if isinstance(value, str) and "{{" not in value and value not in enum:
                self.add(
                    f"{where}.arguments.parameters[{index}].value",
                    f"{value!r} is not one of template '{name}' enum values ({', '.join(map(repr, enum))})",
                )

    @staticmethod
    def offered(root: str, name: str, template: dict | None, looped: bool) -> set[str]:
        """The variables a finished task or step offers; anything below it when its template is
        elsewhere (templateRef, inline), whose outputs are unknown here."""
        names = node_variables(root, name, template, looped)
        return names if template is not None else names | {f"{root}.{name}.*"}

    def hooks(self, where: str, call: dict, scope: Scope, caller: dict) -> None:
        """A task's or step's lifecycle hooks and its older ``onExit``: each names a template, and
        runs once the task or step has ended, so its own outputs and status are in its scope
        (``runOnExitNode`` in workflow/controller/exit_handler.go). A template of another object
        names templates of its own, which the caller who read it has found."""
        local = id(caller) not in self.foreign
        if call.get("onExit") and local:
            self.reference(f"{where}.onExit", call["onExit"])
        hooks = call.get("hooks")
        for name, hook in (hooks or {}).items() if isinstance(hooks, dict) else ():
            at = key_path(f"{where}.hooks", name)
            if isinstance(hook, dict) and hook.get("template") and local:
                self.reference(f"{at}.template", hook["template"])
            self.variables(hook, at, scope)

    def field_name(self, where: str, name: Any) -> None:
        """A task's or step's name, when it has one, as Argo's validation accepts it."""
        why = field_name_problem(name) if name else None
        if why:
            self.add(where, f"bad value {name!r}: {why}")

    # -- DAG and steps --------------------------------------------------------------------

    def dag(self, where: str, template: dict, scope: Scope) -> None:
        tasks = [task for task in (template["dag"].get("tasks") or []) if isinstance(task, dict)]
        # The DAG's structure: the same rules, in the same words, as the local executor's load.
        shape = structure.dag(template["dag"], f"{where}.dag")
        self.problems += shape.problems
        if not tasks:
            return
        for index, task in enumerate(tasks):
            self.field_name(f"{where}.dag.tasks[{index}].name", task.get("name"))
        names, upstream = shape.names, shape.upstream
        callees = {
            task.get("name"): self.callee(f"{where}.dag.tasks[{index}]", task, template)
            for index, task in enumerate(tasks)
        }
        looped = {task.get("name"): has_loop(task) for task in tasks}
        for index, task in enumerate(tasks):
            task_where = f"{where}.dag.tasks[{index}]"
            loop = self.call(task_where, task, callees.get(task.get("name")))
            task_name: Any = task.get("name")  # None for a nameless task (reported above)
            before = ancestors(task_name, upstream)
            offered = set().union(*(self.offered("tasks", name, callees.get(name), looped[name]) for name in before))
            nodes = {
                name: "" if name in before else f"task '{name}' is not upstream of this task: add it to depends"
                for name in names
            }
            task_scope = scope.extended(offered, loop, nodes=nodes, node_kind="tasks")
            self.variables({key: value for key, value in task.items() if key != "hooks"}, task_where, task_scope)
            own = self.offered("tasks", task_name, callees.get(task_name), looped[task_name]) if task_name else set()
            self.hooks(task_where, task, task_scope.extended(own, nodes={**nodes, task_name: ""}), template)
        everything = set().union(*(self.offered("tasks", name, callees.get(name), looped[name]) for name in names))
        outputs_scope = scope.extended(everything, nodes=dict.fromkeys(names, ""), node_kind="tasks")
        self.variables(template.get("outputs"), f"{where}.outputs", outputs_scope)

    def steps(self, where: str, template: dict, scope: Scope) -> None:
        earlier: dict[str, tuple[dict | None, bool]] = {}
        # The groups' structure: the same rules, in the same words, as the local executor's load.
        self.problems += structure.steps(template["steps"], f"{where}.steps")
        for group_index, group in enumerate(template["steps"] if isinstance(template["steps"], list) else []):
            if not isinstance(group, list):
                continue
            this_group: dict[str, tuple[dict | None, bool]] = {}
            for step_index, step in enumerate(group):
                step_where = f"{where}.steps[{group_index}][{step_index}]"
                if not isinstance(step, dict):
                    continue
                name = step.get("name")
                self.field_name(f"{step_where}.name", name)
                called = self.callee(step_where, step, template)
                loop = self.call(step_where, step, called)
                offered = {f"steps.{name}.status"}  # Argo lets a step (its hooks) see its own status
                for other, (other_template, other_looped) in earlier.items():
                    offered |= self.offered("steps", other, other_template, other_looped)
                nodes = dict.fromkeys(earlier, "")
                nodes.update(
                    {other: f"step '{other}' runs in the same group, at the same time" for other in this_group}
                )
                step_scope = scope.extended(offered, loop, nodes=nodes, node_kind="steps")
                self.variables({key: value for key, value in step.items() if key != "hooks"}, step_where, step_scope)
                own = self.offered("steps", name, called, loop is not None) if name else set()
                self.hooks(step_where, step, step_scope.extended(own, nodes={**nodes, name: ""}), template)
                if name:
                    this_group[name] = (called, loop is not None)
            earlier.update(this_group)


def _without_runtime_outputs(scope: Scope, outputs: set[str]) -> Scope:
    """``scope`` where ``outputs.*`` names only the emitting node's declared outputs: a metric's
    ``{{outputs.parameters.X}}`` is its own node's, so a misspelt X is an error, not a run-time value."""
    return replace(scope, prefixes=tuple(prefix for prefix in scope.prefixes if prefix != "outputs.")).extended(outputs)


def validate(
    document: Any,
    *,
    strict: bool = False,
    resolve: Resolver | None = None,
    library: Iterable[tuple[str, dict]] = (),
    unsubstituted: Iterable[str] = (),
) -> list[str]:
    """Every problem of one manifest (Workflow, WorkflowTemplate, ClusterWorkflowTemplate or
    CronWorkflow), each as ``<path>: <what is wrong>``; an empty list when it is clean.

    Args:
        document: The manifest, as parsed from YAML or JSON.
        strict: Also refuse what only a run finds (see the module's docstring).
        resolve: Finds the template a ``templateRef`` (or a call inside a referenced object)
            names; without it those are taken on trust.
        library: Templates of other objects the workflow reaches, each with its place for
            problems: checked as the workflow's own, with the workflow's variables.
        unsubstituted: Template fields the caller never substitutes (a strict check leaves their
            tags alone; ``metrics`` are always checked in their own scope).
    """
    if not isinstance(document, dict):
        return ["<document>: not a mapping: an Argo manifest is a YAML/JSON object"]
    return _Validator(document, strict, resolve, library, unsubstituted).run()
