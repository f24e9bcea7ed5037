"""The WorkflowTemplates and ClusterWorkflowTemplates given to a run: what references find.

On a cluster, ``templateRef`` and ``workflowTemplateRef`` name objects the controller reads from
the API server (``workflow/templateresolution/context.go`` in Argo); here they are documents given
with the workflow: files, YAML text or mappings, a file or text holding any number of YAML
documents. A ``templateRef`` with ``clusterScope: true`` finds a ClusterWorkflowTemplate, else a
WorkflowTemplate, by ``metadata.name``. A WorkflowTemplate is namespaced: one whose
``metadata.namespace`` differs from the workflow's (both given) is not found, as on a cluster.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kaleidoscope.steps.errors import InvalidInput

API_VERSION = "argoproj.io/v1alpha1"
KINDS = ("WorkflowTemplate", "ClusterWorkflowTemplate")


def read_documents(source, what: str = "manifest", name: str | None = None) -> tuple[list, str]:
    """The YAML documents of a path, a YAML or JSON text, or one parsed document.

    Args:
        source: the path, text or mapping.
        what: what the source is, for problems.
        name: how problems name a text or mapping (default: ``what``); a file is named by its path.

    Returns:
        (documents, origin): empty documents dropped; origin names the source in problems.

    Raises:
        InvalidInput: the file cannot be read, or is not YAML.
    """
    if isinstance(source, Mapping):
        return [copy.deepcopy(dict(source))], name or what
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
                f"{path}: cannot read the {what}: {getattr(error, 'strerror', None) or error}"
            ) from error
        origin = str(path)
    elif isinstance(source, str):
        text, origin = source, name or what
    else:
        raise InvalidInput(f"{what}: expected a path, YAML text or a mapping, not {type(source).__name__}")
    try:
        documents = [document for document in yaml.safe_load_all(text) if document is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InvalidInput(f"{origin}: not valid YAML{where}: {problem}") from error
    return documents, origin


@dataclass
class Holder:
    """One WorkflowTemplate or ClusterWorkflowTemplate: its templates by name (the first of a name)."""

    kind: str
    name: str
    namespace: str | None
    origin: str
    spec: dict
    templates: dict[str, dict] = field(init=False)
    paths: dict[str, str] = field(init=False)

    def __post_init__(self):
        self.templates, self.paths = {}, {}
        for index, template in enumerate(self.spec.get("templates") or []):
            if isinstance(template, dict) and isinstance(template.get("name"), str):
                self.templates.setdefault(template["name"], template)
                self.paths.setdefault(template["name"], f"spec.templates[{index}]")

    @property
    def key(self) -> str:
        """``WorkflowTemplate/<name>`` or ``ClusterWorkflowTemplate/<name>``."""
        return f"{self.kind}/{self.name}"

    @property
    def label(self) -> str:
        """How problems in this document begin: ``<file>: WorkflowTemplate <name>``."""
        return f"{self.origin}: {self.kind} {self.name}"


def key(name: str, cluster: bool) -> str:
    return f"{KINDS[1] if cluster else KINDS[0]}/{name}"


class Registry:
    """WorkflowTemplates and ClusterWorkflowTemplates by kind and name.

    Args:
        sources: paths, YAML or JSON texts, mappings, or other registries.

    Raises:
        InvalidInput: a document that is not a WorkflowTemplate or ClusterWorkflowTemplate, has
            no name or spec, or is given twice (every problem, each naming its document).
    """

    def __init__(self, sources: Iterable = ()):
        self.holders: dict[str, Holder] = {}
        problems: list[str] = []
        for index, source in enumerate(sources):
            if isinstance(source, Registry):
                for known in source.holders.values():
                    self._add(known, problems)
                continue
            documents, origin = read_documents(source, "templates", f"templates[{index}]")
            for number, document in enumerate(documents):
                where = f"{origin} (document {number + 1})" if len(documents) > 1 else origin
                holder = _holder(document, where, problems)
                if holder is not None:
                    self._add(holder, problems)
        if problems:
            raise InvalidInput(problems)

    @classmethod
    def of(cls, templates) -> Registry:
        """A registry from ``execute(templates=...)``: a registry, one source, or several."""
        if isinstance(templates, Registry):
            return templates
        if templates is None:
            return cls()
        if isinstance(templates, (str, Path, Mapping)):
            return cls([templates])
        return cls(list(templates))

    def _add(self, holder: Holder, problems: list[str]) -> None:
        known = self.holders.get(holder.key)
        if known is not None and known is not holder:
            problems.append(f"{holder.label}: given twice (also in {known.origin})")
            return
        self.holders[holder.key] = holder

    def find(self, name: str, cluster: bool, namespace: str | None) -> Holder | None:
        """The template object a reference names, seen from a workflow in ``namespace``."""
        holder = self.holders.get(key(name, cluster))
        if holder is not None and not cluster and namespace and holder.namespace and holder.namespace != namespace:
            return None
        return holder

    def __len__(self) -> int:
        return len(self.holders)


def _holder(document, origin: str, problems: list[str]) -> Holder | None:
    if not isinstance(document, dict):
        problems.append(f"{origin}: not a WorkflowTemplate: expected a mapping with apiVersion, kind, metadata, spec")
        return None
    kind = document.get("kind")
    if document.get("apiVersion") != API_VERSION or kind not in KINDS:
        problems.append(
            f"{origin}: apiVersion {document.get('apiVersion')!r}, kind {kind!r}: only WorkflowTemplate and "
            f"ClusterWorkflowTemplate documents ({API_VERSION}) can be given as templates"
        )
        return None
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"{origin}: metadata.name: a {kind} needs a name (references find it by name)")
        return None
    spec = document.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("templates") or [], list):
        problems.append(f"{origin}: {kind} {name}: spec: must be a mapping with a list of templates")
        return None
    namespace = metadata.get("namespace") if kind == KINDS[0] else None
    return Holder(kind, name, str(namespace) if namespace else None, origin, copy.deepcopy(spec))
