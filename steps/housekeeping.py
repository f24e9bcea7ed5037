"""Work folders of runs that never finished: finding them and removing the old ones.

A run that succeeds removes its own work folder (``_kaleidoscope/work/<run-id>/``). One that
failed keeps it, for its retry and for a look at what it wrote; :func:`collect` removes those
older than a given age, never the one of the run holding the destination.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from kaleidoscope.steps import claim, run_layout
from kaleidoscope.steps.storage import Storage


def work_runs(destination: Storage) -> list[str]:
    """The run ids that have a work folder, in order."""
    runs: list[str] = []
    for key in destination.list_keys(run_layout.WORK_RUNS_PREFIX):
        run_id = key[len(run_layout.WORK_RUNS_PREFIX) :].split("/", 1)[0]
        if "/" in key[len(run_layout.WORK_RUNS_PREFIX) :] and (not runs or runs[-1] != run_id):
            runs.append(run_id)
    return runs


def _record(destination: Storage, run_id: str) -> dict:
    """The run's record, or {} when it is missing or unreadable (a run killed as it started)."""
    found = destination.read_tagged(run_layout.run_record_key(run_id))
    try:
        record = json.loads(found[0]) if found is not None else {}
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _started(record: dict) -> datetime | None:
    try:
        return datetime.fromisoformat(record["started_at"])
    except (ValueError, KeyError, TypeError):
        return None


def collect(destination: Storage, older_than: timedelta, *, now: datetime | None = None) -> list[tuple[str, int]]:
    """Remove the work folders of runs started more than ``older_than`` ago.

    Skips the run that holds the destination's claim, and a folder with no readable run record
    unless the age of the claim-free destination says nothing else runs (it is then removed too).

    Returns:
        ``(run_id, objects removed)`` for each folder removed.
    """
    now = now or datetime.now(UTC)
    holder = claim.read(destination)
    removed = []
    for run_id in work_runs(destination):
        if holder is not None and holder.run_id == run_id:
            continue
        record = _record(destination, run_id)
        started = _started(record)
        if started is not None and now - started < older_than:
            continue
        # On S3 a dead run's archives are uploads never completed, under the published prefix.
        staged = 0
        if isinstance(record.get("generation"), str):
            staged = destination.abort_staged(run_layout.archives_run_prefix(record["generation"], run_id))
        removed.append((run_id, staged + destination.delete_prefix(run_layout.work_prefix(run_id))))
    return removed
