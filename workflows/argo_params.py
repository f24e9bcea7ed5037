"""The workflow's parameters: what a user sets with ``argo submit -p`` or edits in the Argo UI.

One table, :data:`PARAMETERS`, feeds the rendered manifests (names, descriptions, enums) and the
parameters table in docs/argo.md (:func:`markdown`), so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from hera.workflows import Parameter


@dataclass(frozen=True)
class WorkflowParameter:
    """One workflow parameter.

    Attributes:
        name: As in ``-p name=value`` and ``{{workflow.parameters.<name>}}``.
        description: Shown in the Argo UI's submit dialog.
        default: Shown in docs/argo.md; the rendered value comes from the spec and options.
        enum: The allowed values (the UI offers a drop-down), or None for free text.
    """

    name: str
    description: str
    default: str
    enum: tuple[str, ...] | None = None


PARAMETERS = (
    WorkflowParameter(
        "spec",
        "The augmentation spec, YAML or JSON (as `kaleidoscope validate` takes it). The first step "
        "validates it and fails fast naming each bad field by its JSON path.",
        "the spec given to `kaleidoscope render`",
    ),
    WorkflowParameter(
        "source",
        "Required: where the images are (s3://bucket/prefix). It replaces the spec's `source`.",
        "none: required (`-p source=...`); the CronWorkflow carries the spec's",
    ),
    WorkflowParameter(
        "destination",
        "Required: where the images, the manifest parts and summary.json go (s3://bucket/prefix, not "
        "inside the source). It replaces the spec's `destination`, and names the mutex that lets "
        "one run at a time write it.",
        "none: required (`-p destination=...`); the CronWorkflow carries the spec's",
    ),
    WorkflowParameter(
        "s3-endpoint",
        "Endpoint URL of an S3-compatible store (MinIO, SeaweedFS, Ceph, ...); empty means AWS S3.",
        '`""`',
    ),
    WorkflowParameter(
        "incremental",
        "true: skip images already recorded in the destination and add the new ones to "
        "it; false: process every image and write a new manifest.",
        "`false`; `true` in the CronWorkflow",
        ("true", "false"),
    ),
)
NAMES = tuple(parameter.name for parameter in PARAMETERS)


def workflow_arguments(values: dict[str, str | None]) -> list[Parameter]:
    """The workflow's ``spec.arguments.parameters``, each with its description, enum and value.

    A value of None renders a parameter without ``value``: Argo refuses to submit the workflow
    until ``-p name=...`` gives one (``validate.go``, ``validateArgumentsValues``), and accepts
    it as is in a WorkflowTemplate, whose runs give it.
    """
    arguments = []
    for parameter in PARAMETERS:
        argument = Parameter(
            name=parameter.name,
            description=parameter.description,
            enum=list(parameter.enum) if parameter.enum else None,
        )
        # Given as None, Hera would write the text "null": a missing value stays unset.
        if values[parameter.name] is not None:
            argument.value = values[parameter.name]
        arguments.append(argument)
    return arguments


def reference(name: str) -> str:
    """``{{workflow.parameters.<name>}}`` for a known parameter (a typo fails here, not in Argo)."""
    if name not in NAMES:
        raise KeyError(f"no workflow parameter {name!r}; known: {', '.join(NAMES)}")
    return f"{{{{workflow.parameters.{name}}}}}"


def markdown() -> str:
    """The parameters table of docs/argo.md."""
    lines = ["| parameter | default | values | what it does |", "|---|---|---|---|"]
    for parameter in PARAMETERS:
        values = ", ".join(f"`{value}`" for value in parameter.enum) if parameter.enum else "text"
        lines.append(f"| `{parameter.name}` | {parameter.default} | {values} | {parameter.description} |")
    return "\n".join(lines)
