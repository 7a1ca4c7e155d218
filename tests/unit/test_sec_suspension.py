"""The store side of detection: SQL windows agree with the pure rules; a suspension is
written once, with its revocation and alert; re-enabling and resets undo what they must."""
from __future__ import annotations

import random

import pytest

from simulator.security.detection import Lookup, Thresholds, summarise
from simulator.security.suspension import (RESTORED, LookupWatch, account_report, alerts, enable, reset_credentials,
                                           window_stats)
from simulator.store import Store
from simulator.credentials import secret_ok


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "platform.sqlite"))


def test_sql_window_equals_the_pure_summary(store):
    rng = random.Random(3)
    rows = [Lookup(rng.uniform(0, 200), f"b-{rng.randrange(30)}", rng.random() < 0.6, rng.random() < 0.7)
            for _ in range(400)]
    with store.tx() as db:
        db.executemany("INSERT INTO lookups (client_id, at, beneficiary_key, ok, with_card) VALUES ('c',?,?,?,?)",
                       [(r.at, r.beneficiary_key, int(r.ok), int(r.with_card)) for r in rows])
        db.execute("INSERT INTO lookups (client_id, at, beneficiary_key, ok, with_card) VALUES ('other', 150, 'x', 0, 1)")
        for since in (0.0, 50.0, 140.0, 199.0):
            assert window_stats(db, "c", since) == summarise(rows, since)


def probe(watch: LookupWatch, client: str, i: int, now: float):
    return watch.record(client, Lookup(now, f"probe-{i}", False, True), now)


def test_probes_suspend_once_with_revocation_and_alert(store):
    watch = LookupWatch(store, Thresholds())
    verdicts = [probe(watch, "opt-000000", i, 1000.0 + i * 0.05) for i in range(25)]
    firsts = [i for i, (v, first) in enumerate(verdicts, 1) if first]
    assert firsts == [20]  # the 20th probe tips it (rule 2), and only one call is "first"
    assert all(v is not None for v, _ in verdicts[19:])
    report = account_report(store, "opt-000000")
    assert report["suspended"] and report["revoked"] and report["lookups_until_suspension"] == 20
    assert report["suspended_reason"].startswith("failed_proofs")
    kinds = [a["kind"] for a in alerts(store)]
    assert kinds == ["account_suspended"]
    assert alerts(store)[0]["detail"]["distinct_identities_probed"] == 20
    rows = store.query("SELECT kind, value FROM revocations")
    assert [(r["kind"], r["value"]) for r in rows] == [("account", "opt-000000")]


def test_two_workers_detecting_together_write_one_suspension(tmp_path):
    path = str(tmp_path / "p.sqlite")
    a, b = LookupWatch(Store(path), Thresholds()), LookupWatch(Store(path), Thresholds())
    firsts = sum(probe(a if i % 2 else b, "opt-000002", i, 1000.0 + i * 0.05)[1] for i in range(30))
    assert firsts == 1
    assert len(alerts(Store(path))) == 1


def test_honest_lookups_write_no_alert(store):
    watch = LookupWatch(store, Thresholds())
    for i in range(300):
        verdict, _ = watch.record("opt-000004", Lookup(1000 + i / 10, f"b-{i}", True, True), 1000 + i / 10)
        assert verdict is None
    report = account_report(store, "opt-000004")
    assert not report["suspended"] and report["distinct_beneficiaries_answered"] == 300
    assert alerts(store) == []


def test_enable_lifts_everything_and_marks_the_restoration(store):
    watch = LookupWatch(store, Thresholds())
    for i in range(20):
        probe(watch, "opt-000000", i, 1000.0 + i)
    version_before = store.revocations_since(0)[0]
    assert enable(store, "opt-000000", 2000.0) is True
    assert enable(store, "opt-000000", 2001.0) is False  # nothing to lift the second time
    version, rows = store.revocations_since(0)
    assert version > version_before
    assert [(r["kind"], r["value"]) for r in rows] == [(RESTORED, "opt-000000")]
    report = account_report(store, "opt-000000")
    assert not report["suspended"] and not report["revoked"] and report["lookups"] == 0
    # the old probes are gone: the next miss starts a fresh window
    assert probe(watch, "opt-000000", 99, 2002.0) == (None, False)
    assert [a["kind"] for a in alerts(store)] == ["account_suspended", "account_enabled"]


def test_a_second_suspension_gets_a_fresh_revocation_version(store):
    watch = LookupWatch(store, Thresholds())
    for i in range(20):
        probe(watch, "opt-000000", i, 1000.0 + i)
    first_seq = store.query("SELECT seq FROM revocations WHERE kind='account'")[0]["seq"]
    enable(store, "opt-000000", 2000.0)
    for i in range(20):
        probe(watch, "opt-000000", 100 + i, 3000.0 + i)
    rows = store.query("SELECT seq, kind FROM revocations")
    assert [r["kind"] for r in rows] == ["account"] and rows[0]["seq"] > first_seq


def test_reset_credentials_bumps_the_version_and_stores_the_new_secrets_digest(store):
    first = reset_credentials(store, "aud-000001", 1000.0)
    second = reset_credentials(store, "aud-000001", 1001.0)
    assert (first["credential_version"], second["credential_version"]) == (1, 2)
    assert first["client_secret"] != second["client_secret"] and len(second["client_secret"]) >= 32
    row = store.query("SELECT secret FROM accounts WHERE client_id='aud-000001'")[0]
    assert row["secret"].startswith("$argon2id$") and secret_ok(row["secret"], second["client_secret"])  # hashed
    assert not secret_ok(row["secret"], first["client_secret"])
    assert second["client_secret"] not in row["secret"]
    assert second["client_secret"] not in str(alerts(store))


def test_slow_prober_is_caught_by_the_hour_window(store):
    watch = LookupWatch(store, Thresholds(long_check_every_s=0.0))
    hits = [probe(watch, "opt-000006", i, 1000.0 + i * 4.0) for i in range(102)]
    first = next(i for i, (v, f) in enumerate(hits, 1) if f)
    assert first == 101 and hits[first - 1][0].rule == "slow_enumeration"
