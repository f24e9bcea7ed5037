"""Local storage: listing order, atomic writes, key safety, URL dispatch."""

from __future__ import annotations

import pytest

from kaleidoscope.steps.errors import InvalidInput, StorageError
from kaleidoscope.steps.locations import open_storage
from kaleidoscope.steps.storage import LocalStorage, streamed


def test_listing_is_recursive_sorted_and_relative(tmp_path):
    for key in ["b.jpg", "a/z.jpg", "a-b.jpg", "a/b/c.jpg", "ü n i.jpg"]:
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(b"x")
    keys = list(LocalStorage(tmp_path).list_keys())
    assert keys == sorted(keys) == ["a-b.jpg", "a/b/c.jpg", "a/z.jpg", "b.jpg", "ü n i.jpg"]
    assert list(LocalStorage(tmp_path).list_keys("a")) == ["a/b/c.jpg", "a/z.jpg"]


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(StorageError, match="no such folder"):
        list(open_storage(str(tmp_path / "absent")).list_keys())


def test_write_is_atomic_when_interrupted(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.write("x/done.bin", b"old")

    def explode(handle):
        handle.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        storage._atomic(str(tmp_path / "x" / "done.bin"), explode)
    assert (tmp_path / "x" / "done.bin").read_bytes() == b"old"
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["done.bin"]


def test_write_file_streams_a_local_file(tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(bytes(range(256)) * 10000)
    storage = LocalStorage(tmp_path / "dest")
    storage.write_file("a/b.bin", source)
    assert storage.read("a/b.bin") == source.read_bytes()
    assert storage.exists("a/b.bin") and not storage.exists("a/c.bin")


@pytest.mark.parametrize("key", ["../escape.jpg", "/abs.jpg", "a/../../b", "a//b", ""])
def test_keys_cannot_escape_the_root(tmp_path, key):
    with pytest.raises(StorageError, match="not a valid key"):
        LocalStorage(tmp_path).write(key, b"x")


def test_url_forms(tmp_path):
    assert open_storage(f"file://{tmp_path}").root == tmp_path.resolve()
    assert open_storage(str(tmp_path)).root == tmp_path.resolve()
    with pytest.raises(InvalidInput, match="ftp://x"):
        open_storage("ftp://x/y")


def test_unreadable_key_names_the_key(tmp_path):
    with pytest.raises(StorageError, match=r"absent\.jpg: cannot read"):
        LocalStorage(tmp_path).read("absent.jpg")


def test_a_streamed_upload_is_invisible_until_committed(tmp_path):
    storage = LocalStorage(tmp_path)
    with streamed(storage, "shards/a.tar") as upload:
        upload.write(b"first ")
        assert not storage.exists("shards/a.tar")
        upload.write(b"second")
    assert storage.read("shards/a.tar") == b"first second" and upload.size == 12


def test_a_streamed_upload_that_raises_leaves_nothing(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.write("shards/a.tar", b"the earlier archive")
    with pytest.raises(KeyboardInterrupt), streamed(storage, "shards/a.tar") as upload:
        upload.write(b"half an archive")
        raise KeyboardInterrupt
    assert storage.read("shards/a.tar") == b"the earlier archive"
    assert [p.name for p in (tmp_path / "shards").iterdir()] == ["a.tar"]
