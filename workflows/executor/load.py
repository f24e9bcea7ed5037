"""Read a manifest and refuse, before anything runs, whatever the local executor cannot run.

Accepted kinds: ``Workflow``; ``WorkflowTemplate`` and ``ClusterWorkflowTemplate`` (run as
``argo submit --from`` would: a Workflow named after the template, with its spec); and
``CronWorkflow`` (its ``workflowSpec`` runs once, now; the schedule is ignored).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

import yaml

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.executor import checks, fields
from kaleidoscope.workflows.executor.model import Workflow

API_VERSION = "argoproj.io/v1alpha1"
KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")


def load(source: str | Path | Mapping, parameters: Mapping[str, str] | None = None) -> dict:
    """Parse and check a manifest; return it as a Workflow (a new dict).

    Args:
        source: a path, YAML or JSON text, or an already parsed manifest.
        parameters: workflow parameters that will be given on the command line (so the
            manifest need not carry their values).

    Raises:
        InvalidInput: every problem found, each naming its place in the manifest (exit code 2).
    """
    document, origin = _read(source)
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
    fields.check(spec, "spec", "spec", problems)
    if not problems:
        checks.check(Workflow(manifest), problems, dict(parameters or {}))
    if problems:
        raise InvalidInput([f"{origin}: {_relocate(problem, spec_path)}" for problem in problems])
    return manifest


def _relocate(problem: str, spec_path: str) -> str:
    return spec_path + problem[len("spec") :] if problem.startswith("spec") else problem


def _read(source) -> tuple[object, str]:
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source)), "manifest"
    if isinstance(source, Path) or (
        isinstance(source, str)
        and "\n" not in source
        and (Path(source).is_file() or source.strip().endswith((".yaml", ".yml", ".json")))
    ):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidInput(
                f"{path}: cannot read the manifest: {getattr(error, 'strerror', None) or error}"
            ) from error
        origin = str(path)
    elif isinstance(source, str):
        text, origin = source, "manifest"
    else:
        raise InvalidInput(f"manifest: expected a path, YAML text or a mapping, not {type(source).__name__}")
    try:
        documents = [document for document in yaml.safe_load_all(text) if document is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InvalidInput(f"{origin}: not valid YAML{where}: {problem}") from error
    if len(documents) != 1:
        raise InvalidInput(f"{origin}: expected one YAML document, found {len(documents)}")
    return documents[0], origin


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
    return {"apiVersion": API_VERSION, "kind": "Workflow", "metadata": metadata, "spec": copy.deepcopy(spec)}
