"""Argo's custom Prometheus metrics: the names it accepts and the variables a metric may use.

Argo checks a metric's name and label keys with Prometheus' legacy rule and refuses a ``:``
(``IsValidMetricName`` in ``workflow/metrics/util.go``, ``validate.go`` at submission); a metric
needs ``help`` and a value of exactly one kind. What a metric's ``{{...}}`` may name is Argo's
metric scope (``prepareMetricScope`` in ``workflow/controller/steps.go``; docs/variables.md,
"Metrics"): the workflow's global variables, plus the emitting node's ``status``, ``duration``,
``exitCode``, ``retries``, ``resourcesDuration.<cpu|memory>``, its input parameters and its own
output parameters and result. A real-time gauge takes only ``{{workflow.duration}}`` (at the
workflow level) or ``{{duration}}`` (a template's), as its whole value.

Argo keeps one instrument per metric name for the whole controller: the first emission fixes its
help text and kind, and a later one that differs is refused (``matchExistingMetric`` in
``workflow/metrics/metrics_custom.go``), so two releases must emit the same help for a name.
"""

from __future__ import annotations

import re

#: A metric name Argo accepts: Prometheus' legacy rule without ``:`` (kept for recording rules).
METRIC_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
#: A label name: Prometheus' legacy rule; names starting with ``__`` are Prometheus' own.
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
#: The kinds of value a metric has, exactly one of which it sets.
KINDS = ("counter", "gauge", "histogram")
#: What the emitting node adds to the workflow's variables in a metric (plain names).
NODE_VARIABLES = ("status", "duration", "exitCode", "retries", "resourcesDuration.cpu", "resourcesDuration.memory")
#: The only value of a real-time gauge, by where the metric is.
REALTIME_VALUES = {"workflow": "{{workflow.duration}}", "template": "{{duration}}"}
#: Labels Prometheus attaches to every scraped series: a metric's own label of that name is
#: renamed ``exported_<name>`` (unless the scrape honours labels), so a release cannot be told
#: apart by it.
TARGET_LABELS = ("job", "instance")


def name_problem(name: object) -> str | None:
    """Why Argo (and Prometheus) refuse ``name`` as a metric name, or None."""
    if not isinstance(name, str) or re.fullmatch(METRIC_NAME, name) is None:
        return "letters, digits and '_', not starting with a digit (Prometheus' rule; Argo also refuses ':')"
    return None


def label_problem(key: object) -> str | None:
    """Why ``key`` is no label name a metric of Argo's should carry, or None."""
    if not isinstance(key, str) or re.fullmatch(LABEL_NAME, key) is None:
        return "letters, digits and '_', not starting with a digit (Prometheus' rule)"
    if key.startswith("__"):
        return "names starting with '__' are Prometheus' own"
    if key in TARGET_LABELS:
        return f"Prometheus gives every scraped series its own '{key}' label and renames this one exported_{key}"
    return None
