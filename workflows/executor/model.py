"""A read-only view of a checked Workflow manifest: templates by name, their kinds and scopes.

A task or step names its template (``template``) in the object its own template belongs to, or
in a WorkflowTemplate or ClusterWorkflowTemplate (``templateRef``): then that object is where the
referenced template's own calls resolve, as Argo's template resolution context switches to it
(``WithTemplateHolder`` in ``workflow/templateresolution/context.go``). Whatever template runs,
it runs in this workflow: with its variables, volumes and default retryStrategy.
"""

from __future__ import annotations

import string
from collections import deque
from dataclasses import dataclass, field

from kaleidoscope.workflows.executor import variables
from kaleidoscope.workflows.executor.registry import KINDS as HOLDER_KINDS
from kaleidoscope.workflows.executor.registry import Holder, Registry
from kaleidoscope.workflows.rules import dag, depends
from kaleidoscope.workflows.rules.validate import SCHEDULED_TIME_ANNOTATION

POD_KINDS = ("container", "script")
KINDS = ("container", "script", "dag", "steps")
#: strftime characters available as ``{{workflow.creationTimestamp.<char>}}``.
STRFTIME_CHARS = "aAbBcCdDeFgGhHIjklmMnpRrsStTuUVwWxXyYzZ"
DISPLAY_NAME = "workflows.argoproj.io/display-name"


def kind_of(template: dict) -> str:
    """``container``, ``script``, ``dag`` or ``steps`` (the template is already checked)."""
    return next(kind for kind in KINDS if kind in template)


def is_pod(template: dict) -> bool:
    return kind_of(template) in POD_KINDS


#: The scope of the workflow's own templates (else a holder's key, ``WorkflowTemplate/<name>``).
LOCAL = ""


def call_label(call: dict) -> str:
    """The template a task or step runs as ``argo get`` shows it: its name, or ``<object>/<template>``."""
    ref = call.get("templateRef")
    if isinstance(ref, dict):
        return f"{ref.get('name')}/{ref.get('template')}"
    return str(call.get("template"))


def calls(template: dict, path: str):
    """Every task or step of a template (any shape), with its path: ``(call, path)``."""
    if not isinstance(template, dict):
        return
    body = template.get("dag")
    if isinstance(body, dict) and isinstance(body.get("tasks"), list):
        for index, task in enumerate(body["tasks"]):
            if isinstance(task, dict):
                yield task, f"{path}.dag.tasks[{index}]"
    groups = template.get("steps")
    if isinstance(groups, list):
        for group_index, group in enumerate(groups):
            for index, step in enumerate(group if isinstance(group, list) else []):
                if isinstance(step, dict):
                    yield step, f"{path}.steps[{group_index}][{index}]"


def ref_fields(ref: dict) -> tuple[str, str, bool] | None:
    """A templateRef's (name, template, clusterScope), or None when it is not well-formed or
    names its object or template with variables (its checks say so)."""
    name, template, cluster = ref.get("name"), ref.get("template"), ref.get("clusterScope", False)
    if not isinstance(name, str) or not isinstance(template, str) or not isinstance(cluster, bool):
        return None
    if not name or not template or "{{" in name + template:
        return None
    return name, template, cluster


@dataclass
class Dag:
    """A DAG template's tasks with their parsed dependencies."""

    tasks: dict[str, dict]
    order: list[str]
    logic: dict[str, object]  # task -> depends tree (None: no dependencies)
    deps: dict[str, list[str]]
    continue_on: dict[str, dict | None]
    targets: list[str]

    @classmethod
    def of(cls, template: dict, values: dict | None = None) -> Dag:
        """The template's DAG; ``values`` resolve the variables of ``target`` (Argo resolves them
        when the DAG runs, so ``target: "{{workflow.parameters.target}}"`` takes ``-p target=E``).

        Raises ValueError for a bad depends expression (checked at load)."""
        tasks = {task["name"]: task for task in template["dag"]["tasks"]}
        logic = {}
        for name, task in tasks.items():
            if task.get("depends"):
                logic[name] = depends.parse(str(task["depends"]))
            else:
                logic[name] = depends.from_dependencies(list(task.get("dependencies") or []))
        deps = {name: depends.tasks(tree) for name, tree in logic.items()}
        target = template["dag"].get("target")
        if target and values is not None:
            target = variables.substitute(str(target), values)
        targets = str(target).split() if target else dag.leaves(deps)
        return cls(
            tasks, list(tasks), logic, deps, {name: task.get("continueOn") for name, task in tasks.items()}, targets
        )

    def ancestors(self, name: str) -> list[str]:
        """Every task ``name`` depends on, directly or not."""
        return dag.ancestors(name, self.deps)

    def needed(self) -> set[str]:
        """The targets and their ancestors: the tasks a run creates."""
        names = set(self.targets)
        for target in self.targets:
            names.update(self.ancestors(target))
        return names


@dataclass
class Workflow:
    """A checked Workflow manifest (kind ``Workflow``), with lookups the runner needs.

    ``templates`` are the workflow's own; ``reached`` the templates of the ``registry``'s objects
    that its tasks and steps reach by ``templateRef`` (directly or through other referenced
    templates), in the order found; ``missing`` a problem for each reference not found.
    """

    manifest: dict
    registry: Registry | None = None
    templates: dict[str, dict] = field(init=False)
    paths: dict[str, str] = field(init=False)
    reached: list[tuple[Holder, dict]] = field(init=False)
    missing: list[str] = field(init=False)

    def __post_init__(self):
        self.templates = {}
        self.paths = {}
        for index, template in enumerate(self.spec.get("templates") or []):
            if isinstance(template, dict) and isinstance(template.get("name"), str):
                self.templates.setdefault(template["name"], template)
                self.paths.setdefault(template["name"], f"spec.templates[{index}]")
        self._scopes: dict[int, Holder | None] = {id(template): None for template in self.templates.values()}
        self.reached, self.missing = [], []
        self._reach()

    def _reach(self) -> None:
        """Follow every templateRef (and, in a referenced object, every call by name) once."""
        pending = deque((template, self.paths[name]) for name, template in self.templates.items())
        while pending:
            caller, caller_path = pending.popleft()
            for call, path in calls(caller, caller_path):
                found = self._follow(call, path, self._scopes[id(caller)])
                if found is not None and id(found[1]) not in self._scopes:
                    holder, target = found
                    self._scopes[id(target)] = holder
                    self.reached.append((holder, target))
                    pending.append((target, f"{holder.label}: {holder.paths[target['name']]}"))

    def _follow(self, call: dict, path: str, scope: Holder | None) -> tuple[Holder, dict] | None:
        """The referenced object and template a call of a template in ``scope`` runs, if any."""
        ref = call.get("templateRef")
        if not isinstance(ref, dict):
            name = call.get("template")
            target = scope.templates.get(name) if scope is not None and isinstance(name, str) else None
            return (scope, target) if scope is not None and target is not None else None  # else _call says so
        fields = ref_fields(ref)
        if fields is None:
            return None  # its checks say why
        name, template_name, cluster = fields
        namespace = self.metadata.get("namespace")
        holder = self.registry.find(name, cluster, namespace) if self.registry else None
        if holder is None:
            self.missing.append(f"{path}.templateRef: {self._not_found(name, cluster, namespace)}")
            return None
        target = holder.templates.get(template_name)
        if target is None:
            self.missing.append(
                f"{path}.templateRef.template: no template named '{template_name}' in "
                f"{holder.kind} {holder.name} ({holder.origin})"
            )
            return None
        return holder, target

    def _not_found(self, name: str, cluster: bool, namespace: str | None) -> str:
        kind = HOLDER_KINDS[1] if cluster else HOLDER_KINDS[0]
        other = self.registry.find(name, cluster, None) if self.registry else None
        if other is not None:
            return (
                f"{kind} '{name}' not found in the workflow's namespace '{namespace}' "
                f"(the one given, {other.origin}, is in namespace '{other.namespace}')"
            )
        return (
            f"{kind} '{name}' not found: give its manifest to the run "
            f"(run-workflow --templates FILE, or execute(..., templates=[...]))"
        )

    def holder_of(self, template: dict) -> Holder | None:
        """The WorkflowTemplate or ClusterWorkflowTemplate a template belongs to; None: the workflow's."""
        return self._scopes.get(id(template))

    def resolve(self, call: dict, caller: dict) -> dict | None:
        """The template a task or step of ``caller`` runs; None when there is none."""
        ref = call.get("templateRef")
        if isinstance(ref, dict):
            fields = ref_fields(ref)
            if fields is None or self.registry is None:
                return None
            holder = self.registry.find(fields[0], fields[2], self.metadata.get("namespace"))
            return holder.templates.get(fields[1]) if holder is not None else None
        name = call.get("template")
        if not isinstance(name, str):
            return None
        holder = self.holder_of(caller)
        return (self.templates if holder is None else holder.templates).get(name)

    def place(self, template: dict) -> str:
        """Where a template is, for problems: ``spec.templates[1]``, or in its WorkflowTemplate's file."""
        holder = self.holder_of(template)
        if holder is None:
            return self.paths[template["name"]]
        return f"{holder.label}: {holder.paths[template['name']]}"

    def checked(self) -> list[tuple[dict, str]]:
        """Every template a run may reach, with its place: the workflow's own, then the referenced."""
        own = [(template, self.paths[name]) for name, template in self.templates.items()]
        return own + [(template, self.place(template)) for _, template in self.reached]

    @property
    def spec(self) -> dict:
        return self.manifest["spec"]

    @property
    def metadata(self) -> dict:
        return self.manifest.get("metadata") or {}

    @property
    def arguments(self) -> list[dict]:
        return list((self.spec.get("arguments") or {}).get("parameters") or [])

    def volumes(self, template: dict) -> dict[str, dict]:
        """Volumes a template's container can mount: the workflow's, then the template's own."""
        volumes = {volume["name"]: volume for volume in self.spec.get("volumes") or [] if "name" in volume}
        volumes.update({volume["name"]: volume for volume in template.get("volumes") or [] if "name" in volume})
        return volumes

    def retry_strategy(self, template: dict) -> dict | None:
        """The template's retryStrategy, or the workflow's default for every template.

        An empty one (``retryStrategy: {}``) is a strategy: no ``limit``, so Argo retries until
        the node succeeds (its examples/retry-container-to-completion.yaml).
        """
        own = template.get("retryStrategy")
        return own if own is not None else self.spec.get("retryStrategy")

    def global_outputs(self) -> set[str]:
        """Names exported with ``globalName`` anywhere."""
        return {
            output["globalName"]
            for template, _ in self.checked()
            for output in (template.get("outputs") or {}).get("parameters") or []
            if output.get("globalName")
        }

    def global_names(self, parameters: set[str]) -> set[str]:
        """Every ``workflow.*`` variable a template may use."""
        metadata = self.metadata
        names = {
            "workflow.name",
            "workflow.namespace",
            "workflow.uid",
            "workflow.mainEntrypoint",
            "workflow.serviceAccountName",
            "workflow.parameters",
            "workflow.parameters.json",
            "workflow.creationTimestamp",
            "workflow.creationTimestamp.RFC3339",
            "workflow.creationTimestamp.s",
            "workflow.labels.json",
            "workflow.annotations.json",
        }
        if self.spec.get("priority") is not None:
            names.add("workflow.priority")
        if SCHEDULED_TIME_ANNOTATION in (metadata.get("annotations") or {}):
            names.add("workflow.scheduledTime")
        if self.spec.get("onExit") or (self.spec.get("hooks") or {}).get("exit"):
            # Set once the main tree has ended, for the exit handler (Runner.run_exit_handler).
            names.update(("workflow.status", "workflow.failures", "workflow.duration"))
        names.update(f"workflow.creationTimestamp.{char}" for char in STRFTIME_CHARS)
        names.update(f"workflow.parameters.{name}" for name in parameters)
        names.update(f"workflow.labels.{key}" for key in metadata.get("labels") or {})
        names.update(f"workflow.annotations.{key}" for key in metadata.get("annotations") or {})
        names.update(f"workflow.outputs.parameters.{name}" for name in self.global_outputs())
        return names


def template_names(workflow: Workflow, template: dict, globals_: set[str]) -> set[str]:
    """Variables available everywhere in one template (not the task/step scopes)."""
    names = set(globals_) | {"inputs.parameters", "node.name"}
    names.update(
        f"inputs.parameters.{param['name']}" for param in (template.get("inputs") or {}).get("parameters") or []
    )
    if is_pod(template):
        names.add("pod.name")
        if workflow.retry_strategy(template) is not None:
            names.add("retries")
        names.update(
            f"outputs.parameters.{out['name']}.path" for out in (template.get("outputs") or {}).get("parameters") or []
        )
    return names


def safe_name(text: str) -> str:
    """A file-system-safe form of a node name."""
    allowed = set(string.ascii_letters + string.digits + "-_.")
    return "".join(char if char in allowed else "_" for char in text)[:150]
