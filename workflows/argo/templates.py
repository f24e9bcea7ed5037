"""The three container templates: ``shard``, ``augment`` and ``manifest``.

Each runs ``kaleidoscope step <name>`` in the project's image, as a non-root user with a
read-only root filesystem, no privilege escalation and no capabilities, with an ``emptyDir`` at
``/tmp`` (the steps' temporary files and the small result files Argo reads output parameters
from). S3 credentials reach the pods only through ``secretKeyRef``, or not at all (IRSA).

Each takes what it needs as inputs (``spec``, ``source``, ``destination``, ``s3-endpoint``,
``run-id``, and ``incremental`` or the shard it augments), which the entry template ``main``
passes: nothing here reads ``{{workflow.parameters.*}}``, so the templates run the same as a
task of another workflow. Values are passed as ``--flag=value``, one argument each: a spec that
starts with ``---`` would otherwise be read by argparse as an option.

Each pod template carries the pod security context and the service account that the workflow's
spec also sets, so the pods run the same under another workflow's spec; fails its node when its pod stays
Pending past ``pendingTimeout``; retries avoid the nodes a step failed on; a retried augment pod
gets more memory (:func:`memory_patch`); every pod carries the ``app.kubernetes.io`` labels
``name``, ``instance``, ``part-of`` and ``component`` (the step), and its template the step's
metrics (:mod:`.metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hera.workflows import Container, EmptyDirVolume, Parameter, RetryStrategy, SecretEnv
from hera.workflows.models import (
    Backoff,
    Capabilities,
    IntOrString,
    PodSecurityContext,
    Quantity,
    RetryAffinity,
    RetryNodeAntiAffinity,
    SeccompProfile,
    SecurityContext,
    Template,
    ValueFrom,
)

from kaleidoscope.steps.errors import NOT_RETRIED
from kaleidoscope.workflows.argo.metrics import template_metrics
from kaleidoscope.workflows.argo.options import BuildOptions
from kaleidoscope.workflows.argo.params import RUN_ID, RUN_ID_INPUT, input_reference
from kaleidoscope.workflows.rules.quantities import format_bytes, parse_bytes

#: Where the steps write the files Argo reads output parameters from (on the /tmp emptyDir).
OUTPUT_DIR = "/tmp/kaleidoscope/out"
SHARDS_FILE = f"{OUTPUT_DIR}/shards.json"
AUGMENT_FILE = f"{OUTPUT_DIR}/augment.json"
#: The manifest step's output parameters: one plain-text file each under OUTPUT_DIR.
MANIFEST_OUTPUTS = (
    ("inputs", "Images found in the source (new ones only, in incremental mode)."),
    ("outputs", "Images written to the destination."),
    ("failed", "Images that could not be augmented; failures/ lists each with its error."),
    ("manifest", "URL of the manifest's current parts (manifest/<generation>/), one record per output image."),
    ("summary", "URL of summary.json, the run's counts, failures and settings."),
)
DISPLAY_NAME = "workflows.argoproj.io/display-name"
#: Retry a failed pod unless its exit code says no retry can help (invalid input, a permanent
#: failure): the contract in :mod:`steps.errors`. Killed pods (OOM, eviction) and outages retry.
RETRY_UNLESS_FINAL = " && ".join(f"asInt(lastRetry.exitCode) != {code}" for code in NOT_RETRIED)
#: Argo names the main container of every container template ``main`` in the pod
#: (workflow/controller/workflowpod.go), whatever the template calls it: a pod spec patch names that.
MAIN_CONTAINER = "main"


@dataclass(kw_only=True)
class StepContainer(Container):
    """A Hera ``Container`` that can also set the template's own ``annotations``, and fields that
    Hera 7.1's models lack.

    Hera maps a Container's ``annotations`` to the pod's metadata; Argo reads node display names
    from the template's ``annotations`` field, which Hera 7 does not expose. ``unmodelled`` holds
    template fields newer than Hera 7.1's models (``pendingTimeout``, Argo 4.1): a model would drop
    them, so :func:`workflows.builder.manifest` adds them to the manifest by template name.
    """

    template_annotations: dict[str, str] | None = None
    unmodelled: dict[str, Any] = field(default_factory=dict)

    def _build_template(self) -> Template:
        template = super()._build_template()
        template.annotations = self.template_annotations
        return template


#: What every step takes from ``main``, as ``(input, flag)``.
_COMMON_INPUTS = (
    ("spec", "--spec-text", "The spec, YAML or JSON."),
    ("source", "--source", "Where the images are."),
    ("destination", "--destination", "Where the images, the manifest and summary.json go."),
    ("s3-endpoint", "--s3-endpoint", "S3-compatible endpoint URL; empty for AWS."),
    (RUN_ID_INPUT, "--run-id", "The run's id: its work folder and manifest parts (main: workflow uid and name)."),
)
_INCREMENTAL = ("incremental", "--incremental", "true: only images not yet recorded.")


def _inputs(*extra: tuple[str, str, str]) -> list[Parameter]:
    return [Parameter(name=name, description=text) for name, _, text in (*_COMMON_INPUTS, *extra)]


def _args(step: str, *extra: tuple[str, str, str]) -> list[str]:
    return ["step", step] + [f"{flag}={input_reference(name)}" for name, flag, _ in (*_COMMON_INPUTS, *extra)]


def step_arguments(step: str) -> dict[str, str]:
    """What ``main`` passes to ``step``: its own inputs by name, and the run id it makes."""
    names = [name for name, _, _ in _COMMON_INPUTS] + (["incremental"] if step in ("shard", "manifest") else [])
    return {name: RUN_ID if name == RUN_ID_INPUT else input_reference(name) for name in names}


def pod_security_context(options: BuildOptions) -> PodSecurityContext:
    """The pods' security context: the image's non-root user, its group, seccomp RuntimeDefault."""
    uid = options.run_as_user
    return PodSecurityContext(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        fs_group=uid,
        seccomp_profile=SeccompProfile(type="RuntimeDefault"),
    )


def _credentials(options: BuildOptions) -> list[SecretEnv] | None:
    if options.s3_secret is None:
        return None  # IRSA / workload identity: the SDK finds credentials on its own
    secret = options.s3_secret
    return [
        SecretEnv(name="AWS_ACCESS_KEY_ID", secret_name=secret, secret_key="accessKeyId"),
        SecretEnv(name="AWS_SECRET_ACCESS_KEY", secret_name=secret, secret_key="secretAccessKey"),
        # Optional: the region may as well come from the endpoint's default or the node.
        SecretEnv(name="AWS_REGION", secret_name=secret, secret_key="region", optional=True),
    ]


def labels(options: BuildOptions, component: str) -> dict[str, str]:
    """The ``app.kubernetes.io`` labels of a run (component ``workflow``) or a step's pods."""
    return {
        "app.kubernetes.io/name": "kaleidoscope",
        "app.kubernetes.io/instance": options.instance_name(),
        "app.kubernetes.io/part-of": options.part_of_name(),
        "app.kubernetes.io/component": component,
    }


def _container(step: str, options: BuildOptions, prefix: str, args: list[str], **kwargs) -> StepContainer:
    return StepContainer(
        name=prefix + step,
        image=options.image,
        image_pull_policy=options.image_pull_policy,
        command=["kaleidoscope"],
        args=args,
        env=_credentials(options),
        resources=options.resources_for(step),
        volumes=[EmptyDirVolume(name="tmp", mount_path="/tmp", size_limit=Quantity(options.tmp_size))],
        security_context=SecurityContext(
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            capabilities=Capabilities(drop=["ALL"]),
        ),
        labels=labels(options, step),
        pod_security_context=pod_security_context(options),
        service_account_name=options.service_account,
        metrics=template_metrics(step, options.instance_name()) if options.metrics else None,
        unmodelled={"pendingTimeout": options.pending_timeout} if options.pending_timeout else {},
        **kwargs,
    )


def shard_template(options: BuildOptions, prefix: str = "") -> StepContainer:
    """List the source, write the shard key lists, emit the shard references as ``shards``."""
    return _container(
        "shard",
        options,
        prefix,
        _args("shard", _INCREMENTAL) + [f"--output={SHARDS_FILE}"],
        inputs=_inputs(_INCREMENTAL),
        retry_strategy=_retry(options),
        outputs=[
            Parameter(
                name="shards",
                description="The shards, [{index, of, images}, ...]: the augment fan-out's items.",
                value_from=ValueFrom(path=SHARDS_FILE),
            )
        ],
    )


def _retry(options: BuildOptions) -> RetryStrategy | None:
    """Every step is safe to retry: shard rewrites the same lists, augment the same bytes (and
    skips what is stored), and manifest rebuilds its output from the parts, dropping this run's
    own records first when it appends, so a retry never duplicates a record."""
    if not options.retries:
        return None
    return RetryStrategy(
        limit=options.retries,
        retry_policy="Always",  # also pods lost to eviction or a drained node
        expression=RETRY_UNLESS_FINAL,
        backoff=Backoff(duration=options.retry_backoff, factor=IntOrString(2)),
        # Not the node it failed on (a bad disk, a noisy neighbour): Argo adds a required node
        # anti-affinity on kubernetes.io/hostname to every failed attempt's node.
        affinity=RetryAffinity(node_anti_affinity=RetryNodeAntiAffinity()) if options.retry_other_node else None,
    )


def memory_sizes(base: str, cap: str) -> list[str]:
    """The memory of attempt 0, 1, ...: ``base`` doubled on each retry, up to ``cap`` (its last item)."""
    start, most = parse_bytes(base), parse_bytes(cap)
    sizes = [start]
    while sizes[-1] < most:
        sizes.append(min(sizes[-1] * 2, most))
    return [base, *(format_bytes(size) for size in sizes[1:])]


def _by_retry(sizes: list[str]) -> str:
    """An Argo expression tag giving ``sizes[retries]``, the last size for any later retry.

    ``retries`` is the attempt's number (0 for the first), which Argo sets for a template with a
    ``retryStrategy`` and substitutes into its ``podSpecPatch`` before each attempt's pod is made
    (``TestRetriesVariableInPodSpecPatch`` in workflow/controller/operator_test.go).
    """
    if len(sizes) == 1:
        return sizes[0]
    listed = ",".join(f"'{size}'" for size in sizes[:-1])
    return f"{{{{=asInt(retries) < {len(sizes) - 1} ? [{listed}][asInt(retries)] : '{sizes[-1]}'}}}}"


def memory_patch(options: BuildOptions) -> str | None:
    """The augment template's ``podSpecPatch``: each retry doubles the memory request and limit of
    the attempt before it, up to ``augment_memory_cap``; None when nothing would grow.

    Every retry grows, whatever ended the attempt before: Argo's ``lastRetry`` tells only of that
    attempt, and a shard killed for memory and then lost to a network error must not drop back.
    The main container is ``main`` in the pod (:data:`MAIN_CONTAINER`).
    """
    augment = options.resources_for("augment")
    if not options.retries or options.augment_memory_cap is None or augment.memory_limit is None:
        return None
    limits = memory_sizes(str(augment.memory_limit), options.augment_memory_cap)
    if len(limits) == 1:
        return None
    resources = f'"limits":{{"memory":"{_by_retry(limits)}"}}'
    if augment.memory_request is not None:
        requests = memory_sizes(str(augment.memory_request), options.augment_memory_cap)
        resources += f',"requests":{{"memory":"{_by_retry(requests)}"}}'
    return f'{{"containers":[{{"name":"{MAIN_CONTAINER}","resources":{{{resources}}}}}]}}'


def augment_template(options: BuildOptions, prefix: str = "") -> StepContainer:
    """Augment one shard; progress goes to $ARGO_PROGRESS_FILE, which Argo sets and reads."""
    retry = _retry(options)
    return _container(
        "augment",
        options,
        prefix,
        _args("augment")
        + [
            "--shard={{inputs.parameters.index}}",
            f"--threads={options.augment_threads()}",
            f"--output={AUGMENT_FILE}",
        ],
        inputs=[
            *_inputs(),
            Parameter(name="index", description="Shard index, from the shard step."),
            Parameter(name="of", description="Number of shards in the run."),
        ],
        outputs=[
            Parameter(
                name="result",
                description="This shard's counts: {index, inputs, outputs, failed}.",
                value_from=ValueFrom(path=AUGMENT_FILE),
            )
        ],
        retry_strategy=retry,
        pod_spec_patch=memory_patch(options),
        template_annotations={DISPLAY_NAME: "shard-{{inputs.parameters.index}}-of-{{inputs.parameters.of}}"},
    )


def manifest_template(options: BuildOptions, prefix: str = "", global_outputs: bool = False) -> StepContainer:
    """Publish the shards' manifest parts and summary.json; expose counts and URLs as outputs.

    ``main`` passes them on as its own outputs. With ``global_outputs`` they are also lifted to
    the workflow's outputs (``globalName``), shown on the workflow's summary: only where the
    template runs once per workflow, or two calls would overwrite each other's. The pod's own
    outputs carry it, not ``main``'s: Argo lifts a DAG node's outputs from the DAG that runs it as
    a task (``executeDAG`` in workflow/controller/dag.go), so those of the entrypoint's DAG never.
    """
    return _container(
        "manifest",
        options,
        prefix,
        _args("manifest", _INCREMENTAL) + [f"--output-dir={OUTPUT_DIR}"],
        inputs=_inputs(_INCREMENTAL),
        retry_strategy=_retry(options),
        outputs=[
            Parameter(
                name=name,
                description=text,
                global_name=name if global_outputs else None,
                value_from=ValueFrom(path=f"{OUTPUT_DIR}/{name}"),
            )
            for name, text in MANIFEST_OUTPUTS
        ],
    )
