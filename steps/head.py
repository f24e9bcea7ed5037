"""The destination's head: which generation of the manifest is current, and what made it.

A small JSON object (``_kaleidoscope/head.json``) rewritten by every published run, never growing
with runs or records: the generation (the full run that started it), the output hash and engine
version its records were made with, the totals, and the last run. Incremental runs read it to
refuse a spec that would mix other bytes into the generation; ``kaleidoscope manifest`` reads it
to know which parts are current.
"""

from __future__ import annotations

import json
from typing import Any

from kaleidoscope.steps import run_layout
from kaleidoscope.steps.errors import KaleidoscopeError
from kaleidoscope.steps.storage import Storage, read_json

FORMAT = 1


def read(destination: Storage) -> dict[str, Any] | None:
    """The head, or None for a destination no run has published to."""
    head = read_json(destination, run_layout.HEAD)
    if head is not None and (not isinstance(head, dict) or head.get("format") != FORMAT or not head.get("generation")):
        raise KaleidoscopeError(f"{destination.describe(run_layout.HEAD)}: not a head this version reads")
    return head


def write(destination: Storage, head: dict[str, Any]) -> None:
    destination.write(
        run_layout.HEAD, json.dumps({"format": FORMAT, **head}, indent=2).encode("utf-8"), "application/json"
    )
