"""Key rotation (pure) and the keyring file; client secrets issued once and stored hashed."""
from __future__ import annotations

import json
import os
import stat
import threading

import pytest

from simulator.credentials import hashed, issue, secret_ok
from simulator.key_rotation import (KeyEntry, current, kid_of, published, retired_now, rotated,
                                    unchanged_between)
from simulator.keys import Keyring, KeyringMissing, new_key
from simulator.store import Store

AMCS = ["123456789", "987654321"]


def entry(family: str, version: int, created: float, retires: float | None) -> KeyEntry:
    return KeyEntry(family, version, created, retires, *new_key())


def test_kids_name_the_family_and_the_version():
    assert kid_of("amc-123456789", 2) == "amc-123456789-2" and kid_of("token", 1) == "token-1"


def test_a_rotation_publishes_both_keys_for_the_overlap_then_only_the_new_one():
    """At t=100 the family rotates with a 50 s overlap: version 1 retires at 150.
    Published at 149: v1 and v2; at 150: v2 only. The current (signing) key is v2 from 100."""
    ring = (entry("amc-123456789", 1, 0.0, None), entry("token", 1, 0.0, None))
    after = rotated(ring, "amc-123456789", *new_key(), now=100.0, overlap_s=50.0)
    assert current(after, "amc-123456789").version == 2
    assert {e.kid for e in published(after, 149.0)} == {"amc-123456789-1", "amc-123456789-2", "token-1"}
    assert {e.kid for e in published(after, 150.0)} == {"amc-123456789-2", "token-1"}
    assert current(after, "token").version == 1 and [e for e in after if e.family == "token"][0].retires_at is None


def test_retired_keys_lose_their_private_half_and_advices_are_judged_with_the_keys_of_their_time():
    """v1 retires at 150 (rotation at 100, overlap 50). A second rotation at 200 drops v1's
    private half but keeps its public one: an advice decided at 120 is judged with v1."""
    ring = (entry("token", 1, 0.0, None),)
    ring = rotated(ring, "token", *new_key(), now=100.0, overlap_s=50.0)
    ring = rotated(ring, "token", *new_key(), now=200.0, overlap_s=50.0)
    v1 = next(e for e in ring if e.version == 1)
    assert v1.private == b"" and v1.public
    assert {e.kid for e in published(ring, 120.0)} == {"token-1", "token-2", "token-3"}
    assert {e.kid for e in published(ring, 300.0)} == {"token-3"}
    assert unchanged_between(ring, 120.0) == (float("-inf"), 150.0)  # token-1 retires at 150, token-2 at 250
    assert unchanged_between(ring, 300.0) == (250.0, float("inf"))


def test_retiring_now_ends_an_overlap_but_never_the_current_key():
    ring = rotated((entry("token", 1, 0.0, None),), "token", *new_key(), now=100.0, overlap_s=3600.0)
    ended = retired_now(ring, "token-1", 200.0)
    assert {e.kid for e in published(ended, 200.0)} == {"token-2"}
    with pytest.raises(ValueError):
        retired_now(ring, "token-2", 200.0)
    with pytest.raises(KeyError):
        retired_now(ring, "token-9", 200.0)
    with pytest.raises(ValueError):
        rotated(ring, "token", *new_key(), now=300.0, overlap_s=-1)


def test_the_keyring_file_is_private_random_and_seen_by_every_reader(tmp_path):
    a = Keyring.ensure(tmp_path, AMCS, 1000.0)
    b = Keyring.ensure(tmp_path / "other", AMCS, 1000.0)
    assert stat.S_IMODE(os.stat(a.path).st_mode) == 0o600 and stat.S_IMODE(os.stat(a.dir).st_mode) == 0o700
    assert {k["x"] for k in a.jwks(1000.0)["keys"]}.isdisjoint({k["x"] for k in b.jwks(1000.0)["keys"]})
    reader = Keyring.open(tmp_path)  # another process's view of the same directory
    kid, _ = reader.card_signer(AMCS[0])
    assert kid == f"amc-{AMCS[0]}-1"
    a.rotate(f"amc-{AMCS[0]}", 2000.0, 60.0)
    assert reader.card_signer(AMCS[0])[0] == f"amc-{AMCS[0]}-2"  # re-read on change
    assert reader.public_key(kid, 2059.0) is not None and reader.public_key(kid, 2060.0) is None
    again = Keyring.ensure(tmp_path, AMCS + ["555555555"], 3000.0)  # a new AMC gets a key, others keep theirs
    assert again.card_signer(AMCS[0])[0] == f"amc-{AMCS[0]}-2" and again.card_signer("555555555")[0].endswith("-1")
    with pytest.raises(KeyringMissing):
        Keyring.open(tmp_path / "nowhere")
    assert json.loads(a.path.read_text())["format"] == 1


def test_concurrent_rotations_each_add_one_version(tmp_path):
    ring = Keyring.ensure(tmp_path, AMCS, 0.0)
    threads = [threading.Thread(target=lambda: Keyring.open(tmp_path).rotate("token", 10.0, 5.0)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(e.version for e in ring.entries() if e.family == "token") == list(range(1, 10))


def test_secrets_are_issued_once_and_only_their_argon2id_hash_is_kept(tmp_path):
    store = Store(str(tmp_path / "platform.sqlite"))
    first = issue(store, ["opt-000000", "gw-1"], 100.0)
    assert all(len(r["client_secret"]) >= 40 for r in first)
    assert issue(store, ["opt-000000"], 101.0) == [{"client_id": "opt-000000", "client_secret": None}]
    row = store.query("SELECT secret FROM accounts WHERE client_id='opt-000000'")[0]["secret"]
    assert row.startswith("$argon2id$") and first[0]["client_secret"] not in row
    assert secret_ok(row, first[0]["client_secret"]) and not secret_ok(row, "guess")
    assert not secret_ok(None, first[0]["client_secret"]) and not secret_ok("sha256:abc", "abc")
    again = issue(store, ["opt-000000"], 102.0, reissue=True)[0]["client_secret"]
    row2 = store.query("SELECT secret, credential_version FROM accounts WHERE client_id='opt-000000'")[0]
    assert secret_ok(row2["secret"], again) and not secret_ok(row2["secret"], first[0]["client_secret"])
    assert row2["credential_version"] == 1  # a reissue is a reset: older tokens stop
    assert hashed("x") != hashed("x")  # salted
