"""Every key Kaleidoscope writes under a destination besides the outputs (whose names
:mod:`steps.naming` gives). Pure functions, no I/O.

::

    manifest/<generation>/<run-id>/part-SSSSS-CCCCC.jsonl   published records, one per output image
    shards/<generation>/<run-id>/shard-SSSSS-CCCCC-PP.tar    published WebDataset archives (webdataset container)
    shards/<generation>/<run-id>.txt                         ... and that run's archive keys, one a line
    failures/<generation>/<run-id>/part-SSSSS-CCCCC.jsonl    inputs that failed, one line each
    summary.json                                             the latest run's counts and settings
    _kaleidoscope/claim.json                                 the run that holds the destination
    _kaleidoscope/head.json                                  current generation, output hash, totals
    _kaleidoscope/runs/<run-id>.json                         one small entry per published run
    _kaleidoscope/sources/L<level>-<run-id>.jsonl            recorded source keys, sorted, size-tiered
    _kaleidoscope/work/<run-id>/run.json                     the run as the shard step saw it
    _kaleidoscope/work/<run-id>/listing/NNNNN.jsonl          the keys to augment, 10,000 a page
    _kaleidoscope/work/<run-id>/chunks/SSSSS/CCCCC.jsonl     a committed chunk's records (in flight)
    _kaleidoscope/work/<run-id>/chunks/SSSSS/CCCCC.failures.jsonl  ... and its failed images
    _kaleidoscope/work/<run-id>/chunks/SSSSS/CCCCC.json      the chunk's commit: its counts
    _kaleidoscope/work/<run-id>/archives/SSSSS/CCCCC-PP.tar  a committed chunk's archives (in flight; on
                                                             S3 an upload at the published key instead,
                                                             completed by the manifest step)
    _kaleidoscope/work/<run-id>/shards/SSSSS.json            shard SSSSS is done: its counts

A *generation* starts with every full run and takes the incremental runs after it: a glob over
``manifest/*/*/*.jsonl`` gives exactly the current records (and ``failures/*/*/*.jsonl`` the
current failures) once a full run has removed the generation it replaced. Published folders never start with ``_`` or ``.``, which dataset readers
skip; everything in flight or for bookkeeping lives under ``_kaleidoscope/``.

These names are on users' buckets: a later version must still find what an earlier one wrote.
"""

from __future__ import annotations

#: Folder holding bookkeeping and the runs' work files; dataset readers skip it (leading ``_``).
WORK_PREFIX = "_kaleidoscope"
#: Published manifest parts; a glob over ``manifest/*/*/*.jsonl`` reads the current records.
MANIFEST_PREFIX = "manifest/"
MANIFEST_GLOB = "manifest/*/*/*.jsonl"
FAILURES_PREFIX = "failures/"
#: Published WebDataset archives; ``shards/*/*/*.tar`` is every current archive, as the manifest glob is.
ARCHIVES_PREFIX = "shards/"
ARCHIVES_GLOB = "shards/*/*/*.tar"
SUMMARY = "summary.json"
CLAIM = f"{WORK_PREFIX}/claim.json"
HEAD = f"{WORK_PREFIX}/head.json"
RUNS_PREFIX = f"{WORK_PREFIX}/runs/"
SOURCES_PREFIX = f"{WORK_PREFIX}/sources/"
WORK_RUNS_PREFIX = f"{WORK_PREFIX}/work/"
#: Keys a listing page holds: a shard reads the pages its range spans, at most 2 more than needed.
LISTING_PAGE = 10_000


def work_prefix(run_id: str) -> str:
    """The work folder of one run: removed when the run has published its manifest."""
    return f"{WORK_RUNS_PREFIX}{run_id}/"


def run_record_key(run_id: str) -> str:
    """The shard step's record of the run: its id, start, output hash, inputs and shard plan."""
    return f"{work_prefix(run_id)}run.json"


def listing_key(run_id: str, page: int) -> str:
    """Page ``page`` of the keys to augment, :data:`LISTING_PAGE` a page, a JSON string a line."""
    return f"{work_prefix(run_id)}listing/{page:05d}.jsonl"


def chunks_prefix(run_id: str, shard: int) -> str:
    return f"{work_prefix(run_id)}chunks/{shard:05d}/"


def chunk_records_key(run_id: str, shard: int, chunk: int) -> str:
    """The manifest records of one committed chunk of a shard, before publication."""
    return f"{chunks_prefix(run_id, shard)}{chunk:05d}.jsonl"


def chunk_failures_key(run_id: str, shard: int, chunk: int) -> str:
    return f"{chunks_prefix(run_id, shard)}{chunk:05d}.failures.jsonl"


def chunk_commit_key(run_id: str, shard: int, chunk: int) -> str:
    """Written last for a chunk: its counts; a retry resumes after it."""
    return f"{chunks_prefix(run_id, shard)}{chunk:05d}.json"


def chunk_of_commit(key: str) -> int | None:
    """The chunk number of a commit key (``.../CCCCC.json``), None for the chunk's other objects."""
    name = key.rsplit("/", 1)[-1]
    stem, dot, extension = name.partition(".")
    return int(stem) if extension == "json" and dot and stem.isdigit() else None


def work_archive_key(run_id: str, shard: int, chunk: int, piece: int) -> str:
    """Archive ``piece`` of a chunk of a shard, before publication."""
    return f"{work_prefix(run_id)}archives/{shard:05d}/{chunk:05d}-{piece:02d}.tar"


def archives_generation_prefix(generation: str) -> str:
    return f"{ARCHIVES_PREFIX}{generation}/"


def archives_run_prefix(generation: str, run_id: str) -> str:
    """One run's published archives (and, on S3, its staged uploads, until published)."""
    return f"{archives_generation_prefix(generation)}{run_id}/"


def published_archive_key(generation: str, run_id: str, shard: int, chunk: int, piece: int) -> str:
    """Where a chunk's archive is published, and what its records name as their ``archive``."""
    return f"{archives_run_prefix(generation, run_id)}shard-{shard:05d}-{chunk:05d}-{piece:02d}.tar"


def archive_list_key(generation: str, run_id: str) -> str:
    """The list of one run's published archives: a key a line, as the records name their ``archive``.

    One small file a run, written once: an incremental run adds its own list and rewrites none.
    """
    return f"{archives_generation_prefix(generation)}{run_id}.txt"


def shard_done_key(run_id: str, shard: int) -> str:
    """Written when every chunk of shard ``shard`` is committed: the shard's counts."""
    return f"{work_prefix(run_id)}shards/{shard:05d}.json"


def generation_prefix(generation: str) -> str:
    return f"{MANIFEST_PREFIX}{generation}/"


def published_part_key(generation: str, run_id: str, shard: int, chunk: int) -> str:
    return f"{generation_prefix(generation)}{run_id}/part-{shard:05d}-{chunk:05d}.jsonl"


def failures_generation_prefix(generation: str) -> str:
    return f"{FAILURES_PREFIX}{generation}/"


def published_failures_key(generation: str, run_id: str, shard: int, chunk: int) -> str:
    return f"{failures_generation_prefix(generation)}{run_id}/part-{shard:05d}-{chunk:05d}.jsonl"


def run_entry_key(run_id: str) -> str:
    return f"{RUNS_PREFIX}{run_id}.json"


def sources_key(level: int, run_id: str) -> str:
    """One sorted file of recorded sources; its level is about log4 of its key count."""
    return f"{SOURCES_PREFIX}L{level:02d}-{run_id}.jsonl"


def level_of_sources(key: str) -> int | None:
    """The level in a :func:`sources_key` name, None for anything else."""
    name = key.rsplit("/", 1)[-1]
    if not (name.startswith("L") and name.endswith(".jsonl") and name[1:3].isdigit() and name[3:4] == "-"):
        return None
    return int(name[1:3])
