"""Small manifests the executor's tests build their cases from."""

from __future__ import annotations


def workflow(templates: list[dict], entrypoint: str = "main", parameters: dict | None = None, **spec) -> dict:
    arguments = {"parameters": [{"name": k, "value": v} for k, v in (parameters or {}).items()]}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "test-"},
        "spec": {"entrypoint": entrypoint, "arguments": arguments, "templates": templates, **spec},
    }


def sh(name: str, script: str, inputs=(), outputs: dict | None = None, **extra) -> dict:
    template = {"name": name, "container": {"image": "alpine", "command": ["sh", "-c", script]}, **extra}
    if inputs:
        template["inputs"] = {"parameters": [{"name": n} if isinstance(n, str) else n for n in inputs]}
    if outputs:
        template["outputs"] = {"parameters": [{"name": k, "valueFrom": v} for k, v in outputs.items()]}
    return template
