"""The WebDataset tar layout (steps/archive.py), read back by the readers training uses: Python's
tarfile, GNU tar, and the ``webdataset`` package, with names that try to break it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import webdataset

from kaleidoscope.steps import archive
from kaleidoscope.steps.storage import LocalStorage

# Source keys that would collide, escape the archive or overflow ustar's 100-byte name field if
# they were used as member names as they are.
AWKWARD_KEYS = [
    "cats/tom.jpg",
    "cats/tom_jpg",  # the same as the first once a dot became anything but its escape
    "cats/tom%2Ejpg",  # the escape itself, as a literal key
    "../outside.jpg",
    "a/../../b.png",
    "/absolute.jpg",
    "double//slash/.hidden.jpg",
    "trailing/",
    "back\\slash.jpg",
    "ça va/Ünïcödé 写真.jpeg",
    "long/" + "x" * 150 + "/" + "é" * 80 + ".jpg",
]


def _pack(path: Path, samples: list[tuple[str, bytes, dict]]) -> dict[str, archive.Member]:
    packer = archive.Packer()
    members = {}
    with open(path, "wb") as handle:
        for key, image, params in samples:
            for name, data in ((f"{key}.jpg", image), (f"{key}.json", json.dumps(params).encode())):
                pieces, member = packer.add(name, data)
                for piece in pieces:
                    handle.write(piece)
                members[name] = member
        handle.write(archive.TRAILER)
    assert path.stat().st_size == packer.size_with_trailer()
    return members


def _samples() -> list[tuple[str, bytes, dict]]:
    return [
        (
            archive.sample_key(source, ["flip_lr"] if n % 2 else []),
            f"image {n} of {source}".encode() * (n + 1),
            {"n": n},
        )
        for n, source in enumerate(AWKWARD_KEYS)
    ]


def test_sample_keys_are_distinct_dotless_and_stay_inside_the_archive():
    keys = [archive.escape_key(source) for source in AWKWARD_KEYS]
    assert len(set(keys)) == len(keys)
    for key in keys:
        assert "." not in key and "\\" not in key
        assert all(part not in ("", ".", "..") for part in key.split("/")), key
    assert archive.escape_key("cats/tom.jpg") == "cats/tom%2Ejpg"
    assert archive.escape_key("cats/tom%2Ejpg") == "cats/tom%252Ejpg"
    assert archive.escape_key("ça va/写真.jpeg") == "ça va/写真%2Ejpeg"  # unicode stays readable
    assert archive.sample_key("a.png", []) == "a%2Epng__original"
    assert archive.sample_key("a.png", ["flip_lr", "noise"]) == "a%2Epng__flip_lr+noise"


def test_members_offsets_and_headers_as_tar_reads_them(tmp_path):
    path = tmp_path / "shard.tar"
    samples = _samples()
    members = _pack(path, samples)
    data = path.read_bytes()
    with tarfile.open(path) as tar:
        infos = tar.getmembers()
        assert [info.name for info in infos] == list(members)
        for info in infos:
            assert (info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode) == (0, 0, 0, "", "", 0o444)
            assert info.isreg()
            member = members[info.name]
            assert (info.offset_data, info.size) == (member.offset, member.size)
            # A range GET of offset..offset+size-1 gives the member's bytes.
            assert data[member.offset : member.offset + member.size] == tar.extractfile(info).read()
    long_names = [name for name in members if len(name.encode()) > 100]
    assert long_names, "the long key must need a pax header"
    # The names survive whole: pax, not ustar's truncation or GNU's longlink.
    assert any(name.startswith("long/" + "x" * 150) for name in long_names)


def test_the_same_members_give_the_same_bytes(tmp_path):
    _pack(tmp_path / "one.tar", _samples())
    _pack(tmp_path / "two.tar", _samples())
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar is not installed here")
def test_gnu_tar_lists_and_extracts_inside_its_folder(tmp_path):
    path = tmp_path / "shard.tar"
    members = _pack(path, _samples())
    listed = subprocess.run(["tar", "-tf", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert listed == list(members)
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["tar", "-xf", str(path), "-C", str(out)], check=True, capture_output=True)
    extracted = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert extracted == sorted(members)


def test_webdataset_reads_one_sample_per_output(tmp_path):
    path = tmp_path / "shard-00000.tar"
    samples = _samples()
    _pack(path, samples)
    read = list(webdataset.WebDataset(str(path), shardshuffle=False))
    assert [sample["__key__"] for sample in read] == [key for key, _, _ in samples]
    for sample, (_, image, params) in zip(read, samples, strict=True):
        assert set(sample) >= {"jpg", "json"}
        assert hashlib.sha256(sample["jpg"]).digest() == hashlib.sha256(image).digest()
        assert json.loads(sample["json"]) == params


def _series(root: Path, max_bytes: int) -> tuple[list[str], list[list[archive.Placed]]]:
    series = archive.ArchiveSeries(LocalStorage(root), lambda n: f"packed/shard-{n:05d}.tar", max_bytes)
    placed = [
        series.add(key, [("jpg", image), ("json", json.dumps(params).encode())]) for key, image, params in _samples()
    ]
    return series.close(), placed


def test_a_series_cuts_archives_by_size_between_samples(tmp_path):
    samples = _samples()
    keys, placed = _series(tmp_path / "one", max_bytes=8 * 1024)
    assert len(keys) > 1 and keys[0] == "packed/shard-00000.tar"
    for key in keys:
        # Each archive ends whole; only an archive holding one sample larger than the bound may pass it.
        path = tmp_path / "one" / key
        with tarfile.open(path) as tar:
            names = tar.getnames()
        assert path.stat().st_size <= 8 * 1024 or len(names) == 2
    # Both members of a sample sit in one archive, at the offsets the series returned.
    for (key, image, _), (jpg, meta) in zip(samples, placed, strict=True):
        assert jpg.archive == meta.archive and jpg.member.name == f"{key}.jpg"
        data = (tmp_path / "one" / jpg.archive).read_bytes()
        assert data[jpg.member.offset : jpg.member.offset + jpg.member.size] == image
    # webdataset reads the series as one dataset, every sample once and in order.
    read = list(webdataset.WebDataset([str(tmp_path / "one" / key) for key in keys], shardshuffle=False))
    assert [sample["__key__"] for sample in read] == [key for key, _, _ in samples]
    # The same samples cut the same way into the same bytes.
    again, _ = _series(tmp_path / "two", max_bytes=8 * 1024)
    assert again == keys
    assert all((tmp_path / "one" / k).read_bytes() == (tmp_path / "two" / k).read_bytes() for k in keys)


def test_an_aborted_series_keeps_only_the_archives_it_committed(tmp_path):
    storage = LocalStorage(tmp_path)
    series = archive.ArchiveSeries(storage, lambda n: f"packed/shard-{n:05d}.tar", max_bytes=4 * 1024)
    series.add("a", [("jpg", b"x" * 3000)])
    series.add("b", [("jpg", b"y" * 3000)])  # closes the first archive
    series.abort()
    assert sorted(p.name for p in (tmp_path / "packed").iterdir()) == ["shard-00000.tar"]
