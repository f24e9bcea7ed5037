"""Options of the Argo workflow builder, with every production default in one place.

:class:`BuildOptions` says how the pods run (image, resources, retries, credentials, limits);
:class:`CronSchedule` says when a CronWorkflow runs. Both are plain frozen dataclasses so a
user can ``dataclasses.replace`` one field; :func:`option_problems` and
:func:`schedule_problems` check them before anything is built, each problem naming the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from hera.workflows import Resources
from hera.workflows.models import Toleration

from kaleidoscope.workflows.argo.cron import cron_problems, prefix_problems, timezone_problems
from kaleidoscope.workflows.rules import durations, names
from kaleidoscope.workflows.rules.quantities import QUANTITY, parse_bytes

#: The container image the steps run in (``images/`` holds its Dockerfile).
DEFAULT_IMAGE = "ghcr.io/kaleidoscope/kaleidoscope:0.1.0"
#: The Secret holding S3 credentials (keys ``accessKeyId``, ``secretAccessKey``, optional ``region``).
DEFAULT_S3_SECRET = "kaleidoscope-s3"
#: The service account the pods run as; ``workflows/rbac.yaml`` creates it with the executor's Role.
DEFAULT_SERVICE_ACCOUNT = "kaleidoscope"
#: How long a pod may stay Pending (unschedulable, image not pulled, a Secret missing) before Argo
#: fails its node: longer than a cluster autoscaler takes to add a node (cluster-autoscaler gives up
#: on a node that has not registered after --max-node-provision-time, 15 minutes by default, and
#: then tries another node group), so a pod waiting for a new node is never failed for it.
DEFAULT_PENDING_TIMEOUT = "20m"
#: The most memory a retried augment pod is given; each retry doubles its request and limit up to it.
DEFAULT_AUGMENT_MEMORY_CAP = "16Gi"
STEPS = ("shard", "augment", "manifest")

# Augment does the work: two cores matching its two threads, memory for a thread's window of
# decoded images at N + 1 alive per image. Shard streams the listing to a spool file and
# manifest streams the parts, so both stay small.
DEFAULT_RESOURCES: Mapping[str, Resources] = MappingProxyType(
    {
        "shard": Resources(cpu_request="250m", cpu_limit="1", memory_request="256Mi", memory_limit="1Gi"),
        "augment": Resources(cpu_request="2", cpu_limit="2", memory_request="2Gi", memory_limit="4Gi"),
        "manifest": Resources(cpu_request="250m", cpu_limit="1", memory_request="512Mi", memory_limit="2Gi"),
    }
)

POD_GC_STRATEGIES = ("OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess")
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
#: A CronWorkflow's runs are named ``<name>-<unix time>``, which must fit Kubernetes' 63.
MAX_NAME = names.CRON_WORKFLOW_NAME_MAX


@dataclass(frozen=True)
class BuildOptions:
    """How the workflow's pods run. Every field has a production default.

    Attributes:
        name: Name of the WorkflowTemplate and CronWorkflow; a Workflow uses it as its
            ``generateName`` prefix. A DNS label of at most 52 characters.
        namespace: ``metadata.namespace``; None leaves it to ``argo submit -n`` / the server.
        image: The project's container image (``images/`` holds its Dockerfile).
        image_pull_policy: ``Always``, ``IfNotPresent``, ``Never`` or None for Kubernetes' default.
        service_account: Service account of the pods: it needs Argo's executor permissions, which
            ``workflows/rbac.yaml`` (from :mod:`~workflows.argo.rbac`) gives the default one; for IRSA or
            workload identity, the account bound to the cloud role. None leaves the field out: the
            namespace's ``default`` account, which lacks them outside Argo's quick-start install.
            It is the workflow's ``serviceAccountName`` and each pod template's, so Kaleidoscope's
            pods run as it whatever workflow runs them (a user's pipeline calling ``main`` by
            ``templateRef`` or with its templates included, whose own account then needs neither S3
            access nor the executor's permissions for them).
        s3_secret: Secret the S3 credentials come from through ``secretKeyRef`` (keys
            ``accessKeyId``, ``secretAccessKey`` and optionally ``region``). None adds no
            credential variables at all: the pods get credentials from their service account
            (IRSA, workload identity) or the node.
        s3_endpoint: Default of the ``s3-endpoint`` parameter: an S3-compatible endpoint URL
            (MinIO, SeaweedFS, ...); empty means AWS.
        source: Value of the ``source`` parameter. Empty leaves a Workflow's or WorkflowTemplate's
            parameter without a value, so each run must name it (``argo submit -p source=...``);
            a CronWorkflow, which runs unattended, carries this or else the spec's ``source``.
        destination: Value of the ``destination`` parameter, as for ``source``.
        mutex: Take an Argo mutex named after the destination on ``main``
            (:data:`~workflows.builder.MUTEX_NAME`, held while ``main`` runs, whatever workflow
            runs it), so two runs never write one destination at once, and a workflow-level one
            (:data:`~workflows.builder.RUN_MUTEX_NAME`), so a second run of the builder's
            workflow waits Pending, its deadline not yet running, until the first ends.
        mutex_database: Make those mutexes database mutexes (Argo's ``database: true``), shared by
            every controller of the sync database: for several clusters or controllers writing the
            same destinations. Needs Argo's sync database configured (``SyncConfig``).
        incremental: Default of the ``incremental`` parameter; None means false for a Workflow or
            WorkflowTemplate and true for a CronWorkflow (each run processes only new images).
        parallelism: Most pods of one workflow running at once, and of one call of ``main``
            (its ``parallelism``, which holds under another workflow too).
        retries: Retries of a failed pod of any step (0 disables), not on exit code 2 (invalid
            input). Every step is idempotent: a retried augment shard rewrites the same bytes
            under the same names, a retried manifest step never duplicates a record.
        retry_backoff: Wait before the first retry, doubled for each next one (Go duration).
        active_deadline_seconds: The whole workflow is stopped after this many seconds.
        ttl_seconds_after_success: A succeeded workflow is deleted after this long.
        ttl_seconds_after_failure: A failed workflow is kept this long for inspection.
        pod_gc: When pods are deleted (``OnPodSuccess`` keeps failed pods and their logs).
        resources: Hera ``Resources`` per step (``shard``, ``augment``, ``manifest``); a step
            left out keeps :data:`DEFAULT_RESOURCES`.
        threads: Augment worker threads; None derives them from augment's CPU limit (or
            request), since a container sees all of the node's cores, not its own share.
        node_selector: Node labels every pod must match.
        tolerations: Hera/Kubernetes ``Toleration`` models for every pod.
        run_as_user: Non-root user (and group, and fsGroup) id the pods run as; the default is
            the image's own ``USER`` (images/Dockerfile).
        tmp_size: Size limit of the ``emptyDir`` mounted at ``/tmp`` in every pod (the root
            filesystem is read-only; the steps spool and write output files there).
        instance: The ``app.kubernetes.io/instance`` label of the runs and pods, and the
            ``release`` label of their metrics: what tells two installations apart. None: ``name``.
            The Helm chart sets its release name.
        part_of: The ``app.kubernetes.io/part-of`` label of the runs and pods. None: the instance.
            The Helm chart sets its release name (or ``workflow.partOf``).
        pending_timeout: Argo's ``pendingTimeout`` of every pod template (a Go duration): a pod
            still Pending that long after its node started (unschedulable, image not pulled, a
            Secret missing) fails its node. None leaves it out. See docs/argo.md: Argo 4.1.2 checks
            it on the node of the template, which for a template with a ``retryStrategy`` is its
            Retry node.
        retry_other_node: Retries avoid the nodes the step failed on (``retryStrategy.affinity.
            nodeAntiAffinity``, Argo's required anti-affinity on ``kubernetes.io/hostname``). Turn it
            off on a cluster of one or few nodes, where a retry would find no node left.
        augment_memory_cap: A retried augment pod gets twice the memory request and limit of the
            attempt before it, up to this quantity (``podSpecPatch`` driven by ``{{retries}}``), so a
            shard killed for memory (OOMKilled) runs again with more. None (or a cap no larger than
            the augment limit) keeps the memory of every attempt the same.
        metrics: Emit Argo custom Prometheus metrics (:mod:`~workflows.argo.metrics`): run and step
            durations, images in, written and failed, labelled by namespace and release.
    """

    name: str = "kaleidoscope"
    namespace: str | None = None
    image: str = DEFAULT_IMAGE
    image_pull_policy: str | None = None
    service_account: str | None = DEFAULT_SERVICE_ACCOUNT
    s3_secret: str | None = DEFAULT_S3_SECRET
    s3_endpoint: str = ""
    source: str = ""
    destination: str = ""
    mutex: bool = True
    mutex_database: bool = False
    incremental: bool | None = None
    parallelism: int = 20
    retries: int = 3
    retry_backoff: str = "30s"
    active_deadline_seconds: int = 24 * 3600
    ttl_seconds_after_success: int = 24 * 3600
    ttl_seconds_after_failure: int = 7 * 24 * 3600
    pod_gc: str = "OnPodSuccess"
    resources: Mapping[str, Resources] = field(default_factory=dict)
    threads: int | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Toleration] = ()
    run_as_user: int = 65532  # the image's USER (images/Dockerfile)
    tmp_size: str = "2Gi"
    instance: str | None = None
    part_of: str | None = None
    pending_timeout: str | None = DEFAULT_PENDING_TIMEOUT
    retry_other_node: bool = True
    augment_memory_cap: str | None = DEFAULT_AUGMENT_MEMORY_CAP
    metrics: bool = True

    def instance_name(self) -> str:
        """The ``app.kubernetes.io/instance`` label: ``instance``, else ``name``."""
        return self.instance if self.instance is not None else self.name

    def part_of_name(self) -> str:
        """The ``app.kubernetes.io/part-of`` label: ``part_of``, else the instance."""
        return self.part_of if self.part_of is not None else self.instance_name()

    def resources_for(self, step: str) -> Resources:
        """The step's resources: the user's, else the default."""
        return self.resources.get(step) or DEFAULT_RESOURCES[step]

    def augment_threads(self) -> int:
        """Worker threads of an augment pod: ``threads``, else its whole CPUs (at least 1)."""
        if self.threads is not None:
            return self.threads
        augment = self.resources_for("augment")
        cpu = augment.cpu_limit if augment.cpu_limit is not None else augment.cpu_request
        return max(1, math.floor(cpu_cores(cpu))) if cpu is not None else 1


@dataclass(frozen=True)
class CronSchedule:
    """When a CronWorkflow runs.

    Attributes:
        schedules: Cron expressions (5 fields, or ``@daily``-style descriptors), any of which
            starts a run. Argo 4 has only this list form.
        timezone: IANA time zone the expressions are read in.
        concurrency_policy: ``Forbid`` (skip a run while one is going: two incremental runs
            would both take the same new images), ``Allow`` or ``Replace``.
        starting_deadline_seconds: A run missed (controller down) by more than this is skipped.
        successful_jobs_history_limit: Succeeded runs kept. The CronWorkflow's runs have no
            ``ttlStrategy``: these two limits alone decide how long they are kept (a TTL shorter than
            limit × period would delete them first, and the limits would never matter).
        failed_jobs_history_limit: Failed runs kept.
    """

    schedules: Sequence[str] = ("0 2 * * *",)
    timezone: str = "UTC"
    concurrency_policy: str = "Forbid"
    starting_deadline_seconds: int = 3600
    successful_jobs_history_limit: int = 3
    failed_jobs_history_limit: int = 5


def cpu_cores(value: Any) -> float:
    """A Kubernetes CPU quantity (``2``, ``"1500m"``, ``0.5``) in cores."""
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _bad(where: str, value: Any, rule: str) -> str:
    return f"{where}: bad value {json.dumps(value, default=str)}: {rule}"


def _integer(where: str, value: Any, minimum: int) -> list[str]:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        return [_bad(where, value, f"must be a whole number >= {minimum}")]
    return []


def _pattern(where: str, value: Any, pattern: str, rule: str, *, most: int | None = None) -> list[str]:
    if not names.matches(pattern, value) or (most is not None and len(value) > most):
        return [_bad(where, value, rule)]
    return []


def _choice(where: str, value: Any, allowed: Sequence[str]) -> list[str]:
    return [] if value in allowed else [_bad(where, value, f"must be one of {', '.join(allowed)}")]


def option_problems(options: BuildOptions) -> list[str]:
    """Every problem with ``options``, each as ``<field>: bad value <v>: <rule>``."""
    problems = _pattern(
        "name",
        options.name,
        names.DNS_LABEL,
        f"lowercase letters, digits and '-', at most {MAX_NAME} characters (CronWorkflow runs append a timestamp)",
        most=MAX_NAME,
    )
    if options.namespace is not None:
        problems += _pattern(
            "namespace", options.namespace, names.DNS_LABEL, "a Kubernetes namespace name", most=names.DNS_LABEL_MAX
        )
    if not isinstance(options.image, str) or not options.image or any(c.isspace() for c in options.image):
        problems.append(_bad("image", options.image, "a container image reference without spaces"))
    if options.image_pull_policy is not None:
        problems += _choice("image_pull_policy", options.image_pull_policy, PULL_POLICIES)
    for where, value in (("service_account", options.service_account), ("s3_secret", options.s3_secret)):
        if value is not None:
            problems += _pattern(
                where, value, names.DNS_SUBDOMAIN, "a Kubernetes object name", most=names.DNS_SUBDOMAIN_MAX
            )
    texts = (("s3_endpoint", options.s3_endpoint), ("source", options.source), ("destination", options.destination))
    for where, value in texts:
        if not isinstance(value, str):
            problems.append(_bad(where, value, "must be text (empty for none)"))
    switches = (
        ("mutex", options.mutex),
        ("mutex_database", options.mutex_database),
        ("retry_other_node", options.retry_other_node),
        ("metrics", options.metrics),
    )
    for where, switch in switches:
        if not isinstance(switch, bool):
            problems.append(_bad(where, switch, "must be true or false"))
    if options.mutex_database is True and options.mutex is False:
        problems.append(_bad("mutex_database", True, "a database mutex needs the mutex (mutex=True)"))
    if options.incremental not in (None, True, False):
        problems.append(_bad("incremental", options.incremental, "must be true, false or unset"))
    problems += _integer("parallelism", options.parallelism, 1)
    problems += _integer("retries", options.retries, 0)
    problems += _pattern(
        "retry_backoff", options.retry_backoff, durations.UNSIGNED, "a Go duration such as 30s, 2m or 1h"
    )
    problems += _integer("active_deadline_seconds", options.active_deadline_seconds, 1)
    problems += _integer("ttl_seconds_after_success", options.ttl_seconds_after_success, 0)
    problems += _integer("ttl_seconds_after_failure", options.ttl_seconds_after_failure, 0)
    problems += _choice("pod_gc", options.pod_gc, POD_GC_STRATEGIES)
    for step, resources in options.resources.items():
        if step not in STEPS:
            problems.append(_bad("resources", step, f"steps are {', '.join(STEPS)}"))
        elif not isinstance(resources, Resources):
            problems.append(_bad(f"resources.{step}", str(resources), "must be a hera.workflows.Resources"))
    if options.threads is not None:
        problems += _integer("threads", options.threads, 1)
    for key, value in options.node_selector.items():
        problems += _pattern("node_selector", key, names.LABEL_KEY, "a Kubernetes label key", most=names.LABEL_KEY_MAX)
        problems += _pattern(
            f"node_selector.{key}", value, names.LABEL_VALUE, "a Kubernetes label value", most=names.LABEL_VALUE_MAX
        )
    for index, toleration in enumerate(options.tolerations):
        if not isinstance(toleration, Toleration):
            problems.append(
                _bad(f"tolerations[{index}]", str(toleration), "must be a hera.workflows.models.Toleration")
            )
        elif toleration.effect is not None:
            problems += _choice(f"tolerations[{index}].effect", toleration.effect, TAINT_EFFECTS)
    problems += _integer("run_as_user", options.run_as_user, 1)  # 0 is root
    problems += _pattern("tmp_size", options.tmp_size, QUANTITY, "a Kubernetes quantity such as 512Mi or 2Gi")
    for where, label in (("instance", options.instance), ("part_of", options.part_of)):
        if label is not None:
            problems += _pattern(
                where,
                label,
                names.LABEL_VALUE_SET,
                "a Kubernetes label value: letters, digits, '-', '_' and '.', at most 63 characters",
                most=names.LABEL_VALUE_MAX,
            )
    if options.pending_timeout is not None:
        problems += _duration("pending_timeout", options.pending_timeout)
    problems += _memory_cap(options)
    return problems


def _duration(where: str, value: Any) -> list[str]:
    rule = "a Go duration longer than 0, such as 20m or 1h"
    try:
        seconds = durations.parse(value)
    except ValueError:
        return [_bad(where, value, rule)]
    return [] if seconds > 0 else [_bad(where, value, rule)]


def _memory_cap(options: BuildOptions) -> list[str]:
    cap = options.augment_memory_cap
    if cap is None:
        return []
    try:
        cap_bytes = parse_bytes(cap)
    except ValueError:
        return [_bad("augment_memory_cap", cap, "a Kubernetes quantity such as 16Gi")]
    augment = options.resources.get("augment")
    limit = (augment if isinstance(augment, Resources) else DEFAULT_RESOURCES["augment"]).memory_limit
    try:
        limit_bytes = parse_bytes(str(limit)) if limit is not None else None
    except ValueError:
        return []  # an odd limit Hera took: nothing to compare with
    if limit_bytes is not None and cap_bytes < limit_bytes:
        return [_bad("augment_memory_cap", cap, f"below the augment memory limit {limit}: a retry never gets less")]
    return []


def schedule_problems(schedule: CronSchedule) -> list[str]:
    """Every problem with ``schedule``, each naming the field."""
    problems: list[str] = []
    if isinstance(schedule.schedules, str) or not schedule.schedules:
        problems.append(_bad("schedules", schedule.schedules, "give a list of one or more cron expressions"))
    else:
        for index, expression in enumerate(schedule.schedules):
            problems += cron_problems(f"schedules[{index}]", expression) or prefix_problems(
                f"schedules[{index}]", expression
            )
    problems += timezone_problems("timezone", schedule.timezone)
    problems += _choice("concurrency_policy", schedule.concurrency_policy, CONCURRENCY_POLICIES)
    problems += _integer("starting_deadline_seconds", schedule.starting_deadline_seconds, 0)
    problems += _integer("successful_jobs_history_limit", schedule.successful_jobs_history_limit, 0)
    problems += _integer("failed_jobs_history_limit", schedule.failed_jobs_history_limit, 0)
    return problems
