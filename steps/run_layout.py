"""The run folder's layout: every key Kaleidoscope writes under a destination besides the
outputs (whose names :mod:`steps.naming` gives). Pure functions, no I/O.

::

    manifest.jsonl                             one record per output image (manifest step)
    summary.json                               the run's counts, failures and settings (manifest step)
    _kaleidoscope/recorded-sources.jsonl       sorted source keys with records in manifest.jsonl
    _kaleidoscope/<run-id>/run.json            the run as the shard step saw it
    _kaleidoscope/<run-id>/shards/NNNNN.jsonl  one shard's source keys, a JSON string a line
    _kaleidoscope/<run-id>/attempts/NNNNN      empty: shard NNNNN's augment step has started before
    _kaleidoscope/<run-id>/parts/NNNNN.jsonl   one shard's manifest records (augment step)

These names are on users' buckets: a later version must still find what an earlier one wrote
(an incremental run reads the recorded-sources index of every run before it).
"""

from __future__ import annotations

#: Folder holding the runs' work files and the recorded-sources index.
WORK_PREFIX = "_kaleidoscope"
MANIFEST = "manifest.jsonl"
SUMMARY = "summary.json"
#: Sorted source keys with records in manifest.jsonl, one JSON string a line (kept by the
#: manifest step; incremental runs merge it against the listing).
RECORDED = f"{WORK_PREFIX}/recorded-sources.jsonl"


def run_prefix(run_id: str) -> str:
    """The work folder of one run."""
    return f"{WORK_PREFIX}/{run_id}"


def run_record_key(run_id: str) -> str:
    """The shard step's record of the run: its id, start, spec digest, inputs and shard count."""
    return f"{run_prefix(run_id)}/run.json"


def shard_key(run_id: str, index: int) -> str:
    """The source keys of shard ``index``."""
    return f"{run_prefix(run_id)}/shards/{index:05d}.jsonl"


def attempt_key(run_id: str, index: int) -> str:
    """The marker that shard ``index`` was augmented before, so a retry compares what is stored."""
    return f"{run_prefix(run_id)}/attempts/{index:05d}"


def part_key(run_id: str, index: int) -> str:
    """The manifest records of shard ``index``, which the manifest step merges."""
    return f"{run_prefix(run_id)}/parts/{index:05d}.jsonl"
