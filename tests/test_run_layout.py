"""The run folder's layout, spelled out: these keys are on users' buckets, so a change here
strands what earlier versions wrote (an incremental run reads every earlier run's index)."""

from __future__ import annotations

from kaleidoscope.steps import run_layout


def test_the_keys_kaleidoscope_writes_beside_the_outputs():
    assert run_layout.MANIFEST == "manifest.jsonl"
    assert run_layout.SUMMARY == "summary.json"
    assert run_layout.RECORDED == "_kaleidoscope/recorded-sources.jsonl"
    assert run_layout.run_prefix("uid-1") == "_kaleidoscope/uid-1"
    assert run_layout.run_record_key("uid-1") == "_kaleidoscope/uid-1/run.json"
    assert run_layout.shard_key("uid-1", 7) == "_kaleidoscope/uid-1/shards/00007.jsonl"
    assert run_layout.attempt_key("uid-1", 7) == "_kaleidoscope/uid-1/attempts/00007"
    assert run_layout.part_key("uid-1", 12345) == "_kaleidoscope/uid-1/parts/12345.jsonl"
