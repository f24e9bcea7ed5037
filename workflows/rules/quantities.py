"""Kubernetes resource quantities, as the options and the chart's schema accept them.

A regular expression without anchors or flags, like those of :mod:`.names`: a plain decimal
number with an optional binary (``Ki`` .. ``Ei``) or decimal (``k`` .. ``E``) suffix, such as
``512Mi`` or ``2Gi``; a subset of what Kubernetes' ``resource.ParseQuantity`` reads.
"""

from __future__ import annotations

QUANTITY = r"[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?"
