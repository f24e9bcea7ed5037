"""Strict validation of Argo manifests against Argo's own JSON schema (v4.1.2), for any test.

The schema lives outside the project, at ``<project root>/../shared/argo/schema.json`` (CI has
it there; a user's own checkout may not); ``KALEIDOSCOPE_SHARED_ARGO`` points elsewhere (the tests
of the skip-or-fail rule point it at a missing folder). Tests that need it call
:func:`require_schema` or :func:`require_examples` (or :func:`assert_valid`, which does): without
it they skip naming the missing path, or fail under CI (:mod:`tests.prerequisites`). Such a test
checks only what needs the reference data, so a skip hides no other assertion.

Strict mode, as kubeconform's: every object definition that lists ``properties`` and says
nothing of ``additionalProperties`` gets ``additionalProperties: false``, so a misspelt or
misplaced field is an error instead of silently ignored. Free-form maps (labels, annotations)
declare ``additionalProperties`` and stay open. One quirk is fixed: ``IntOrString`` is declared
as a string although Kubernetes and Argo take an integer too (``retryStrategy.limit: 3``).

Usage::

    from tests.argo_schema import assert_valid, schema_problems
    assert_valid(manifest_dict)            # fails the test listing every problem
    problems = schema_problems(manifest)   # or inspect them: ["spec.templates[0]...: ..."]
"""

from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path
from typing import Any

import jsonschema

from tests.prerequisites import missing

ROOT = Path(__file__).resolve().parents[1]
#: Overridable so the skip-or-fail rule can be exercised without hiding the real folder.
SHARED_ARGO_VARIABLE = "KALEIDOSCOPE_SHARED_ARGO"
SHARED_ARGO_OVERRIDE = os.environ.get(SHARED_ARGO_VARIABLE)
ARGO_DIR = Path(SHARED_ARGO_OVERRIDE or ROOT.parent / "shared" / "argo").absolute()
SCHEMA_PATH = ARGO_DIR / "schema.json"
EXAMPLES_DIR = ARGO_DIR / "examples"
DEFINITION = "io.argoproj.workflow.v1alpha1.{kind}"
KINDS = ("Workflow", "WorkflowTemplate", "CronWorkflow", "ClusterWorkflowTemplate", "WorkflowEventBinding")
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"


def missing_reason(path: Path = SCHEMA_PATH) -> str | None:
    """Why ``path`` in Argo's reference data cannot be used, or None when it is there."""
    if path.exists():
        return None
    if SHARED_ARGO_OVERRIDE:
        where = f"set by {SHARED_ARGO_VARIABLE}={SHARED_ARGO_OVERRIDE}"
    else:
        where = f"the default <project root>/../shared/argo, as in CI; {SHARED_ARGO_VARIABLE} overrides it"
    if not ARGO_DIR.is_dir():
        what = f"Argo's reference data folder {ARGO_DIR} does not exist ({where})"
    else:
        what = f"{path} is missing from Argo's reference data folder {ARGO_DIR} ({where})"
    return f"{what}; the checks that need it cannot run"


def require(path: Path) -> Path:
    """``path`` in Argo's reference data; without it the calling test skips, or fails under CI."""
    reason = missing_reason(path)
    if reason:
        missing(reason)
    return path


def require_schema() -> Path:
    """The schema's path; without it the calling test skips, or fails under CI, saying why."""
    return require(SCHEMA_PATH)


def require_examples() -> Path:
    """Argo's example folder; without it the calling test skips, or fails under CI, saying why."""
    return require(EXAMPLES_DIR)


def make_strict(schema: Any) -> Any:
    """A copy of ``schema`` closed to unknown fields wherever it lists properties."""
    strict = copy.deepcopy(schema)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(strict)
    strict["definitions"][INT_OR_STRING] = {
        "description": "An int or a string (the published schema says string only; Kubernetes takes both).",
        "type": ["string", "integer"],
    }
    return strict


@functools.cache
def strict_schema() -> dict:
    """Argo's schema in strict mode (read once)."""
    return make_strict(json.loads(require_schema().read_text(encoding="utf-8")))


@functools.cache
def validator(kind: str) -> jsonschema.Draft202012Validator:
    """A validator for one kind, pointed at its definition (the top-level oneOf hides messages)."""
    if kind not in KINDS:
        raise ValueError(f"no Argo kind {kind!r}; known: {', '.join(KINDS)}")
    schema = {key: value for key, value in strict_schema().items() if key not in ("oneOf", "type")}
    schema["$ref"] = "#/definitions/" + DEFINITION.format(kind=kind)
    return jsonschema.Draft202012Validator(schema)


def _where(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<document>"


def schema_problems(document: Any) -> list[str]:
    """Every way ``document`` breaks the strict schema of its ``kind``, as ``<path>: <message>``."""
    kind = document.get("kind") if isinstance(document, dict) else None
    if kind not in KINDS:
        return [f"kind: bad value {kind!r}: one of {', '.join(KINDS)}"]
    errors = validator(kind).iter_errors(document)
    return sorted(f"{_where(error.absolute_path)}: {error.message}" for error in errors)


def assert_valid(document: Any) -> None:
    """Fail the calling test, listing every problem, unless ``document`` passes (no schema: see :func:`require`)."""
    require_schema()
    problems = schema_problems(document)
    assert not problems, "not valid against Argo's strict schema:\n" + "\n".join(problems)
