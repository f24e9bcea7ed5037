"""The recorded-sources index stays small in files and bytes read, whatever the number of runs."""

from __future__ import annotations

from kaleidoscope.steps import recorded, run_layout
from kaleidoscope.steps.storage import LocalStorage


def keys(prefix: str, count: int) -> list[str]:
    return [f"{prefix}/{index:06d}.jpg" for index in range(count)]


def test_levels_follow_log4_of_the_count():
    assert [recorded.level_for(n) for n in (0, 1, 3, 4, 15, 16, 63, 64, 1_000_000)] == [0, 0, 0, 1, 1, 2, 2, 3, 9]


def test_a_year_of_nightly_runs_keeps_a_logarithmic_number_of_files(tmp_path):
    destination = LocalStorage(tmp_path / "dest")
    everything = keys("base", 5000)
    recorded.replace_all(destination, "full", iter(everything), len(everything))
    for night in range(365):
        added = keys(f"night{night:03d}", 10)
        recorded.add(destination, f"n{night:03d}", iter(added), len(added))
        everything += added
    files = recorded.files(destination)
    # Three files a level at most, levels up to log4 of the total: a few dozen, not 366.
    assert len(files) <= 3 * (recorded.level_for(len(everything)) + 1), files
    assert list(recorded.read(destination)) == sorted(everything)
    # The full run's big file was never rewritten by the small nightly merges.
    assert any(key.endswith("-full.jsonl") for _, key in files)


def test_a_full_run_replaces_the_index_only_once_it_is_current(tmp_path):
    destination = LocalStorage(tmp_path / "dest")
    recorded.replace_all(destination, "first", iter(keys("a", 10)), 10)
    recorded.write_run(destination, "second", iter(keys("b", 5)), 5)
    # Until the second run's generation is current, the index holds both (a superset).
    assert len(list(recorded.read(destination))) == 15
    recorded.keep_only(destination, "second")
    assert list(recorded.read(destination)) == keys("b", 5)


def test_a_corrupt_index_file_is_named(tmp_path):
    import pytest

    from kaleidoscope.steps.errors import KaleidoscopeError

    destination = LocalStorage(tmp_path / "dest")
    destination.write(run_layout.sources_key(0, "bad"), b"not json\n")
    with pytest.raises(KaleidoscopeError, match=r"sources/L00-bad\.jsonl: a line is not JSON"):
        list(recorded.read(destination))
