"""Kaleidoscope inside your own Argo pipeline: a Hera task that augments, whose outputs feed the next.

Two ways to run Kaleidoscope's entry template ``main`` as one task of your Hera ``Workflow``:

- **By reference** to the WorkflowTemplate installed in the namespace (``kubectl apply`` of
  ``workflows/kaleidoscope-workflowtemplate.yaml``, or the Helm chart): :func:`kaleidoscope_task`
  with its default ``template_ref`` (``kaleidoscope``/``main``). The pods run as that template
  says (image, resources, retries, service account); your workflow carries only the task.
- **Included**: :func:`add_templates` copies the templates into your workflow, named
  ``kaleidoscope-main``, ``kaleidoscope-shard``, ... beside your own, built from a
  :class:`~workflows.argo.options.BuildOptions`; :func:`kaleidoscope_task` with ``template=``
  the ``main`` it returns calls them. Nothing needs to be installed but the service account and
  the S3 secret.

Either way the task gives ``main``'s outputs, ``inputs``, ``outputs``, ``failed`` (counts),
``manifest`` (the URL of the manifest's current parts, ``.../manifest/<generation>/``) and
``summary`` (the URL of ``summary.json``): ``task.get_parameter("manifest")`` for a downstream
task's argument, or ``"{{tasks.<name>.outputs.parameters.manifest}}"``. Two Kaleidoscope tasks
in one workflow are two runs: each has its own run id, ``{{workflow.uid}}-<task name>``, and
its own outputs; ``main``'s mutex keeps two calls from writing one destination at once.

Example (in a file: Hera's ``@script`` reads its function's source)::

    from hera.workflows import DAG, Workflow, script
    from kaleidoscope.workflows.pipeline import kaleidoscope_task, render

    @script(image="python:3.12")
    def train(manifest: str):
        print("training on", manifest)

    with Workflow(generate_name="train-", entrypoint="pipeline") as w:
        with DAG(name="pipeline"):
            augment = kaleidoscope_task(
                "augment", source="s3://b/photos", destination="s3://b/augmented", spec="transforms: [flip_lr]"
            )
            augment >> train(arguments={"manifest": augment.get_parameter("manifest")})
    print(render(w))

Render the workflow with :func:`render` (YAML) or :func:`manifest` (a dictionary, what Argo's API
takes), not Hera's own ``to_yaml``/``to_dict``, which drop ``pendingTimeout`` from the included
templates (newer than Hera 7.1's models).

Like the builder, this module imports neither OpenCV nor numpy (pyproject's import contracts).
"""

from __future__ import annotations

import contextvars
import re
from pathlib import Path
from typing import Any

from hera.workflows import DAG, Parameter, Task, Workflow
from hera.workflows.models import TemplateRef

from kaleidoscope.steps import spec as spec_module
from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows import builder
from kaleidoscope.workflows.argo.manifest_yaml import dump
from kaleidoscope.workflows.argo.options import BuildOptions, option_problems
from kaleidoscope.workflows.argo.params import MAX_NAME, NAME_INPUT
from kaleidoscope.workflows.argo.templates import MANIFEST_OUTPUTS
from kaleidoscope.workflows.builder import SpecInput, manifest
from kaleidoscope.workflows.rules.names import field_name_problem

__all__ = [
    "DEFAULT_TEMPLATE_REF",
    "OUTPUTS",
    "PREFIX",
    "KaleidoscopeTask",
    "add_templates",
    "kaleidoscope_task",
    "manifest",
    "render",
]

#: The installed WorkflowTemplate's entry template (``workflows/kaleidoscope-workflowtemplate.yaml``,
#: or the Helm chart's release ``kaleidoscope``).
DEFAULT_TEMPLATE_REF = TemplateRef(name="kaleidoscope", template=builder.ENTRYPOINT)
#: What a Kaleidoscope task gives: ``main``'s output parameters.
OUTPUTS = tuple(name for name, _ in MANIFEST_OUTPUTS)
#: What :func:`add_templates` puts before the names of the templates it includes.
PREFIX = "kaleidoscope-"
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Spec checks need locations: these stand for one given as an Argo variable, known only at run time.
_UNKNOWN_SOURCE = "s3://kaleidoscope-unknown/source"
_UNKNOWN_DESTINATION = "s3://kaleidoscope-unknown/destination"


class KaleidoscopeTask(Task):
    """A Hera ``Task`` running Kaleidoscope's ``main``; :meth:`get_parameter` names its outputs."""

    def get_parameter(self, name: str) -> Parameter:
        """One of :data:`OUTPUTS` as a ``Parameter`` whose value refers to it, for another task's arguments.

        Works for a ``templateRef`` task too, whose template Hera cannot see.

        Raises:
            KeyError: ``name`` is not one of :data:`OUTPUTS`.
        """
        if name not in OUTPUTS:
            raise KeyError(f"no output parameter {name!r} of a Kaleidoscope task; it has {', '.join(OUTPUTS)}")
        return Parameter(name=name, value=f"{{{{tasks.{self.name}.outputs.parameters.{name}}}}}")


def _is_variable(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


def _text(where: str, value: object, problems: list[str]) -> str:
    if not isinstance(value, str) or not value:
        problems.append(f"{where}: bad value {value!r}: must be non-empty text (a location, or an Argo variable)")
        return ""
    return value


def _spec_problems(spec: SpecInput, source: str, destination: str) -> tuple[str, list[str]]:
    """The spec's text and every problem with it, checked with the task's locations."""
    try:
        text = builder._spec_text(spec)
    except InvalidInput as error:
        return "", error.problems
    if text.strip().startswith("{{") and text.strip().endswith("}}"):
        return text, []  # the spec itself comes from a variable: the shard step checks it at run time
    path = str(spec) if isinstance(spec, Path) else None
    try:
        spec_module.load(
            path,
            text=None if path else text,
            source=_UNKNOWN_SOURCE if _is_variable(source) else source,
            destination=_UNKNOWN_DESTINATION if _is_variable(destination) else destination,
        )
    except InvalidInput as error:
        return text, [f"spec: {problem}" for problem in error.problems]
    return text, []


def kaleidoscope_task(
    name: str,
    *,
    source: str,
    destination: str,
    spec: SpecInput,
    s3_endpoint: str = "",
    incremental: bool | str = False,
    run_name: str | None = None,
    template: DAG | None = None,
    template_ref: TemplateRef | None = None,
    **task: Any,
) -> KaleidoscopeTask:
    """A task of the DAG being defined (call it inside ``with DAG(...)``) that runs Kaleidoscope.

    It calls the installed WorkflowTemplate's ``main`` by ``templateRef`` (by default), or the
    ``main`` that :func:`add_templates` included in the workflow (``template=``), with the given
    values as its arguments. Its outputs are :data:`OUTPUTS`: ``task.get_parameter("manifest")``.

    Args:
        name: The task's name, unique in its DAG (letters, digits and ``-``).
        source: Where the images are: ``s3://bucket/prefix``, a folder, or an Argo variable such
            as ``"{{workflow.parameters.photos}}"``.
        destination: Where the images, the manifest parts and ``summary.json`` go (not inside
            the source). One call at a time writes a destination (``main``'s mutex).
        spec: The spec as YAML/JSON text, a ``Path`` or a mapping (checked here, as
            ``kaleidoscope validate`` would, with these locations), or an Argo variable holding it.
        s3_endpoint: An S3-compatible endpoint URL (MinIO, SeaweedFS, ...); empty for AWS S3.
            The referenced template's own default does not apply: give it here.
        incremental: Augment only images not yet recorded in the destination, and add them to it.
        run_name: What tells this call apart from the workflow's other Kaleidoscope calls: the run
            id is ``{{workflow.uid}}-<run_name>`` (letters, digits, ``.``, ``_``, ``-``; at most
            91 characters). Defaults to ``name``; give one per item when the task loops (e.g.
            ``"augment-{{item}}"``), or the items' runs would share an id.
        template: The ``main`` returned by :func:`add_templates`; calls it instead of a reference.
        template_ref: The WorkflowTemplate and template to call; defaults to
            :data:`DEFAULT_TEMPLATE_REF` (``kaleidoscope``/``main``). For a ClusterWorkflowTemplate
            set ``cluster_scope=True``.
        **task: Any other field of Hera's ``Task``: ``depends``, ``when``, ``continue_on``, ...

    Returns:
        The Hera task, already added to the DAG being defined.

    Raises:
        InvalidInput: Every problem with the arguments and the spec at once, each naming its field.
    """
    problems: list[str] = []
    why = field_name_problem(name)
    if why:
        problems.append(f"name: bad value {name!r}: {why}")
    source = _text("source", source, problems)
    destination = _text("destination", destination, problems)
    if not isinstance(s3_endpoint, str):
        problems.append(f"s3_endpoint: bad value {s3_endpoint!r}: must be text (empty for AWS S3)")
    if isinstance(incremental, bool):
        incremental_text = "true" if incremental else "false"
    elif isinstance(incremental, str) and (incremental in ("true", "false") or _is_variable(incremental)):
        incremental_text = incremental
    else:
        problems.append(f"incremental: bad value {incremental!r}: true, false or an Argo variable")
        incremental_text = ""
    run = name if run_name is None else run_name
    if not _is_variable(run) and (not isinstance(run, str) or not _RUN_NAME.match(run) or len(run) > MAX_NAME):
        problems.append(
            f"{'name' if run_name is None else 'run_name'}: bad value {run!r}: the run id is "
            f"{{{{workflow.uid}}}}-<it>: letters, digits, '.', '_' and '-', starting with a letter or digit, "
            f"at most {MAX_NAME} characters"
        )
    if template is not None and template_ref is not None:
        problems.append("template, template_ref: give one: the included main, or a reference to an installed one")
    if template is not None and not isinstance(template, DAG):
        problems.append(f"template: bad value {template!r}: the main that add_templates returned")
    text, spec_problems = _spec_problems(spec, source, destination) if source and destination else ("", [])
    problems += spec_problems
    if problems:
        raise InvalidInput(problems)
    arguments = {
        "spec": text,
        "source": source,
        "destination": destination,
        "s3-endpoint": s3_endpoint,
        "incremental": incremental_text,
        NAME_INPUT.name: run,
    }
    if template is not None:
        return KaleidoscopeTask(name=name, template=template, arguments=arguments, **task)
    return KaleidoscopeTask(name=name, template_ref=template_ref or DEFAULT_TEMPLATE_REF, arguments=arguments, **task)


def add_templates(workflow: Workflow, options: BuildOptions | None = None, *, prefix: str = PREFIX) -> DAG:
    """Add Kaleidoscope's templates to ``workflow``, named ``<prefix>main``, ``<prefix>shard``, ...

    The templates are those of the WorkflowTemplate the builder renders for ``options``: the pod
    templates carry their image, resources, retries, credentials, service account, security
    context and metrics; ``main`` its inputs, outputs, ``parallelism`` and the destination's
    mutex. The workflow-level settings stay your workflow's own (deadline, pod GC, TTL).

    Call it anywhere, even inside the workflow's or a DAG's ``with`` block.

    Args:
        workflow: Your Hera ``Workflow`` (or ``WorkflowTemplate``, ``CronWorkflow``).
        options: How the pods run; defaults to ``BuildOptions()``. Its ``name``, locations,
            schedule-related and workflow-level fields do not apply here.
        prefix: Put before each template's name, so none clashes with your own.

    Returns:
        The included ``main``, for :func:`kaleidoscope_task`'s ``template``.

    Raises:
        InvalidInput: A problem with the options or the prefix, or a template of that name
            already in the workflow.
    """
    options = options or BuildOptions()
    problems = option_problems(options)
    why = field_name_problem(f"{prefix}manifest") if isinstance(prefix, str) else "must be text"
    if why:
        problems.append(f"prefix: bad value {prefix!r}: {why}")
    if problems:
        raise InvalidInput(problems)
    # Built under a fresh Hera context (a scratch Workflow of their own), whatever context is open
    # where this is called, then handed to the user's workflow.
    main, templates = contextvars.Context().run(_build, options, prefix)
    taken = {str(template.name) for template in workflow.templates or []} & {
        str(template.name) for template in templates
    }
    if taken:
        raise InvalidInput(
            f"prefix: the workflow already has templates named {', '.join(sorted(taken))}: give another prefix"
        )
    workflow.templates = [*(workflow.templates or []), *templates]
    return main


def _build(options: BuildOptions, prefix: str) -> tuple[DAG, list]:
    with Workflow(name="kaleidoscope-templates") as scratch:
        main = builder.templates(options, prefix=prefix)
    templates = sorted(scratch.templates, key=lambda template: template is not main)
    return main, templates


def render(workflow: Workflow) -> str:
    """The workflow's manifest as YAML, with what Hera's models drop (see :func:`manifest`)."""
    return dump(manifest(workflow))
