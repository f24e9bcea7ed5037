"""The keys Kaleidoscope writes beside the outputs, spelled out: they are on users' buckets, so a
change here strands what earlier versions wrote (an incremental run reads the earlier runs' index)."""

from __future__ import annotations

import fnmatch

from kaleidoscope.steps import run_layout


def test_published_keys_are_what_dataset_readers_glob():
    part = run_layout.published_part_key("gen-1", "uid-2", 7, 3)
    assert part == "manifest/gen-1/uid-2/part-00007-00003.jsonl"
    assert fnmatch.fnmatch(part, run_layout.MANIFEST_GLOB)
    assert run_layout.published_failures_key("gen-1", "uid-2", 7, 3) == "failures/gen-1/uid-2/part-00007-00003.jsonl"
    assert run_layout.SUMMARY == "summary.json"
    # Readers skip folders starting with "_" or ".": nothing published does, all bookkeeping does.
    for key in (part, run_layout.published_failures_key("g", "r", 0, 0), run_layout.SUMMARY):
        assert not any(segment.startswith(("_", ".")) for segment in key.split("/"))


def test_bookkeeping_keys():
    assert run_layout.CLAIM == "_kaleidoscope/claim.json"
    assert run_layout.HEAD == "_kaleidoscope/head.json"
    assert run_layout.run_entry_key("uid-1") == "_kaleidoscope/runs/uid-1.json"
    assert run_layout.sources_key(3, "uid-1") == "_kaleidoscope/sources/L03-uid-1.jsonl"
    assert run_layout.level_of_sources("_kaleidoscope/sources/L03-uid-1.jsonl") == 3
    assert run_layout.level_of_sources("_kaleidoscope/sources/.merging-uid-1.jsonl") is None


def test_work_keys_of_one_run():
    assert run_layout.work_prefix("uid-1") == "_kaleidoscope/work/uid-1/"
    assert run_layout.run_record_key("uid-1") == "_kaleidoscope/work/uid-1/run.json"
    assert run_layout.listing_key("uid-1", 12) == "_kaleidoscope/work/uid-1/listing/00012.jsonl"
    assert run_layout.chunk_records_key("uid-1", 7, 2) == "_kaleidoscope/work/uid-1/chunks/00007/00002.jsonl"
    assert run_layout.chunk_failures_key("uid-1", 7, 2) == "_kaleidoscope/work/uid-1/chunks/00007/00002.failures.jsonl"
    commit = run_layout.chunk_commit_key("uid-1", 7, 2)
    assert commit == "_kaleidoscope/work/uid-1/chunks/00007/00002.json"
    assert run_layout.chunk_of_commit(commit) == 2
    assert run_layout.chunk_of_commit(run_layout.chunk_records_key("uid-1", 7, 2)) is None
    assert run_layout.shard_done_key("uid-1", 7) == "_kaleidoscope/work/uid-1/shards/00007.json"
