"""The Helm chart's two generated files: its values schema and the values table of its README.

``charts/kaleidoscope/`` is written by hand, templates included (``tests/test_chart.py`` proves
Helm's render equal to the Python builder's for the same settings). Two files are generated, so
that what ``values.yaml`` says, what Helm enforces and what the README lists cannot drift apart:

- ``values.schema.json``: the types in :func:`_skeleton`, made from the builder's option model
  (``argo.options``: pull policies, pod GC strategies, taint effects, concurrency policies) and
  the shared Argo and Kubernetes rules (``rules``: names, label keys and values, quantities,
  durations, cron expressions, time zones), closed at every level, each key's description its
  ``# --`` comment in ``values.yaml``;
- the values table of the chart's ``README.md``, from the same comments.

A checkout's tool, not the installed package's:

    .venv/bin/python -m tools.chart           # rewrite what changed
    .venv/bin/python -m tools.chart --check   # change nothing; exit 1 listing what is out of date

``tests/test_chart.py`` fails while they differ from :func:`generate`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from kaleidoscope.workflows.argo.options import (
    CONCURRENCY_POLICIES,
    POD_GC_STRATEGIES,
    PULL_POLICIES,
    TAINT_EFFECTS,
)
from kaleidoscope.workflows.rules import durations, names
from kaleidoscope.workflows.rules.cron import TIMEZONE
from kaleidoscope.workflows.rules.cron import pattern as cron_pattern
from kaleidoscope.workflows.rules.quantities import CPU, QUANTITY

__all__ = [
    "CHART",
    "GENERATED",
    "README",
    "VALUES",
    "cron_pattern",
    "documented_keys",
    "generate",
    "readme",
    "stale",
    "value_comments",
    "values_schema",
    "values_table",
    "write",
]

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "kaleidoscope"
VALUES = CHART / "values.yaml"
README = CHART / "README.md"
README_BEGIN, README_END = "<!-- values:begin -->", "<!-- values:end -->"
#: Chart-relative paths of the generated files.
GENERATED = ("values.schema.json", "README.md")


# -- values.yaml: its comments, its schema and its reference table --------------------------------


_MISSING = object()


class _Kube(dict):
    """A schema node shaped by Kubernetes (resources, tolerations, label maps): closed too, but its
    keys are Kubernetes' own, documented by the key above it rather than one comment each."""


_LABEL_KEY = f"^{names.LABEL_KEY}$"
_LABEL_VALUE = f"^{names.LABEL_VALUE}$"
_QUANTITY = f"^{QUANTITY}$"
_CPU = f"^({CPU})$"
_DURATION = f"^{durations.UNSIGNED}$"
_TIMEZONE = f"^{TIMEZONE}$"
_PATH_COMPONENT = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
_REPOSITORY = rf"^([A-Za-z0-9.-]+(:[0-9]+)?/)?{_PATH_COMPONENT}(/{_PATH_COMPONENT})*$"
_TAG = r"^([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$"


def _string(pattern: str | None = None, **more: Any) -> dict:
    return {"type": "string", **({"pattern": pattern} if pattern else {}), **more}


def _integer(minimum: int) -> dict:
    return {"type": "integer", "minimum": minimum}


def _object(properties: dict, **more: Any) -> dict:
    return {"type": "object", "additionalProperties": False, "properties": properties, **more}


#: The labels the chart sets on every object (kaleidoscope.labels), which commonLabels may not give.
OBJECT_LABELS = (
    "helm.sh/chart",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
)
#: The labels the builder sets on every pod (argo.templates.labels), which podLabels may not give.
POD_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/component",
)
#: A container's resource names beyond ``cpu`` and ``memory``: Kubernetes' own (no domain), or an
#: extended resource named with its domain (``nvidia.com/gpu``, ``amd.com/gpu``).
_OTHER_RESOURCE = (
    rf"^(ephemeral-storage|hugepages-{QUANTITY}|{names.DNS_SUBDOMAIN}/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$"
)


def _amount(text: dict) -> dict:
    """A quantity as a number or as text: Helm keeps YAML's numbers, the chart renders both as text."""
    return {"oneOf": [{"type": "number", "minimum": 0}, text]}


def _resources() -> _Kube:
    def amounts() -> _Kube:
        # A key that is no resource name (`cpus`, `gpu`) is an additional property, refused by name.
        return _Kube(
            _object(
                {
                    # Cores as a number (2, 0.5) or text (2, 1500m).
                    "cpu": _amount(_string(_CPU)),
                    # Text only: the augment memory patch reads it as a quantity.
                    "memory": _string(_QUANTITY),
                },
                patternProperties={_OTHER_RESOURCE: _amount(_string(_QUANTITY))},
            )
        )

    return _Kube(_object({"requests": amounts(), "limits": amounts()}))


def _keyed(values: dict, reserved: tuple[str, ...] = ()) -> _Kube:
    """A map keyed by Kubernetes label keys (labels, annotations): a bad key is an additional
    property and a key the chart sets itself a ``false schema``, each refused naming the key."""
    return _Kube(
        _object(
            dict.fromkeys(reserved, False),
            patternProperties={_LABEL_KEY: values},
            propertyNames={"maxLength": names.LABEL_KEY_MAX},
        )
    )


def _labels(reserved: tuple[str, ...]) -> _Kube:
    """A map of Kubernetes labels, without the keys the chart sets itself."""
    return _keyed(_string(_LABEL_VALUE, maxLength=names.LABEL_VALUE_MAX), reserved)


def _skeleton() -> dict:
    """values.schema.json without descriptions: every key of values.yaml, its type and rule."""

    def optional_name() -> dict:
        return _string(f"^({names.DNS_SUBDOMAIN})?$", maxLength=names.DNS_SUBDOMAIN_MAX)

    return _object(
        {
            # A parent chart's globals: accepted whatever they hold, read by nothing here.
            "global": _Kube({"type": "object"}),
            "nameOverride": _string(f"^({names.DNS_LABEL})?$", maxLength=names.DNS_LABEL_MAX),
            "fullnameOverride": _string(f"^({names.DNS_LABEL})?$", maxLength=names.CRON_WORKFLOW_NAME_MAX),
            "commonLabels": _labels(OBJECT_LABELS),
            "image": _object(
                {
                    "repository": _string(_REPOSITORY),
                    "tag": _string(_TAG),
                    "pullPolicy": {"type": "string", "enum": ["", *PULL_POLICIES]},
                }
            ),
            "imagePullSecrets": _Kube(
                {
                    "type": "array",
                    "items": _Kube(
                        _object(
                            {"name": _string(f"^{names.DNS_SUBDOMAIN}$", maxLength=names.DNS_SUBDOMAIN_MAX)},
                            required=["name"],
                        )
                    ),
                }
            ),
            "serviceAccount": _object(
                {
                    "create": {"type": "boolean"},
                    "name": optional_name(),
                    "annotations": _Kube({"type": "object", "additionalProperties": {"type": "string"}}),
                }
            ),
            "rbac": _object({"create": {"type": "boolean"}}),
            "s3": _object(
                {
                    "credentials": {"type": "string", "enum": ["existingSecret", "secret", "none"]},
                    "existingSecret": optional_name(),
                    "accessKeyId": _string(),
                    "secretAccessKey": _string(),
                    "region": _string(r"^([a-z0-9-]+)?$"),
                    "endpoint": _string(r"^(https?://[^\s/]+(/\S*)?)?$"),
                },
                # A Secret to read needs a name; a Secret to make needs both keys.
                allOf=[
                    {
                        "if": {"properties": {"credentials": {"const": "existingSecret"}}},
                        "then": {"properties": {"existingSecret": {"minLength": 1}}},
                    },
                    {
                        "if": {"properties": {"credentials": {"const": "secret"}}},
                        "then": {"properties": {"accessKeyId": {"minLength": 1}, "secretAccessKey": {"minLength": 1}}},
                    },
                ],
            ),
            # Text or a mapping: the augmentation spec, whose own schema the first step applies.
            "spec": {"type": ["string", "object"], "minLength": 1, "minProperties": 1},
            "workflow": _object(
                {
                    "title": _string(),
                    "description": _string(),
                    "source": _string(r"^(s3://\S+)?$"),
                    "destination": _string(r"^(s3://\S+)?$"),
                    "mutex": {"type": "boolean"},
                    "mutexDatabase": {"type": "boolean"},
                    "incremental": {"type": "boolean"},
                    "parallelism": _integer(1),
                    "retries": _integer(0),
                    "retryBackoff": _string(_DURATION),
                    "activeDeadlineSeconds": _integer(1),
                    "ttlSecondsAfterSuccess": _integer(0),
                    "ttlSecondsAfterFailure": _integer(0),
                    "podGC": {"type": "string", "enum": list(POD_GC_STRATEGIES)},
                    "threads": _integer(0),
                    "runAsUser": _integer(1),
                    "tmpSize": _string(_QUANTITY),
                    "pendingTimeout": _string(f"^({durations.POSITIVE})?$"),
                    "retryOnOtherNode": {"type": "boolean"},
                    "augmentMemoryCap": _string(f"^({QUANTITY})?$"),
                    "metrics": {"type": "boolean"},
                    "partOf": _string(f"^({names.LABEL_VALUE_SET})?$", maxLength=names.LABEL_VALUE_MAX),
                },
                # A database mutex is the mutex, shared through Argo's database: not without it.
                allOf=[
                    {
                        "if": {"properties": {"mutexDatabase": {"const": True}}},
                        "then": {"properties": {"mutex": {"const": True}}},
                    }
                ],
            ),
            "resources": _object({step: _resources() for step in ("shard", "augment", "manifest")}),
            "podAnnotations": _keyed({"type": "string"}),
            "podLabels": _labels(POD_LABELS),
            "nodeSelector": _Kube(
                {
                    "type": "object",
                    "propertyNames": {"pattern": _LABEL_KEY, "maxLength": names.LABEL_KEY_MAX},
                    "additionalProperties": _string(_LABEL_VALUE, maxLength=names.LABEL_VALUE_MAX),
                }
            ),
            "tolerations": _Kube(
                {
                    "type": "array",
                    "items": _Kube(
                        _object(
                            {
                                "key": _string(),
                                "operator": {"type": "string", "enum": ["Exists", "Equal"]},
                                "value": _string(),
                                "effect": {"type": "string", "enum": list(TAINT_EFFECTS)},
                                "tolerationSeconds": {"type": "integer"},
                            }
                        )
                    ),
                }
            ),
            "affinity": _Kube(
                _object({kind: {"type": "object"} for kind in ("nodeAffinity", "podAffinity", "podAntiAffinity")})
            ),
            "priorityClassName": optional_name(),
            "cronWorkflow": _object(
                {
                    "enabled": {"type": "boolean"},
                    "schedules": {
                        "type": "array",
                        "minItems": 1,
                        # Argo's grammar, without a time zone prefix of its own: the CronWorkflow
                        # sets `timezone`, which Argo puts before each schedule (argo/cron.py).
                        "items": _string(cron_pattern(), **{"not": {"pattern": r"^\s*(CRON_)?TZ="}}),
                    },
                    "timezone": _string(_TIMEZONE),
                    "concurrencyPolicy": {"type": "string", "enum": list(CONCURRENCY_POLICIES)},
                    "startingDeadlineSeconds": _integer(0),
                    "successfulJobsHistoryLimit": _integer(0),
                    "failedJobsHistoryLimit": _integer(0),
                    "incremental": {"type": "boolean"},
                }
            ),
        },
        # An enabled CronWorkflow runs unattended with the values' locations, never the example
        # spec's: it needs both.
        allOf=[
            {
                "if": {"properties": {"cronWorkflow": {"properties": {"enabled": {"const": True}}}}},
                "then": {
                    "properties": {
                        "workflow": {"properties": {"source": {"minLength": 1}, "destination": {"minLength": 1}}}
                    }
                },
            }
        ],
    )


def documented_keys(schema: Mapping | None = None, path: tuple = ()) -> Iterator[tuple[tuple[str, ...], dict]]:
    """Each key of values.yaml that carries its own ``# --`` comment, with its schema node, in
    the schema's order; keys inside a Kubernetes-shaped value are documented by that value's."""
    schema = _skeleton() if schema is None else schema
    for key, node in schema.get("properties", {}).items():
        yield path + (key,), node
        if not isinstance(node, _Kube):
            yield from documented_keys(node, path + (key,))


def value_comments(text: str) -> dict[tuple[str, ...], str]:
    """Each key's ``# --`` comment in a values file (helm-docs' convention), as one line of text.

    The comment is the block of ``#`` lines right above the key, at the key's indentation,
    from the line opening with ``# --``; lines after the key (commented examples) are not part
    of it.
    """
    lines = text.splitlines()
    comments: dict[tuple[str, ...], str] = {}

    def above(line: int, column: int) -> str | None:
        block: list[str] = []
        for previous in range(line - 1, -1, -1):
            candidate = lines[previous]
            if len(candidate) - len(candidate.lstrip(" ")) != column or not candidate.lstrip().startswith("#"):
                break
            body = candidate.strip()[1:].strip()
            block.insert(0, body)
            if body.startswith("--"):
                return " ".join([block[0][2:].strip(), *block[1:]]).strip()
        return None

    def walk(node: yaml.Node, path: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                comment = above(key.start_mark.line, key.start_mark.column)
                if comment is not None:
                    comments[path + (key.value,)] = comment
                walk(value, path + (key.value,))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return comments


def values_schema(values_text: str | None = None) -> dict:
    """values.schema.json: the skeleton, each documented key described by its comment.

    Raises:
        ValueError: A key of values.yaml without a comment or without a schema, or the reverse.
    """
    values_text = VALUES.read_text(encoding="utf-8") if values_text is None else values_text
    comments = value_comments(values_text)
    skeleton = _skeleton()
    documented = dict(documented_keys(skeleton))
    problems = [f"values.yaml: {'.'.join(path)}: no '# --' comment" for path in documented if path not in comments]
    problems += [f"values.yaml: {'.'.join(path)}: not in the schema" for path in comments if path not in documented]
    defaults = yaml.safe_load(values_text)
    for path in documented:
        node: Any = defaults
        for key in path:
            node = node.get(key, _MISSING) if isinstance(node, dict) else _MISSING
        if node is _MISSING:
            problems.append(f"values.yaml: {'.'.join(path)}: in the schema but not in values.yaml")
    if problems:
        raise ValueError("\n".join(problems))
    for path, node in documented.items():
        node["description"] = comments[path]
    # Every key is always there (values.yaml has them all): a key deleted with null fails here
    # instead of rendering a broken manifest.
    _require_all(skeleton)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Values of the kaleidoscope Helm chart",
        **skeleton,
    }


def _require_all(node: dict) -> None:
    if "properties" in node and not isinstance(node, _Kube):
        node["required"] = list(node["properties"])
        for child in node["properties"].values():
            _require_all(child)


def _type_name(node: Mapping) -> str:
    kind = node.get("type")
    if kind == "array":
        return f"list of {_type_name(node.get('items', {}))}"
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind or "any"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def values_table(values_text: str | None = None) -> str:
    """The README's values table: key, type, default and description, in values.yaml's order."""
    values_text = VALUES.read_text(encoding="utf-8") if values_text is None else values_text
    schema = values_schema(values_text)
    defaults = yaml.safe_load(values_text)
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for path, node in documented_keys(schema):
        if "properties" in node and not isinstance(node, _Kube):
            continue  # a group: its keys follow
        value: Any = defaults
        for key in path:
            value = value[key]
        default = (
            "multi-line text (see `values.yaml`)"
            if isinstance(value, str) and "\n" in value
            else f"`{json.dumps(value, ensure_ascii=False, separators=(',', ':'))}`"
        )
        rows.append(f"| `{'.'.join(path)}` | {_type_name(node)} | {_cell(default)} | {_cell(node['description'])} |")
    return "\n".join(rows)


def readme(current: str | None = None, values_text: str | None = None) -> str:
    """The chart's README with its values table replaced by today's."""
    current = README.read_text(encoding="utf-8") if current is None else current
    head, begin, rest = current.partition(README_BEGIN)
    _, end, tail = rest.partition(README_END)
    if not begin or not end:
        raise ValueError(f"{README}: no {README_BEGIN} ... {README_END} section")
    return f"{head}{README_BEGIN}\n{values_table(values_text)}\n{README_END}{tail}"


# -- all of it -------------------------------------------------------------------------------------


def generate() -> dict[str, str]:
    """Every generated file's text, by chart-relative path."""
    producers: dict[str, Callable[[], str]] = {
        "values.schema.json": lambda: json.dumps(values_schema(), indent=2, ensure_ascii=False) + "\n",
        "README.md": readme,
    }
    assert tuple(producers) == GENERATED
    return {path: produce() for path, produce in producers.items()}


def stale(chart: Path = CHART) -> list[str]:
    """The generated files whose committed text differs from :func:`generate`'s."""
    return [
        path
        for path, text in generate().items()
        if not (chart / path).exists() or (chart / path).read_text(encoding="utf-8") != text
    ]


def write(chart: Path = CHART) -> list[str]:
    """Rewrite the generated files that changed; returns their chart-relative paths."""
    changed = stale(chart)
    generated = generate()
    for path in changed:
        (chart / path).write_text(generated[path], encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chart", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 listing the files out of date")
    args = parser.parse_args(argv)
    try:
        if args.check:
            out_of_date = stale()
            for path in out_of_date:
                print(f"out of date: {CHART / path}", file=sys.stderr)
            return 1 if out_of_date else 0
        for path in write():
            print(f"wrote {CHART / path}", file=sys.stderr)
    except ValueError as error:  # a value without its comment, or without its schema
        print(f"python -m tools.chart: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
