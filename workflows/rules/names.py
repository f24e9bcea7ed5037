"""Names Kubernetes and Argo accept for objects, labels, tasks and steps.

Each pattern is a regular expression without anchors or flags, so it serves both Python's ``re``
(with :func:`matches`) and a JSON-schema ``pattern`` (``chart.py`` writes them, anchored, into the
chart's ``values.schema.json``).
"""

from __future__ import annotations

import re

#: A DNS-1123 label (Kubernetes' ``IsDNS1123Label``): a namespace, a CronWorkflow's name.
DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_LABEL_MAX = 63
#: A DNS-1123 subdomain (``IsDNS1123Subdomain``): the name of most Kubernetes objects.
DNS_SUBDOMAIN = rf"{DNS_LABEL}(\.{DNS_LABEL})*"
DNS_SUBDOMAIN_MAX = 253
_QUALIFIED_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
#: A label key (``IsQualifiedName``): an optional DNS-subdomain prefix and ``/``, then a name.
LABEL_KEY = rf"({DNS_SUBDOMAIN}/)?{_QUALIFIED_NAME}"
LABEL_KEY_MAX = DNS_SUBDOMAIN_MAX + 1 + 63
#: A label value (``IsValidLabelValue``): empty, or a name of at most 63 characters.
LABEL_VALUE = rf"({_QUALIFIED_NAME})?"
LABEL_VALUE_MAX = 63
#: A label value that is not empty (an ``app.kubernetes.io/instance`` that names something).
LABEL_VALUE_SET = _QUALIFIED_NAME
#: A CronWorkflow's runs are named ``<name>-<unix time>``, which must fit a DNS label: Argo's
#: ``maxCharsInCronWorkflowName`` (``workflow/validate/validate.go``).
CRON_WORKFLOW_NAME_MAX = 52

#: A template's, task's or step's name: Argo's ``workflowFieldNameFmt`` (``workflow/validate/validate.go``).
#: No ``_`` and no ``.``: the ``depends`` lexer reads a name with the same pattern (:mod:`.depends`).
FIELD_NAME = r"[a-zA-Z0-9][-a-zA-Z0-9]*"
FIELD_NAME_MAX = 128


def matches(pattern: str, text: object) -> bool:
    """Whether ``text`` is a string that ``pattern`` matches whole."""
    return isinstance(text, str) and re.fullmatch(pattern, text) is not None


def field_name_problem(name: object) -> str | None:
    """Why Argo refuses ``name`` for a task or step (``isValidWorkflowFieldName``), or None."""
    if not matches(FIELD_NAME, name):
        return "letters, digits and '-', starting with a letter or digit (no '_' or '.')"
    if len(str(name)) > FIELD_NAME_MAX:
        return f"at most {FIELD_NAME_MAX} characters"
    return None
