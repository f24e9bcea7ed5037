"""Command-line options shared by ``kaleidoscope render`` and ``kaleidoscope submit``.

They map one to one onto :class:`~workflows.argo.options.BuildOptions` (and, for render,
:class:`~workflows.argo.options.CronSchedule`); defaults stay there, in one place: a flag left
out keeps the builder's default.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import fields

from hera.workflows import Resources
from hera.workflows.models import Toleration

from kaleidoscope.steps.errors import InvalidInput
from kaleidoscope.workflows.argo.options import DEFAULT_RESOURCES, BuildOptions, CronSchedule
from kaleidoscope.workflows.commands.common import positive_int, whole_number

# Option fields named in the builder's messages -> the flag a command-line user typed.
_FLAGS = {
    "name": "--name",
    "namespace": "--namespace",
    "image": "--image",
    "image_pull_policy": "--image-pull-policy",
    "service_account": "--service-account",
    "s3_secret": "--s3-secret",
    "s3_endpoint": "--s3-endpoint",
    "mutex": "--no-mutex",
    "mutex_database": "--mutex-database",
    "parallelism": "--parallelism",
    "retries": "--retries",
    "threads": "--threads",
    "node_selector": "--node-selector",
    "tolerations": "--toleration",
    "instance": "--instance",
    "part_of": "--part-of",
    "pending_timeout": "--pending-timeout",
    "retry_other_node": "--no-retry-anti-affinity",
    "augment_memory_cap": "--augment-memory-cap",
    "metrics": "--no-metrics",
    "schedules": "--schedule",
    "timezone": "--timezone",
    "concurrency_policy": "--concurrency-policy",
}
_TOLERATION = re.compile(r"^(?P<key>[^=:]+)(=(?P<value>[^:]*))?(:(?P<effect>[A-Za-z]+))?$")


non_negative_int = whole_number(0)


def _pair(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError(f"bad value {text!r}: use KEY=VALUE")
    return key, value


def _toleration(text: str) -> Toleration:
    match = _TOLERATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"bad value {text!r}: use KEY[=VALUE][:EFFECT], as kubectl taint prints it")
    value = match["value"]
    return Toleration(
        key=match["key"],
        operator="Equal" if value is not None else "Exists",
        value=value,
        effect=match["effect"],
    )


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """The spec and every builder option, as flags."""
    # Declared here rather than through commands.common, whose step-oriented defaults differ:
    # a flag left out must leave the builder's default in place.
    parser.add_argument("spec", metavar="SPEC", help="spec file (YAML or JSON)")
    parser.add_argument(
        "--source",
        help="value of the source parameter (default: none, each run gives it; a cronworkflow carries the spec's)",
    )
    parser.add_argument(
        "--destination",
        help="value of the destination parameter (default: none, each run gives it; a cronworkflow carries the spec's)",
    )
    group = parser.add_argument_group("workflow options (defaults: the builder's, see docs/argo.md)")
    group.add_argument("--name", help="WorkflowTemplate/CronWorkflow name, Workflow name prefix")
    group.add_argument("--namespace", help="metadata.namespace (render) / where to create it (submit)")
    group.add_argument("--image", help="container image of the steps")
    group.add_argument("--image-pull-policy", help="Always, IfNotPresent or Never")
    account = group.add_mutually_exclusive_group()
    account.add_argument(
        "--service-account",
        help="service account of the pods (default kaleidoscope, which workflows/rbac.yaml creates; "
        "IRSA: the one bound to the role)",
    )
    account.add_argument(
        "--no-service-account",
        action="store_true",
        help="no serviceAccountName: the namespace's default account (it needs Argo's executor permissions)",
    )
    secret = group.add_mutually_exclusive_group()
    secret.add_argument("--s3-secret", help="Secret holding accessKeyId, secretAccessKey (and optional region)")
    secret.add_argument("--no-s3-secret", action="store_true", help="no credential variables (IRSA, workload identity)")
    group.add_argument("--s3-endpoint", help="default of the s3-endpoint parameter: an S3-compatible endpoint URL")
    group.add_argument("--incremental", choices=("true", "false"), help="default of the incremental parameter")
    mutex = group.add_mutually_exclusive_group()
    mutex.add_argument(
        "--no-mutex", action="store_true", help="no mutexes on the destination: runs on one destination may overlap"
    )
    mutex.add_argument(
        "--mutex-database",
        action="store_true",
        help="database mutexes, shared by every controller of Argo's sync database (needs its SyncConfig)",
    )
    group.add_argument("--parallelism", type=positive_int, help="most pods running at once (the run's, and main's)")
    group.add_argument("--retries", type=non_negative_int, help="retries of a failed pod of any step (not on exit 2)")
    group.add_argument("--threads", type=positive_int, help="augment threads (default: its CPU limit)")
    group.add_argument("--augment-cpu", help="augment CPU request and limit, e.g. 4 or 3500m")
    group.add_argument("--augment-memory", help="augment memory request and limit, e.g. 8Gi")
    growth = group.add_mutually_exclusive_group()
    growth.add_argument(
        "--augment-memory-cap",
        metavar="SIZE",
        help="a retried augment pod gets twice the memory of the attempt before, up to this (default 16Gi)",
    )
    growth.add_argument(
        "--no-augment-memory-growth", action="store_true", help="every augment attempt gets the same memory"
    )
    pending = group.add_mutually_exclusive_group()
    pending.add_argument(
        "--pending-timeout",
        metavar="DURATION",
        help="fail a step whose pod is still Pending after this Go duration (default 20m)",
    )
    pending.add_argument("--no-pending-timeout", action="store_true", help="no pendingTimeout: a pod may wait")
    group.add_argument(
        "--no-retry-anti-affinity",
        action="store_true",
        help="let a retry run on a node the step failed on (clusters of one or few nodes)",
    )
    group.add_argument("--no-metrics", action="store_true", help="no Argo custom Prometheus metrics")
    group.add_argument("--instance", help="app.kubernetes.io/instance label and metrics' release (default: --name)")
    group.add_argument("--part-of", help="app.kubernetes.io/part-of label (default: the instance)")
    group.add_argument("--node-selector", type=_pair, action="append", metavar="KEY=VALUE", help="node label (repeat)")
    group.add_argument(
        "--toleration",
        type=_toleration,
        action="append",
        metavar="KEY[=VALUE][:EFFECT]",
        help="taint to tolerate (repeat)",
    )


def add_schedule_arguments(parser: argparse.ArgumentParser) -> None:
    """The CronWorkflow's schedule, as flags."""
    group = parser.add_argument_group("schedule (--kind cronworkflow)")
    group.add_argument(
        "--schedule", action="append", metavar="CRON", help="cron expression, e.g. '0 2 * * *' (repeat for several)"
    )
    group.add_argument("--timezone", help="IANA time zone of the schedule (default UTC)")
    group.add_argument("--concurrency-policy", help="Forbid (default), Allow or Replace")


def _augment_resources(args: argparse.Namespace) -> dict[str, Resources]:
    if not (args.augment_cpu or args.augment_memory):
        return {}
    default = DEFAULT_RESOURCES["augment"]
    # Checked one at a time so the message names the flag at fault.
    for flag, value, field_name in (
        ("--augment-cpu", args.augment_cpu, "cpu_request"),
        ("--augment-memory", args.augment_memory, "memory_request"),
    ):
        if value:
            try:
                Resources(**{field_name: value})
            except ValueError as error:
                raise InvalidInput(f"{flag}: bad value {value!r}: {error}") from None
    cpu, memory = args.augment_cpu, args.augment_memory
    return {
        "augment": Resources(
            cpu_request=cpu or default.cpu_request,
            cpu_limit=cpu or default.cpu_limit,
            memory_request=memory or default.memory_request,
            memory_limit=memory or default.memory_limit,
        )
    }


def build_options(args: argparse.Namespace) -> BuildOptions:
    """BuildOptions from the flags given; the builder's defaults for the rest."""
    given = {
        "name": args.name,
        "namespace": args.namespace,
        "image": args.image,
        "image_pull_policy": args.image_pull_policy,
        "service_account": args.service_account,
        "s3_endpoint": args.s3_endpoint,
        "source": args.source,
        "destination": args.destination,
        "parallelism": args.parallelism,
        "retries": args.retries,
        "threads": args.threads,
        "instance": args.instance,
        "part_of": args.part_of,
        "pending_timeout": args.pending_timeout,
        "augment_memory_cap": args.augment_memory_cap,
    }
    changes: dict = {key: value for key, value in given.items() if value is not None}
    for flag, field_name in (
        ("no_service_account", "service_account"),
        ("no_pending_timeout", "pending_timeout"),
        ("no_augment_memory_growth", "augment_memory_cap"),
    ):
        if getattr(args, flag):
            changes[field_name] = None
    if args.no_retry_anti_affinity:
        changes["retry_other_node"] = False
    if args.no_metrics:
        changes["metrics"] = False
    if args.no_s3_secret:
        changes["s3_secret"] = None
    elif args.s3_secret is not None:
        changes["s3_secret"] = args.s3_secret
    if args.no_mutex:
        changes["mutex"] = False
    if args.mutex_database:
        changes["mutex_database"] = True
    if args.incremental is not None:
        changes["incremental"] = args.incremental == "true"
    if args.node_selector:
        changes["node_selector"] = dict(args.node_selector)
    if args.toleration:
        changes["tolerations"] = tuple(args.toleration)
    changes["resources"] = _augment_resources(args)
    return BuildOptions(**changes)


def cron_schedule(args: argparse.Namespace, kind: str) -> CronSchedule | None:
    """The schedule for a cronworkflow; None for other kinds (given schedule flags are an error)."""
    given = {
        "schedules": tuple(args.schedule) if args.schedule else None,
        "timezone": args.timezone,
        "concurrency_policy": args.concurrency_policy,
    }
    given = {key: value for key, value in given.items() if value is not None}
    if kind != "cronworkflow":
        if given:
            flags = ", ".join(_FLAGS[key] for key in given)
            raise InvalidInput(f"{flags}: only a cronworkflow has a schedule (add --kind cronworkflow)")
        return None
    return CronSchedule(**given)


def with_flags(error: InvalidInput) -> InvalidInput:
    """The builder's problems with option fields renamed to the flags that set them: the field an
    option's problem opens with, and any other it names in backquotes (`timezone`)."""
    known = {f.name for f in fields(BuildOptions)} | {f.name for f in fields(CronSchedule)}
    problems = []
    for problem in error.problems:
        match = re.match(r"^([a-z_]+)(\[\d+\])?(\.[^:]*)?:", problem)
        if match and match.group(1) in known and match.group(1) in _FLAGS:
            problem = _FLAGS[match.group(1)] + re.sub(
                r"`([a-z_]+)`",
                lambda named: f"`{_FLAGS[named.group(1)]}`" if named.group(1) in _FLAGS else named.group(0),
                problem[match.end(0) - 1 :],
            )
        problems.append(problem)
    return InvalidInput(problems)
