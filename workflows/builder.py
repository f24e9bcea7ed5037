"""Build Kaleidoscope's Argo workflow with Hera: a Workflow, a WorkflowTemplate or a CronWorkflow.

The entry template ``main`` is a DAG: ``shard`` (one pod: lists the source, writes the shard key
lists, emits the shard references) → ``augment`` (one pod per shard, ``withParam`` over those
references) → ``manifest`` (one pod: merges the parts, exposes the counts and the manifest's
URL). ``main`` takes its values as inputs and gives the manifest step's outputs as its own
(:func:`templates`), so it runs the same as the entrypoint, whose inputs Argo fills from the
workflow's parameters by name, and as a task of a user's own workflow
(:mod:`~workflows.pipeline`). The spec travels as the workflow parameter ``spec`` so the Argo UI
can edit it; the shard step validates it first and fails fast. ``source`` and ``destination``
are required parameters: a run names them (a CronWorkflow carries them). A mutex named after the
destination, on ``main``, lets one call at a time write it; a workflow-level one keeps a second
run of the same destination Pending until the first ends.

Example:
    >>> from workflows import builder
    >>> options = builder.BuildOptions(namespace="argo", s3_secret=None)   # IRSA
    >>> w = builder.workflow(open("spec.yaml").read(), options)            # a hera Workflow
    >>> print(builder.render(open("spec.yaml").read(), "cronworkflow",
    ...                      schedule=builder.CronSchedule(schedules=["0 3 * * *"])))

Neither this module nor ``steps.spec``, which validates the spec, imports OpenCV or numpy
(pyproject's import contracts hold it), so rendering and submitting never load an image library.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml
from hera.workflows import DAG, CronWorkflow, Parameter, Task, Workflow, WorkflowTemplate
from hera.workflows.models import (
    Mutex,
    PodGC,
    Synchronization,
    TTLStrategy,
    ValueFrom,
    WorkflowMetadata,
)

from kaleidoscope.steps import spec as spec_module
from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.argo.describe import DESCRIPTION, TITLE, describe
from kaleidoscope.workflows.argo.manifest_yaml import dump
from kaleidoscope.workflows.argo.metrics import workflow_metrics
from kaleidoscope.workflows.argo.options import (
    DEFAULT_IMAGE,
    DEFAULT_RESOURCES,
    DEFAULT_S3_SECRET,
    DEFAULT_SERVICE_ACCOUNT,
    BuildOptions,
    CronSchedule,
    option_problems,
    schedule_problems,
)
from kaleidoscope.workflows.argo.params import input_reference, main_inputs, reference, workflow_arguments
from kaleidoscope.workflows.argo.templates import (
    MANIFEST_OUTPUTS,
    StepContainer,
    augment_template,
    labels,
    manifest_template,
    pod_security_context,
    shard_template,
    step_arguments,
)

__all__ = [
    "DEFAULT_IMAGE",
    "DEFAULT_RESOURCES",
    "DEFAULT_S3_SECRET",
    "DEFAULT_SERVICE_ACCOUNT",
    "KINDS",
    "MUTEX_NAME",
    "RUN_MUTEX_NAME",
    "BuildOptions",
    "CronSchedule",
    "build",
    "cron_workflow",
    "manifest",
    "render",
    "templates",
    "workflow",
    "workflow_template",
]

KINDS = ("workflow", "workflowtemplate", "cronworkflow")
ENTRYPOINT = "main"
#: The component label of a run; its pods carry their step's name.
RUN_COMPONENT = "workflow"
#: The mutex of every call of ``main``, held from when its node starts to when it ends: one call
#: at a time per destination, whatever workflow, template, schedule or namespace-wide name runs it
#: (the user's own pipeline included). Argo substitutes a template's inputs into its
#: ``synchronization`` before it takes the lock (``executeTemplate`` in
#: workflow/controller/operator.go processes the template with its arguments first). The name
#: resolves as the workflow-level mutex of earlier versions did, so their runs and these exclude
#: one another. The ``/`` and ``:`` of a destination are fine in a mutex name in Argo 4: the lock's
#: key is ``<namespace>/Mutex/<name>`` (``<namespace>/Database/<name>`` for a database mutex), and
#: ``DecodeLockName`` (workflow/sync/lock_name.go) splits it with ``strings.SplitN(key, "/", 3)``,
#: so everything after the second ``/`` is the name, slashes and colons included.
MUTEX_NAME = f"kaleidoscope-{input_reference('destination')}"
#: The workflow-level mutex of a run of the builder's workflow, taken before its first node: a
#: second run of the same destination then waits Pending, its ``activeDeadlineSeconds`` not yet
#: running (Argo starts a workflow's clock when it leaves Pending), instead of Running with ``main``
#: waiting. Its name can never be :data:`MUTEX_NAME`'s (``kaleidoscope.`` against ``kaleidoscope-``):
#: Argo's holder of a workflow-level lock is the workflow and that of a template-level one its node
#: (``getHolderKey`` in workflow/sync/sync_manager.go), so one name taken at both levels would make
#: the run wait for itself. Every workflow takes this one before the other, so the two never
#: deadlock. Argo substitutes the workflow's parameters into the workflow-level spec,
#: ``synchronization`` included (``substituteGlobalVariables`` in operator.go), before it takes it.
RUN_MUTEX_NAME = f"kaleidoscope.run-{reference('destination')}"
#: What a run's title and description add to the template's: its own locations. Argo substitutes
#: ``spec.workflowMetadata`` with the rest of the workflow-level spec, then copies its
#: annotations onto the run (``updateWorkflowMetadata`` in operator.go); the object's own
#: ``metadata.annotations`` are never substituted, so they describe the template, not a run.
RUN_TITLE = f" → {reference('destination')}"
RUN_DESCRIPTION = f" This run: {reference('source')} → {reference('destination')}."

SpecInput = str | Path | Mapping[str, Any]


def _spec_text(spec: SpecInput) -> str:
    if isinstance(spec, Path):
        try:
            return spec.read_text(encoding="utf-8")
        except OSError as error:
            raise InvalidInput(f"{spec}: cannot read the spec: {error.strerror or error}") from error
    if isinstance(spec, Mapping):
        return yaml.safe_dump(dict(spec), sort_keys=False, allow_unicode=True)
    if isinstance(spec, str):
        return spec
    raise InvalidInput(f"spec: bad value of type {type(spec).__name__}: give the YAML/JSON text, a Path or a mapping")


def _check(spec: SpecInput, options: BuildOptions, schedule: CronSchedule | None):
    """The spec's text and its validated form; every problem of spec, options and schedule at once."""
    problems = option_problems(options) + (schedule_problems(schedule) if schedule is not None else [])
    parsed = None
    try:
        text = _spec_text(spec)
        parsed = spec_module.load(
            # A file's errors name the file (with line and column for YAML syntax).
            str(spec) if isinstance(spec, Path) else None,
            text=None if isinstance(spec, Path) else text,
            # Only text options reach the spec; a bad type is already reported above.
            source=options.source if isinstance(options.source, str) and options.source else None,
            destination=options.destination if isinstance(options.destination, str) and options.destination else None,
        )
    except InvalidInput as error:
        problems = error.problems + problems
    if problems:
        raise InvalidInput(problems)
    return text, parsed


def _run_words(annotations: dict[str, str]) -> dict[str, str]:
    """A run's title and description: the template's, with the run's own locations."""
    return {TITLE: annotations[TITLE] + RUN_TITLE, DESCRIPTION: annotations[DESCRIPTION] + RUN_DESCRIPTION}


def _locations(parsed, options: BuildOptions, carried: bool) -> tuple[str | None, str | None]:
    """The values of the ``source`` and ``destination`` parameters; None renders no value.

    A Workflow or WorkflowTemplate leaves them to each run (``-p source=... -p
    destination=...``) unless the options give them: the spec's locations are an example's, and a
    run that silently took them would write where nobody asked. A CronWorkflow runs unattended,
    and Argo refuses one whose parameter has no value (``validate.CronWorkflow`` validates its
    workflow as a submission): it carries the options' locations, else the spec's, which its
    manifest then shows. ``parsed`` already holds the options' locations over the spec's.
    """
    if carried:
        return parsed.source, parsed.destination
    return options.source or None, options.destination or None


def _synchronization(options: BuildOptions, name: str) -> Synchronization | None:
    """A mutex named ``name`` (Argo 4's list form), or None when the options turn it off."""
    if not options.mutex:
        return None
    return Synchronization(mutexes=[Mutex(name=name, database=True if options.mutex_database else None)])


def templates(options: BuildOptions, *, prefix: str = "", global_outputs: bool = False) -> DAG:
    """Kaleidoscope's templates, added to the Hera workflow whose context is open: ``main`` first.

    ``main`` takes :func:`~workflows.argo.params.main_inputs` (``spec``, ``source`` and
    ``destination`` required; ``s3-endpoint``, ``incremental`` and ``name`` with defaults), passes
    them to ``shard``, ``augment`` and ``manifest`` with the run id
    ``{{workflow.uid}}-{{inputs.parameters.name}}``, and gives the manifest step's outputs
    (``inputs``, ``outputs``, ``failed``, ``manifest``, ``summary``) as its own. It carries the
    destination's mutex (:data:`MUTEX_NAME`) and ``parallelism``; each pod template its security
    context and metrics, so all of it holds whatever workflow runs ``main``.

    Args:
        options: How the pods run.
        prefix: Put before every template's name (``kaleidoscope-main``, ...), so the templates
            go into a workflow beside its own without a clash.
        global_outputs: Also lift the manifest step's outputs to the workflow's outputs
            (``globalName``): only where ``main`` runs once per workflow, or two calls would
            overwrite each other's.

    Returns:
        The Hera ``DAG`` template ``main``, for a task's ``template``.
    """
    shard, augment, manifest_step = (
        shard_template(options, prefix),
        augment_template(options, prefix),
        manifest_template(options, prefix, global_outputs),
    )
    outputs = [
        Parameter(
            name=name,
            description=text,
            value_from=ValueFrom(parameter=f"{{{{tasks.manifest.outputs.parameters.{name}}}}}"),
        )
        for name, text in MANIFEST_OUTPUTS
    ]
    with DAG(
        name=prefix + ENTRYPOINT,
        inputs=main_inputs(),
        outputs=outputs,
        parallelism=options.parallelism,
        synchronization=_synchronization(options, MUTEX_NAME),
    ) as main:
        # Inside a DAG Hera returns a Task; its signature also admits a Step or None.
        shards = cast(Task, shard(name="shard", arguments=step_arguments("shard")))
        parts = cast(
            Task,
            augment(
                name="augment",
                arguments={**step_arguments("augment"), "index": "{{item.index}}", "of": "{{item.of}}"},
                with_param="{{tasks.shard.outputs.parameters.shards}}",
            ),
        )
        merged = cast(Task, manifest_step(name="manifest", arguments=step_arguments("manifest")))
        shards >> parts
        parts >> merged
    return main


AnyWorkflow = TypeVar("AnyWorkflow", bound=Workflow)


def _build(
    cls: type[AnyWorkflow],
    spec: SpecInput,
    options: BuildOptions,
    schedule: CronSchedule | None,
    carry_locations: bool,
    **identity,
) -> AnyWorkflow:
    text, parsed = _check(spec, options, schedule)
    incremental = options.incremental if options.incremental is not None else schedule is not None
    annotations = describe(parsed, schedule, incremental)
    source, destination = _locations(parsed, options, carry_locations)
    run_labels = labels(options, RUN_COMPONENT)
    # The object's own labels: a WorkflowTemplate or CronWorkflow is no run, so no component.
    own_labels = {key: value for key, value in run_labels.items() if key != "app.kubernetes.io/component"}
    kwargs: dict[str, Any] = dict(
        annotations=annotations,
        labels=own_labels,
        namespace=options.namespace,
        entrypoint=ENTRYPOINT,
        arguments=workflow_arguments(
            {
                "spec": text,
                "source": source,
                "destination": destination,
                "s3-endpoint": options.s3_endpoint,
                "incremental": "true" if incremental else "false",
            }
        ),
        service_account_name=options.service_account,
        parallelism=options.parallelism,
        active_deadline_seconds=options.active_deadline_seconds,
        pod_gc=PodGC(strategy=options.pod_gc),
        # A CronWorkflow's runs are kept by its history limits alone: a TTL shorter than the
        # limits times the schedule's period would delete them first (one run a day, kept one day,
        # and successfulJobsHistoryLimit: 3 never counts past one).
        ttl_strategy=None
        if schedule is not None
        else TTLStrategy(
            seconds_after_success=options.ttl_seconds_after_success,
            seconds_after_failure=options.ttl_seconds_after_failure,
        ),
        metrics=workflow_metrics(options.instance_name()) if options.metrics else None,
        security_context=pod_security_context(options),
        node_selector=dict(options.node_selector) or None,
        tolerations=list(options.tolerations) or None,
        synchronization=_synchronization(options, RUN_MUTEX_NAME),
        # Every run, whatever created it, carries the labels and its own title and description.
        workflow_metadata=WorkflowMetadata(annotations=_run_words(annotations), labels=run_labels),
        **identity,
    )
    with cls(**kwargs) as w:
        # A WorkflowTemplate's main may run twice in one workflow (two templateRef tasks): only a
        # Workflow's or CronWorkflow's, the entrypoint of a run nothing else calls, lifts its outputs.
        templates(options, global_outputs=cls is not WorkflowTemplate)
    # The entrypoint first, so the YAML reads from the DAG down to the steps it runs.
    w.templates.sort(key=lambda template: template.name != ENTRYPOINT)
    return w


def workflow(spec: SpecInput, options: BuildOptions | None = None, *, carry_locations: bool = False) -> Workflow:
    """A Workflow (``generateName: <name>-``), to submit with ``-p source=... -p destination=...``.

    Args:
        spec: The spec as YAML/JSON text (kept verbatim, comments included, as the ``spec``
            parameter's value), a ``Path`` to read it from, or a mapping.
        options: How the pods run; defaults to ``BuildOptions()``.
        carry_locations: Give ``source`` and ``destination`` the options' locations, else the
            spec's, as a run submitted right away needs (``kaleidoscope submit``); by default
            they are left without a value unless the options give them.

    Raises:
        InvalidInput: Listing every problem in the spec and options, each naming its field.
    """
    options = options or BuildOptions()
    return _build(Workflow, spec, options, None, carry_locations, generate_name=f"{options.name}-")


def workflow_template(spec: SpecInput, options: BuildOptions | None = None) -> WorkflowTemplate:
    """A WorkflowTemplate named ``options.name``, for ``argo submit --from workflowtemplate/<name>``.

    Args and errors as :func:`workflow`.
    """
    options = options or BuildOptions()
    return _build(WorkflowTemplate, spec, options, None, False, name=options.name)


def cron_workflow(
    spec: SpecInput, options: BuildOptions | None = None, schedule: CronSchedule | None = None
) -> CronWorkflow:
    """A CronWorkflow named ``options.name`` running incrementally on ``schedule``.

    Its ``source`` and ``destination`` parameters carry the options' locations, else the spec's.

    Args:
        spec: As for :func:`workflow`.
        options: As for :func:`workflow`; ``incremental`` defaults to true here.
        schedule: When it runs; defaults to ``CronSchedule()`` (02:00 UTC daily, Forbid).

    Raises:
        InvalidInput: Listing every problem in the spec, options and schedule.
    """
    options = options or BuildOptions()
    schedule = schedule or CronSchedule()
    return _build(
        CronWorkflow,
        spec,
        options,
        schedule,
        True,
        name=options.name,
        # A malformed value is reported by _check; Hera only needs a list here.
        schedules=list(schedule.schedules) if isinstance(schedule.schedules, (list, tuple)) else None,
        timezone=schedule.timezone,
        concurrency_policy=schedule.concurrency_policy,
        starting_deadline_seconds=schedule.starting_deadline_seconds,
        successful_jobs_history_limit=schedule.successful_jobs_history_limit,
        failed_jobs_history_limit=schedule.failed_jobs_history_limit,
    )


def build(
    spec: SpecInput,
    kind: str = "workflow",
    options: BuildOptions | None = None,
    schedule: CronSchedule | None = None,
) -> Workflow:
    """:func:`workflow`, :func:`workflow_template` or :func:`cron_workflow` by ``kind``.

    Raises:
        InvalidInput: An unknown kind, a schedule given for another kind than cronworkflow, or
            any problem in the spec, options and schedule.
    """
    if kind not in KINDS:
        raise InvalidInput(f"kind: bad value {kind!r}: must be one of {', '.join(KINDS)}")
    if kind == "cronworkflow":
        return cron_workflow(spec, options, schedule)
    if schedule is not None:
        raise InvalidInput(f"schedule: only a cronworkflow has a schedule, not a {kind}")
    return workflow(spec, options) if kind == "workflow" else workflow_template(spec, options)


def manifest(built: Workflow) -> dict:
    """The manifest of a built Hera object, as the plain dictionary Argo's API takes.

    What Hera 7.1's models cannot hold (``pendingTimeout``, newer than them) is added here, to the
    template of each :class:`~workflows.argo.templates.StepContainer` that carries it: use this (or
    :func:`render`), not the Hera object's own ``to_dict``/``to_yaml``/``create``, for the whole
    manifest.
    """
    document = built.to_dict()
    spec = document["spec"]["workflowSpec"] if document.get("kind") == "CronWorkflow" else document["spec"]
    extra = {
        template.name: template.unmodelled
        for template in built.templates or []
        if isinstance(template, StepContainer) and template.unmodelled
    }
    for template in spec.get("templates") or []:
        template.update(extra.get(template.get("name"), {}))
    return document


def render(
    spec: SpecInput,
    kind: str = "workflow",
    options: BuildOptions | None = None,
    schedule: CronSchedule | None = None,
) -> str:
    """The manifest as YAML, what ``kaleidoscope render`` prints and ``workflows/`` commits."""
    return dump(manifest(build(spec, kind, options, schedule)))
