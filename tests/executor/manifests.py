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


def python_pod(name: str, image: str, code: str, **fields) -> dict:
    """A container template running ``code`` (after ``import json, os, sys``) with ``python3 -c``.

    ``fields``: ``volumes`` (the template's), ``mounts`` ({volume: mountPath}), ``securityContext``
    (the pod's), ``container_security`` (the container's), ``outputs`` ({name: valueFrom}), and
    the container's ``env``, ``workingDir``, ``resources``, or the template's other fields.
    """
    body: dict = {"image": image, "command": ["python3", "-c", "import json, os, sys\n" + code]}
    template: dict = {"name": name, "container": body}
    for key, value in fields.items():
        if key == "mounts":
            body["volumeMounts"] = [{"name": volume, "mountPath": path} for volume, path in value.items()]
        elif key == "container_security":
            body["securityContext"] = value
        elif key in ("env", "workingDir", "resources"):
            body[key] = value
        elif key == "outputs":
            template["outputs"] = {"parameters": [{"name": k, "valueFrom": v} for k, v in value.items()]}
        else:
            template[key] = value
    return template
