"""A read-only view of a checked Workflow manifest: templates by name, their kinds and scopes."""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from kaleidoscope.workflows.rules import dag, depends

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
    def of(cls, template: dict) -> Dag:
        """Raises ValueError for a bad depends expression (checked at load)."""
        tasks = {task["name"]: task for task in template["dag"]["tasks"]}
        logic = {}
        for name, task in tasks.items():
            if task.get("depends"):
                logic[name] = depends.parse(str(task["depends"]))
            else:
                logic[name] = depends.from_dependencies(list(task.get("dependencies") or []))
        deps = {name: depends.tasks(tree) for name, tree in logic.items()}
        target = template["dag"].get("target")
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
    """A checked Workflow manifest (kind ``Workflow``), with lookups the runner needs."""

    manifest: dict
    templates: dict[str, dict] = field(init=False)
    paths: dict[str, str] = field(init=False)

    def __post_init__(self):
        self.templates = {}
        self.paths = {}
        for index, template in enumerate(self.spec.get("templates") or []):
            if isinstance(template, dict) and isinstance(template.get("name"), str):
                self.templates.setdefault(template["name"], template)
                self.paths.setdefault(template["name"], f"spec.templates[{index}]")

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
        """The template's retryStrategy, or the workflow's default for every template."""
        return template.get("retryStrategy") or self.spec.get("retryStrategy")

    def global_outputs(self) -> set[str]:
        """Names exported with ``globalName`` anywhere."""
        return {
            output["globalName"]
            for template in self.templates.values()
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
        if workflow.retry_strategy(template):
            names.add("retries")
        names.update(
            f"outputs.parameters.{out['name']}.path" for out in (template.get("outputs") or {}).get("parameters") or []
        )
    return names


def safe_name(text: str) -> str:
    """A file-system-safe form of a node name."""
    allowed = set(string.ascii_letters + string.digits + "-_.")
    return "".join(char if char in allowed else "_" for char in text)[:150]
