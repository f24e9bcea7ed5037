"""A run as its steps share it: the record the shard step writes, the listing pages, the spec the
later steps take, and a step's small result for Argo.

The shard step writes the record and the listing (:mod:`steps.shard`); the augment and manifest
steps open the run here (:func:`open_run`), and read its shard and listing through the functions
below, so no step reaches into another and a command stays a thin layer over its step. Where
each object lives: :mod:`steps.run_layout`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from kaleidoscope.steps import run_layout
from kaleidoscope.steps import spec as spec_module
from kaleidoscope.steps.errors import InvalidInput, KaleidoscopeError
from kaleidoscope.steps.locations import open_storage
from kaleidoscope.steps.spec import Spec
from kaleidoscope.steps.storage import Storage, read_json


def open_run(document: object, run_id: str) -> tuple[Spec, dict | None]:
    """The spec of a step after the shard step, and the run's record (None when unreadable).

    The spec is validated again only if it is not the one the shard step validated and recorded
    for this run (``spec_sha256`` in the run's record). Every pod of a run gets the same spec
    text, so augment and manifest pods skip the schema validator's import (~50 ms of a pod's
    start-up). A step run by hand with another spec, or before any shard step, is validated in
    full, and fails as before when invalid. The record is handed on, so the step does not read
    it again.
    """
    record = None
    destination = document.get("destination") if isinstance(document, dict) else None
    if isinstance(destination, str) and destination:
        try:
            record = read_run(open_storage(destination), run_id)
        except KaleidoscopeError:
            # No record (yet), or an unusable destination: validate in full, which names the
            # problem; an outage fails the step when it reads the record itself.
            record = None
    if not isinstance(record, dict):
        return spec_module.parse(document), None
    return spec_module.parse(document, validated=record.get("spec_sha256")), record


def read_run(destination: Storage, run_id: str) -> dict:
    """The record the shard step wrote for ``run_id``."""
    run = read_json(destination, run_layout.run_record_key(run_id))
    if run is None:
        raise KaleidoscopeError(
            f"{destination.describe(run_layout.run_record_key(run_id))}: no such run "
            "(was the shard step run with this run id?)"
        )
    return run


def listed_keys(destination: Storage, run: dict) -> Iterator[str]:
    """Every key of the run's listing, in order, a page at a time."""
    pages = -(-run["inputs"] // run_layout.LISTING_PAGE)
    for page in range(pages):
        for line in destination.read_lines(run_layout.listing_key(run["run_id"], page)):
            yield json.loads(line)


def read_shard(destination: Storage, run: dict, index: int) -> list[str]:
    """The source keys of shard ``index``: its range of the listing, from the pages it spans."""
    sizes = run["sizes"]
    if not 0 <= index < len(sizes):
        raise InvalidInput(f"--shard: bad value {index}: run {run['run_id']} has {len(sizes)} shards")
    start = sum(sizes[:index])
    end = start + sizes[index]
    keys: list[str] = []
    page_size = run_layout.LISTING_PAGE
    for page in range(start // page_size, (end - 1) // page_size + 1):
        lines = destination.read(run_layout.listing_key(run["run_id"], page)).decode("utf-8").splitlines()
        first = page * page_size
        keys.extend(json.loads(line) for line in lines[max(start - first, 0) : end - first])
    return keys


def write_output(path: str | None, value) -> None:
    """Write a step's small JSON result where Argo reads output parameters from."""
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value, separators=(",", ":")) + "\n", encoding="utf-8")
