"""Persisted caches: round trip, atomic replacement, ages, re-read only on change."""
from __future__ import annotations

import json
import os

import pytest

from gateway.offline.disk_cache import DiskCache

JWKS = {"keys": [{"kid": "amc-123456789", "kty": "OKP", "crv": "Ed25519", "x": "abc"}]}


def test_round_trip_and_missing(tmp_path):
    cache = DiskCache(str(tmp_path / "c"))
    assert cache.load("jwks") is None
    cache.save("jwks", JWKS, fetched_at=1000.5)
    assert cache.load("jwks") == (JWKS, 1000.5)
    assert DiskCache(str(tmp_path / "c")).load("jwks") == (JWKS, 1000.5)  # another process
    with open(tmp_path / "c" / "jwks.json") as f:
        assert json.load(f) == {"fetched_at": 1000.5, "value": JWKS}


def test_torn_temp_file_is_ignored_and_no_temp_left(tmp_path):
    cache = DiskCache(str(tmp_path))
    cache.save("revocations", {"version": 7, "cards": ["S-1"]}, fetched_at=10.0)
    # A writer that died mid-write leaves a partial temp file beside the real one.
    (tmp_path / ".revocations.abc123.tmp").write_text('{"fetched_at": 99, "value": {"vers')
    assert cache.load("revocations") == ({"version": 7, "cards": ["S-1"]}, 10.0)
    assert DiskCache(str(tmp_path)).load("revocations")[0]["version"] == 7
    cache.save("revocations", {"version": 8, "cards": []}, fetched_at=11.0)
    leftovers = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert leftovers == [".revocations.abc123.tmp"]  # our own save left nothing behind


def test_corrupt_main_file_reads_as_missing(tmp_path):
    (tmp_path / "standin-policy.json").write_text("{not json")
    assert DiskCache(str(tmp_path)).load("standin-policy") is None


def test_failed_write_keeps_the_old_value(tmp_path):
    cache = DiskCache(str(tmp_path))
    cache.save("jwks", JWKS, fetched_at=1.0)
    with pytest.raises(TypeError):
        cache.save("jwks", {"bad": object()}, fetched_at=2.0)
    assert cache.load("jwks") == (JWKS, 1.0)
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def test_age_is_since_fetch(tmp_path):
    cache = DiskCache(str(tmp_path))
    assert cache.age_s("jwks", now=500.0) is None
    cache.save("jwks", JWKS, fetched_at=400.0)
    assert cache.age_s("jwks", now=500.0) == 100.0


def test_reader_sees_what_another_writer_saved(tmp_path):
    leader, worker = DiskCache(str(tmp_path)), DiskCache(str(tmp_path))
    leader.save("standin-policy", {"v": 1}, fetched_at=1.0)
    assert worker.load("standin-policy") == ({"v": 1}, 1.0)
    leader.save("standin-policy", {"v": 2}, fetched_at=2.0)  # same size, maybe same mtime tick
    assert worker.load("standin-policy") == ({"v": 2}, 2.0)


def test_unchanged_file_is_not_reread(tmp_path):
    cache = DiskCache(str(tmp_path))
    cache.save("jwks", {"v": 1}, fetched_at=1.0)
    assert cache.load("jwks") == ({"v": 1}, 1.0)
    path = tmp_path / "jwks.json"
    st = os.stat(path)
    with open(path, "r+") as f:  # same inode, same size, mtime put back: "unchanged"
        text = f.read().replace('"v":1', '"v":9')
        f.seek(0)
        f.write(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert cache.load("jwks") == ({"v": 1}, 1.0)  # served from the memo
    assert DiskCache(str(tmp_path)).load("jwks") == ({"v": 9}, 1.0)  # honest: the file did change


def test_names_cannot_escape_the_directory(tmp_path):
    cache = DiskCache(str(tmp_path))
    for bad in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            cache.save(bad, {}, fetched_at=0.0)
