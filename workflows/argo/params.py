"""The workflow's parameters, and the inputs of its entry template ``main``.

A user sets the parameters with ``argo submit -p`` or edits them in the Argo UI. ``main`` takes the
same values as inputs (:func:`main_inputs`), plus ``name``, and hands them to its steps as
arguments: the steps read ``{{inputs.parameters.*}}``, never ``{{workflow.parameters.*}}``, so
``main`` runs as well as a task of another workflow (``templateRef``, or its templates included)
as it does as the entrypoint, whose inputs Argo fills from the workflow's parameters by name.

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
    #: The default of ``main``'s input of this name, or None when a caller must give it.
    input_default: str | None = None


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
        input_default="",
    ),
    WorkflowParameter(
        "incremental",
        "true: skip images already recorded in the destination and add the new ones to "
        "it; false: process every image and write a new manifest.",
        "`false`; `true` in the CronWorkflow",
        ("true", "false"),
        input_default="false",
    ),
)
NAMES = tuple(parameter.name for parameter in PARAMETERS)
#: ``main``'s input beyond the workflow's parameters: what tells two calls in one workflow apart.
NAME_INPUT = WorkflowParameter(
    "name",
    "This call's name, unique among the Kaleidoscope calls of one workflow: the run id is "
    "`{{workflow.uid}}-<name>` (letters, digits, `.`, `_`, `-`; at most 91 characters), which names "
    "the run's work folder and manifest parts. `kaleidoscope_task` gives the task's name.",
    "`main`",
    input_default="main",
)
#: The input the pod templates take instead of ``name``: the run id ``main`` makes of it.
RUN_ID_INPUT = "run-id"
#: The run id of one call of ``main``: the workflow's uid, the same for every pod and every retry
#: of the workflow (``argo retry`` included) and never reused by another one, then the call's name,
#: which tells two calls of one workflow apart (their work folders and manifest parts).
RUN_ID = f"{{{{workflow.uid}}}}-{{{{inputs.parameters.{NAME_INPUT.name}}}}}"
#: The longest ``name`` that keeps the run id within what the steps take (128 characters).
MAX_NAME = 128 - len("00000000-0000-0000-0000-000000000000-")


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


def main_inputs() -> list[Parameter]:
    """``main``'s ``inputs.parameters``: the workflow's parameters by name (``spec``, ``source`` and
    ``destination`` required, the others with their defaults), then ``name``."""
    inputs = []
    for parameter in (*PARAMETERS, NAME_INPUT):
        given = Parameter(
            name=parameter.name,
            description=parameter.description,
            enum=list(parameter.enum) if parameter.enum else None,
        )
        # Given as None, Hera would write the text "null": a required input has no default.
        if parameter.input_default is not None:
            given.default = parameter.input_default
        inputs.append(given)
    return inputs


def reference(name: str) -> str:
    """``{{workflow.parameters.<name>}}`` for a known parameter (a typo fails here, not in Argo)."""
    if name not in NAMES:
        raise KeyError(f"no workflow parameter {name!r}; known: {', '.join(NAMES)}")
    return f"{{{{workflow.parameters.{name}}}}}"


def input_reference(name: str) -> str:
    """``{{inputs.parameters.<name>}}`` for a known input of ``main`` or its steps."""
    if name not in (*NAMES, NAME_INPUT.name, RUN_ID_INPUT):
        raise KeyError(f"no input {name!r}; known: {', '.join((*NAMES, NAME_INPUT.name, RUN_ID_INPUT))}")
    return f"{{{{inputs.parameters.{name}}}}}"


def markdown() -> str:
    """The parameters table of docs/argo.md (``main``'s inputs: the same, and ``name``)."""
    lines = ["| parameter | default | values | what it does |", "|---|---|---|---|"]
    for parameter in (*PARAMETERS, NAME_INPUT):
        values = ", ".join(f"`{value}`" for value in parameter.enum) if parameter.enum else "text"
        name = f"`{parameter.name}` (`main`'s input only)" if parameter is NAME_INPUT else f"`{parameter.name}`"
        lines.append(f"| {name} | {parameter.default} | {values} | {parameter.description} |")
    return "\n".join(lines)
