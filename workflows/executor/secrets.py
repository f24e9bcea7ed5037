"""``secretKeyRef`` values: from a secrets mapping, else the environment. Values are never shown.

A secret's key is looked up in the mapping given to ``execute`` (``--secrets FILE``: secret name
-> key -> value), then in the environment variable ``KALEIDOSCOPE_SECRET_<NAME>_<KEY>`` (upper
case, every character that is not a letter or digit as ``_``). Nodes do not inherit the
``KALEIDOSCOPE_SECRET_*`` variables themselves: they get only what their ``env`` asks for.
"""

from __future__ import annotations

import os
import re

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.executor.model import POD_KINDS, Workflow


def variable(name: str, key: str) -> str:
    """The environment variable that can hold a secret's key."""
    return "KALEIDOSCOPE_SECRET_" + re.sub(r"[^A-Za-z0-9]", "_", f"{name}_{key}").upper()


def lookup(secrets, name: str, key: str) -> str | None:
    entry = (secrets or {}).get(name)
    if isinstance(entry, dict) and entry.get(key) is not None:
        return str(entry[key])
    return os.environ.get(variable(name, key))


def missing(name: str, key: str) -> str:
    return (
        f"secret '{name}' has no key '{key}': give it in the secrets file or as the environment "
        f"variable {variable(name, key)}"
    )


def check(workflow: Workflow, secrets) -> None:
    """Refuse before running when a secret a node needs is missing.

    Raises:
        InvalidInput: naming each place, secret and environment variable (never a value).
    """
    problems = []
    for template, path in workflow.checked():
        for kind in POD_KINDS:
            for index, env in enumerate((template.get(kind) or {}).get("env") or []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if not ref or ref.get("optional") or "{{" in f"{ref.get('name')}{ref.get('key')}":
                    continue  # optional, or known only at run time (checked then)
                if lookup(secrets, str(ref["name"]), str(ref["key"])) is None:
                    problems.append(
                        f"{path}.{kind}.env[{index}].valueFrom.secretKeyRef: "
                        f"{missing(str(ref['name']), str(ref['key']))}"
                    )
    if problems:
        raise InvalidInput(problems)
