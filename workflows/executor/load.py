"""Read a manifest and refuse, before anything runs, whatever the local executor cannot run.

Accepted kinds: ``Workflow``; ``WorkflowTemplate`` and ``ClusterWorkflowTemplate`` (run as
``argo submit --from`` would: a Workflow named after the template, with its spec); and
``CronWorkflow`` (its ``workflowSpec`` runs once, now; the schedule is ignored).

WorkflowTemplates and ClusterWorkflowTemplates given with the manifest (a
:class:`~kaleidoscope.workflows.executor.registry.Registry`) are what its references find:

- ``spec.workflowTemplateRef`` (of a Workflow, or of a CronWorkflow's ``workflowSpec``): the
  spec that runs is the referenced template's joined with the workflow's own, the workflow's
  fields winning (:mod:`~kaleidoscope.workflows.executor.merge`, Argo's ``JoinWorkflowSpec``);
  the workflow may have no templates of its own, and is labelled
  ``workflows.argoproj.io/workflow-template: <name>`` as Argo labels it;
- a task's or step's ``templateRef``: the referenced template, and every template it calls, is
  checked as the workflow's own are, with the workflow's variables.

A reference to an object or template not given is refused here, as Argo refuses to run it.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Mapping
from pathlib import Path

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.executor import checks, fields, merge
from kaleidoscope.workflows.executor.model import Workflow
from kaleidoscope.workflows.executor.registry import KINDS as HOLDER_KINDS
from kaleidoscope.workflows.executor.registry import Holder, Registry, read_documents
from kaleidoscope.workflows.rules.validate import SCHEDULED_TIME_ANNOTATION

API_VERSION = "argoproj.io/v1alpha1"
KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")
#: The label Argo puts on a workflow run from a WorkflowTemplate (``common.LabelKeyWorkflowTemplate``).
TEMPLATE_LABELS = {
    HOLDER_KINDS[0]: "workflows.argoproj.io/workflow-template",
    HOLDER_KINDS[1]: "workflows.argoproj.io/cluster-workflow-template",
}
_FIELD = re.compile(r"spec\.([A-Za-z]+)(?:\.parameters\[(\d+)\])?")


def load(
    source: str | Path | Mapping,
    parameters: Mapping[str, str] | None = None,
    templates=None,
    in_image: bool = False,
) -> dict:
    """Parse and check a manifest; return it as a Workflow (a new dict).

    Args:
        source: a path, YAML or JSON text, or an already parsed manifest.
        parameters: workflow parameters that will be given on the command line (so the
            manifest need not carry their values).
        templates: the WorkflowTemplates and ClusterWorkflowTemplates its references may name: a
            :class:`Registry`, or what it is built from (paths, texts, mappings; one or a list).
        in_image: the nodes will run in their templates' images (the podman runtime), so a
            container or script without ``command`` runs its image's entrypoint.

    Raises:
        InvalidInput: every problem found, each naming its place in the manifest (exit code 2)
            or, for a referenced template, in the document it comes from.
    """
    registry = Registry.of(templates)
    documents, origin = read_documents(source)
    if len(documents) != 1:
        raise InvalidInput(f"{origin}: expected one YAML document, found {len(documents)}")
    document = documents[0]
    manifest = _as_workflow(document, origin)
    # A CronWorkflow's spec sits under spec.workflowSpec: name places as in the user's file.
    spec_path = "spec.workflowSpec" if isinstance(document, dict) and document.get("kind") == "CronWorkflow" else "spec"
    problems: list[str] = []
    metadata = manifest.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        problems.append("metadata: must be a mapping")
    spec = manifest.get("spec")
    if not isinstance(spec, dict):
        raise InvalidInput(f"{origin}: spec: must be a mapping")
    own = spec
    joined = None
    if spec.get("workflowTemplateRef") is not None and not problems:
        joined = _join(manifest, registry, problems)
        if joined is None:
            raise InvalidInput([f"{origin}: {_relocate(problem, spec_path)}" for problem in problems])
        spec = manifest["spec"]
    fields.check(spec, "spec", "spec", problems)
    located = [joined.label] if joined else []
    if not problems:
        workflow = Workflow(manifest, registry)
        problems.extend(workflow.missing)
        for holder, template in workflow.reached:
            fields.check(template, "template", workflow.place(template), problems)
            located.append(holder.label)
        if not problems:
            checks.check(workflow, problems, dict(parameters or {}), in_image)
    if problems:
        raise InvalidInput([_locate(problem, origin, spec_path, located, joined, own) for problem in problems])
    return manifest


def _join(manifest: dict, registry: Registry, problems: list[str]) -> Holder | None:
    """Replace the manifest's spec by the referenced template's joined with it; the template used."""
    spec = manifest["spec"]
    ref = spec["workflowTemplateRef"]
    if not isinstance(ref, dict):
        problems.append("spec.workflowTemplateRef: must be a mapping (name, clusterScope)")
        return None
    fields.check(ref, "workflowTemplateRef", "spec.workflowTemplateRef", problems)
    name, cluster = ref.get("name"), ref.get("clusterScope", False)
    if not isinstance(name, str) or not name:
        problems.append("spec.workflowTemplateRef.name: required: the WorkflowTemplate's name")
    elif "{{" in name:
        problems.append("spec.workflowTemplateRef.name: must be the WorkflowTemplate's name, not a variable")
    if not isinstance(cluster, bool):
        problems.append(f"spec.workflowTemplateRef.clusterScope: bad value {cluster!r}: must be true or false")
    if spec.get("templates"):
        # Argo: "Templates is invalid field in spec if workflow referred WorkflowTemplate reference".
        problems.append(
            "spec.templates: a workflow with a workflowTemplateRef has no templates of its own "
            "(they come from the WorkflowTemplate)"
        )
    if problems or not isinstance(name, str) or not isinstance(cluster, bool):
        return None
    kind = HOLDER_KINDS[1] if cluster else HOLDER_KINDS[0]
    namespace = (manifest.get("metadata") or {}).get("namespace")
    holder = registry.find(name, cluster, namespace)
    if holder is None:
        elsewhere = registry.find(name, cluster, None)
        problems.append(
            f"spec.workflowTemplateRef: {kind} '{name}' not found in the workflow's namespace '{namespace}' "
            f"(the one given, {elsewhere.origin}, is in namespace '{elsewhere.namespace}')"
            if elsewhere is not None
            else f"spec.workflowTemplateRef: {kind} '{name}' not found: give its manifest to the run "
            f"(run-workflow --templates FILE, or execute(..., templates=[...]))"
        )
        return None
    if holder.spec.get("workflowTemplateRef") is not None:
        problems.append(
            f"spec.workflowTemplateRef: {holder.label} has a workflowTemplateRef of its own, which Argo does not follow"
        )
        return None
    own = {key: value for key, value in spec.items() if key != "workflowTemplateRef"}
    try:
        manifest["spec"] = merge.join(own, holder.spec)
    except ValueError as error:
        problems.append(f"spec: cannot be joined with {holder.label}: {error}")
        return None
    metadata = manifest.setdefault("metadata", {})
    metadata["labels"] = {**(metadata.get("labels") or {}), TEMPLATE_LABELS[holder.kind]: holder.name}
    return holder


def _locate(problem: str, origin: str, spec_path: str, located: list[str], joined: Holder | None, own: dict) -> str:
    """The problem as the user reads it: ``<file>: <place>``, the place in the file it stands in."""
    if any(problem.startswith(label + ": ") for label in located):
        return problem
    if joined is not None and problem.startswith("spec."):
        # The joined spec's field comes from the workflow's own spec if it has it, else from the template.
        match = _FIELD.match(problem)
        field = match.group(1) if match else ""
        if field == "arguments" and match and match.group(2) is not None:
            return _locate_parameter(problem, match, origin, spec_path, joined, own)
        if field not in own:
            return f"{joined.label}: {problem}"
    return f"{origin}: {_relocate(problem, spec_path)}"


def _locate_parameter(problem: str, match: re.Match, origin: str, spec_path: str, joined: Holder, own: dict) -> str:
    """A problem of the joined spec's ``arguments.parameters[i]``, at that parameter's declaration
    (the workflow's if it declares the name, else the template's)."""
    names = _joined_names(own, joined.spec)
    index = int(match.group(2))
    name = names[index] if index < len(names) else None
    for spec, label, path in ((own, origin, spec_path), (joined.spec, joined.label, "spec")):
        for position, param in enumerate((spec.get("arguments") or {}).get("parameters") or []):
            if isinstance(param, dict) and param.get("name") == name:
                return f"{label}: {path}.arguments.parameters[{position}]{problem[match.end() :]}"
    return f"{origin}: {_relocate(problem, spec_path)}"


def _joined_names(own: dict, template: dict) -> list:
    joined = merge.join(
        {"arguments": {"parameters": (own.get("arguments") or {}).get("parameters") or []}},
        {"arguments": {"parameters": (template.get("arguments") or {}).get("parameters") or []}},
    )
    return [param.get("name") for param in (joined.get("arguments") or {}).get("parameters") or []]


def _relocate(problem: str, spec_path: str) -> str:
    return spec_path + problem[len("spec") :] if problem.startswith("spec") else problem


def _as_workflow(document, origin: str) -> dict:
    if not isinstance(document, dict):
        raise InvalidInput(
            f"{origin}: not a Workflow manifest: expected a mapping with apiVersion, kind, metadata, spec"
        )
    kind = document.get("kind")
    if document.get("apiVersion") != API_VERSION or kind not in KINDS:
        raise InvalidInput(
            f"{origin}: not a Workflow manifest: apiVersion {document.get('apiVersion')!r}, kind {kind!r} "
            f"(expected apiVersion {API_VERSION} and kind {', '.join(KINDS)})"
        )
    metadata = dict(document.get("metadata") or {})
    if kind == "Workflow":
        spec = document.get("spec")
    else:
        name = metadata.get("name") or metadata.get("generateName", "workflow-").rstrip("-")
        metadata = {key: value for key, value in metadata.items() if key in ("namespace", "labels", "annotations")}
        metadata["generateName"] = f"{name}-"
        spec = document.get("spec")
        if kind == "CronWorkflow":
            spec = (spec or {}).get("workflowSpec") if isinstance(spec, dict) else None
            if spec is None:
                raise InvalidInput(f"{origin}: spec.workflowSpec: a CronWorkflow needs a workflowSpec")
            # The run is scheduled for now: the annotation Argo's cron controller puts on every
            # Workflow it creates, behind {{workflow.scheduledTime}} (workflow/cron/operator.go).
            annotations = dict(metadata.get("annotations") or {})
            annotations[SCHEDULED_TIME_ANNOTATION] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            metadata["annotations"] = annotations
    return {"apiVersion": API_VERSION, "kind": "Workflow", "metadata": metadata, "spec": copy.deepcopy(spec)}
