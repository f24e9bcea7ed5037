"""The custom Prometheus metrics every run emits through Argo: one table, :data:`METRICS`.

It feeds the rendered manifests (:func:`workflow_metrics`, :func:`template_metrics`) and the
metrics table in docs/argo.md (:func:`markdown`). Every metric carries ``namespace`` (the run's)
and ``release`` (:meth:`BuildOptions.instance_name`, the Helm release when the chart installs it),
so two installations are told apart; step metrics add ``step``, run metrics the run's final
``status``.

Argo emits a template's metrics when its node ends, a workflow's when the run ends; a retried
step's once, when its Retry node ends (``executeTemplate`` in workflow/controller/operator.go), so
a step retried into success counts once. The counts come from the manifest step's outputs and are
emitted only when it succeeded (``when``). Argo's Prometheus exporter names every metric with the
prefix ``argo_workflows_`` (``metrics.New(..., "argo_workflows", ...)`` in
workflow/controller/controller.go) and adds no ``_total`` of its own: what a query names is
:data:`PREFIX` + the name. Help texts are fixed words: the controller keeps one instrument per name
and refuses an emission whose help differs from the first one's (see :mod:`.rules.metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass

from hera.workflows.models import Amount, Counter, Gauge, Histogram, MetricLabel, Metrics, Prometheus

#: What Argo's Prometheus exporter puts before every custom metric's name.
PREFIX = "argo_workflows_"
SUCCEEDED = "{{status}} == Succeeded"
#: Step duration buckets, in seconds: a minute to a day (the workflow's default deadline).
BUCKETS = (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0)


@dataclass(frozen=True)
class Metric:
    """One custom metric.

    Attributes:
        name: The metric's name in the manifest (Prometheus shows it after :data:`PREFIX`).
        kind: ``counter``, ``gauge`` or ``histogram``.
        help: Argo's ``help``: fixed words, the same in every release.
        value: What Argo records, usually a ``{{...}}`` variable.
        steps: The pod templates that emit it; empty for the workflow itself.
        labels: Labels beyond ``namespace`` and ``release``: key -> value (a variable).
        when: Argo's ``when``: emitted only when it holds.
        query: A PromQL query over it, for docs/argo.md.
    """

    name: str
    kind: str
    help: str
    value: str
    steps: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    when: str | None
    query: str


_RUN_STATUS = (("status", "{{workflow.status}}"),)
METRICS = (
    Metric(
        "kaleidoscope_run_duration_seconds",
        "gauge",
        "Duration of the last finished Kaleidoscope run, in seconds, by final status.",
        "{{workflow.duration}}",
        (),
        _RUN_STATUS,
        None,
        'argo_workflows_kaleidoscope_run_duration_seconds{release="kaleidoscope", status="Succeeded"} > 6 * 3600',
    ),
    Metric(
        "kaleidoscope_runs_total",
        "counter",
        "Finished Kaleidoscope runs, by final status.",
        "1",
        (),
        _RUN_STATUS,
        None,
        'sum by (namespace, release) (increase(argo_workflows_kaleidoscope_runs_total{status!="Succeeded"}[1d])) > 0',
    ),
    Metric(
        "kaleidoscope_step_duration_seconds",
        "histogram",
        "Duration of succeeded Kaleidoscope steps (shard, each augment shard, manifest), retries included, in seconds.",
        "{{duration}}",
        ("shard", "augment", "manifest"),
        (),
        SUCCEEDED,
        "histogram_quantile(0.9, sum by (le, release, step) "
        "(rate(argo_workflows_kaleidoscope_step_duration_seconds_bucket[7d])))",
    ),
    Metric(
        "kaleidoscope_images_in_total",
        "counter",
        "Images a Kaleidoscope run found to augment (new ones only when incremental).",
        "{{outputs.parameters.inputs}}",
        ("manifest",),
        (),
        SUCCEEDED,
        "sum by (release) (increase(argo_workflows_kaleidoscope_images_in_total[1d]))",
    ),
    Metric(
        "kaleidoscope_images_written_total",
        "counter",
        "Images a Kaleidoscope run wrote to its destination.",
        "{{outputs.parameters.outputs}}",
        ("manifest",),
        (),
        SUCCEEDED,
        "sum by (release) (increase(argo_workflows_kaleidoscope_images_written_total[1d]))",
    ),
    Metric(
        "kaleidoscope_images_failed_total",
        "counter",
        "Images a Kaleidoscope run could not augment (each listed under failures/ with its error).",
        "{{outputs.parameters.failed}}",
        ("manifest",),
        (),
        SUCCEEDED,
        "sum by (release) (increase(argo_workflows_kaleidoscope_images_failed_total[1d])) "
        "/ sum by (release) (increase(argo_workflows_kaleidoscope_images_in_total[1d])) > 0.01",
    ),
)


def _prometheus(metric: Metric, release: str, step: str | None) -> Prometheus:
    labels = [("namespace", "{{workflow.namespace}}"), ("release", release)]
    labels += [("step", step)] if step else []
    labels += list(metric.labels)
    return Prometheus(
        name=metric.name,
        help=metric.help,
        labels=[MetricLabel(key=key, value=value) for key, value in labels],
        when=metric.when,
        counter=Counter(value=metric.value) if metric.kind == "counter" else None,
        gauge=Gauge(realtime=False, value=metric.value) if metric.kind == "gauge" else None,
        histogram=Histogram(buckets=[Amount(bucket) for bucket in BUCKETS], value=metric.value)
        if metric.kind == "histogram"
        else None,
    )


def workflow_metrics(release: str) -> Metrics:
    """The workflow-level ``metrics``, emitted when a run ends."""
    return Metrics(prometheus=[_prometheus(metric, release, None) for metric in METRICS if not metric.steps])


def template_metrics(step: str, release: str) -> Metrics | None:
    """The ``metrics`` of one pod template (``shard``, ``augment`` or ``manifest``), or None."""
    chosen = [_prometheus(metric, release, step) for metric in METRICS if step in metric.steps]
    return Metrics(prometheus=chosen) if chosen else None


def markdown() -> str:
    """The metrics table of docs/argo.md: the names Prometheus shows, what they count, a query."""
    lines = ["| metric (as Prometheus names it) | kind | labels | what | example query |", "|---|---|---|---|---|"]
    for metric in METRICS:
        labels = ["namespace", "release", *(["step"] if metric.steps else []), *(key for key, _ in metric.labels)]
        emitted = f"by {', '.join(metric.steps)}" if metric.steps else "by the run"
        when = ", when it succeeded" if metric.when else ""
        lines.append(
            f"| `{PREFIX}{metric.name}` | {metric.kind} | {', '.join(f'`{label}`' for label in labels)} | "
            f"{metric.help} Emitted {emitted}{when}. | `{metric.query}` |"
        )
    return "\n".join(lines)
