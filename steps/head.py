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
from kaleidoscope.steps.storage import Storage

FORMAT = 1


def read(destination: Storage) -> dict[str, Any] | None:
    """The head, or None for a destination no run has published to."""
    found = destination.read_tagged(run_layout.HEAD)
    if found is None:
        return None
    try:
        head = json.loads(found[0])
        if not isinstance(head, dict) or head.get("format") != FORMAT or not head.get("generation"):
            raise ValueError("not a head this version reads")
    except ValueError as error:
        raise KaleidoscopeError(f"{destination.describe(run_layout.HEAD)}: cannot read: {error}") from error
    return head


def write(destination: Storage, head: dict[str, Any]) -> None:
    destination.write(
        run_layout.HEAD, json.dumps({"format": FORMAT, **head}, indent=2).encode("utf-8"), "application/json"
    )
