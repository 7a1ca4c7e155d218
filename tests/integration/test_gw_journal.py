"""The gateway's journal on both stores (a real SQLite file, a real PostgreSQL server):
durability, concurrency, velocity under contention, drain leases, exposure. Tests that take
a `journal` or `journal_location` run once per store; the others check one store's own
mechanics (SQLite pragmas and file, PostgreSQL's read-only and unreachable server)."""
from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import uuid
from decimal import Decimal

import pytest

from gateway.app import open_journal
from gateway.offline.journal import (Journal, JournalError, OfflineEntry, VelocityExceeded, VelocityLimit,
                                     new_reference)
from gateway.offline.journal_sqlite import SqliteJournal
from gateway.settings import Settings, journal_location as located

NIR = "185057800608436"
T0 = 1_700_000_000.0


def entry(at: float = T0, key: str = "bk-" + "a" * 40, amc_eur: str = "120.00",
          operation: str = "pec", **kw: object) -> OfflineEntry:
    fields = dict(advice_id=uuid.uuid4().hex, operation=operation, at=at, amc="123456789",
                  card_serial="S-0001", beneficiary_key=key, domain="OPTI",
                  amc_eur=Decimal(amc_eur), cause="unreachable", client_id="opt-1",
                  payload={"request": {"card": "eyJ.x.y", "beneficiary": {"nir": NIR}},
                           "answer": {"decision": "accepted", "amc": Decimal(amc_eur)}})
    fields.update(kw)
    return OfflineEntry(**fields)  # type: ignore[arg-type]


def open_at(location: str) -> Journal:
    return open_journal(located(location, Settings()))


@pytest.fixture
def journal(journal_location):
    j = open_at(journal_location)
    yield j
    j.close()


def test_record_then_counts_per_beneficiary_and_window(journal):
    journal.record(entry(at=T0 - 100, amc_eur="50.00"))
    journal.record(entry(at=T0, amc_eur="70.10"))
    journal.record(entry(at=T0, key="bk-other", amc_eur="999.00"))
    journal.record(entry(at=T0, operation="eligibility", amc_eur="0"))
    assert journal.counts("bk-" + "a" * 40, since=T0 - 100) == (3, Decimal("120.10"))
    assert journal.counts("bk-" + "a" * 40, since=T0 - 99) == (2, Decimal("70.10"))
    assert journal.counts("bk-nobody", since=0) == (0, Decimal("0.00"))


def test_reference_format_uniqueness_and_idempotent_advice(journal):
    e = entry()
    ref = journal.record(e)
    assert ref.startswith("J-") and len(ref) == 18 and int(ref[2:], 16) >= 0
    assert journal.record(e) == ref  # same advice_id: same acceptance, not a second one
    assert journal.status()["recorded"] == 1
    chosen = new_reference()
    assert journal.record(entry(), reference=chosen) == chosen


def test_durable_across_reopen_and_get(journal_location):
    first = open_at(journal_location)
    ref = first.record(entry(amc_eur="42.50"))
    first.close()
    again = open_at(journal_location)
    stored = again.get(ref)
    assert stored["amc_eur"] == "42.50" and stored["state"] == "pending"
    assert stored["payload"]["answer"] == {"decision": "accepted", "amc": "42.50"}
    assert again.get("J-0000000000000000") is None
    again.close()


def test_pragmas_wal_and_full_sync(tmp_path):
    journal = SqliteJournal(str(tmp_path / "journal.db"))
    journal.check()
    conn = journal._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_many_openers_of_a_new_journal_all_succeed(tmp_path, request, store):
    """Gunicorn workers (and replicas) boot together: schema creation (and SQLite's WAL switch)
    must not fail. PostgreSQL: fresh databases, created concurrently by 12 openers each."""
    for trial in range(40 if store == "sqlite" else 5):
        path = str(tmp_path / f"boot-{trial}.db") if store == "sqlite" else request.getfixturevalue("pg_cluster").create_database()
        barrier, errors = threading.Barrier(12), []

        def boot() -> None:
            j = open_at(path)
            barrier.wait()
            try:
                j.check()
            except JournalError as exc:
                errors.append(exc)
            finally:
                j.close()

        threads = [threading.Thread(target=boot) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
    if store == "sqlite":
        assert os.stat(path).st_mode & 0o777 == 0o600  # sensitive file: private to the owner


def _record_many(path: str, n: int, queue) -> None:  # runs in a spawned process
    j = open_at(path)
    queue.put([j.record(entry(at=T0 + i)) for i in range(n)])
    j.close()


def test_two_processes_recording_concurrently_lose_nothing(journal_location):
    path = journal_location
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_record_many, args=(path, 200, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    refs = queue.get(timeout=120) + queue.get(timeout=120)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(refs) == len(set(refs)) == 400
    j = open_at(path)
    assert j.status()["recorded"] == 400 and j.status()["pending"] == 400
    j.close()


def test_claim_lease_semantics(journal):
    refs = [journal.record(entry(at=T0 + i)) for i in range(5)]
    first = journal.claim_batch(limit=3, lease_s=30, now=T0, owner="w1")
    assert [p.reference for p in first] == refs[:3]  # oldest first
    assert all(p.attempts == 1 and p.lease_until == T0 + 30 for p in first)
    second = journal.claim_batch(limit=10, lease_s=30, now=T0 + 1, owner="w2")
    assert [p.reference for p in second] == refs[3:]  # no double claim while leased
    assert journal.claim_batch(limit=10, lease_s=30, now=T0 + 29, owner="w3") == []
    expired = journal.claim_batch(limit=10, lease_s=30, now=T0 + 30, owner="w3")
    assert [p.reference for p in expired] == refs[:3]  # w1 "crashed": its lease expired
    assert expired[0].attempts == 2 and expired[0].advice_id == first[0].advice_id
    assert expired[0].entry.payload == first[0].entry.payload


def test_verdict_is_idempotent_and_drained_entries_are_not_claimed(journal):
    journal.record(entry())
    (p,) = journal.claim_batch(limit=5, lease_s=1, now=T0, owner="w1")
    assert journal.record_verdict(p.advice_id, "rejected", "CONTRACT_TERMINATED", None, T0 + 1)
    assert not journal.record_verdict(p.advice_id, "confirmed", None, None, T0 + 2)
    assert not journal.record_verdict("unknown", "confirmed", None, None, T0 + 2)
    assert journal.claim_batch(limit=5, lease_s=1, now=T0 + 100, owner="w2") == []
    s = journal.status()
    assert (s["pending"], s["drained"], s["rejected"], s["confirmed"]) == (0, 1, 1, 0)
    with pytest.raises(ValueError):
        journal.record_verdict(p.advice_id, "maybe", None, None, T0)


def test_exposure_arithmetic(journal):
    ids = []
    for amount in ("100.00", "200.00", "300.00", "400.00"):
        e = entry(amc_eur=amount)
        journal.record(e)
        ids.append(e.advice_id)
    journal.record_verdict(ids[0], "confirmed", None, Decimal("100.00"), T0)
    journal.record_verdict(ids[1], "adjusted", "CAP", Decimal("150.55"), T0)  # 49.45
    journal.record_verdict(ids[2], "rejected", "CARD_REVOKED", None, T0)  # 300.00
    s = journal.status()
    assert s["exposure_eur"] == "349.45"
    assert (s["recorded"], s["pending"], s["drained"]) == (4, 1, 3)
    assert (s["confirmed"], s["adjusted"], s["rejected"]) == (1, 1, 1)
    assert s["oldest_pending_at"] == T0
    with pytest.raises(ValueError):
        journal.record_verdict(ids[3], "adjusted", None, None, T0)


def test_empty_status(journal):
    assert journal.status() == {"recorded": 0, "pending": 0, "drained": 0, "confirmed": 0,
                                "adjusted": 0, "rejected": 0, "failed": 0, "exposure_eur": "0.00",
                                "oldest_pending_at": None, "failed_eur": "0.00", "cancelled": 0}


@pytest.mark.parametrize("where", ["sqlite", "postgresql"])
def test_unopenable_journal_raises_journal_error(tmp_path, where):
    from tests.support.procs import free_port
    j = open_at(str(tmp_path / "missing-dir" / "j.db") if where == "sqlite"
                else f"postgresql://postgres@127.0.0.1:{free_port()}/nobody")  # nothing listens there
    with pytest.raises(JournalError):
        j.record(entry())
    with pytest.raises(JournalError):
        j.check()


def test_read_only_postgresql_raises_and_stores_nothing(pg_url):
    import psycopg
    first = open_at(pg_url)
    first.check()
    first.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:  # a replica that lost its primary, say
        conn.execute(f"ALTER DATABASE {pg_url.rsplit('/', 1)[1]} SET default_transaction_read_only = on")
    j = open_at(pg_url)
    with pytest.raises(JournalError, match="read-only"):
        j.record(entry())
    assert j.status()["recorded"] == 0
    j.close()


def test_read_only_journal_raises_and_stores_nothing(tmp_path):
    journal = SqliteJournal(str(tmp_path / "journal.db"))
    journal.check()
    journal._conn().execute("PRAGMA query_only=ON")
    with pytest.raises(JournalError):
        journal.record(entry())
    journal._conn().execute("PRAGMA query_only=OFF")
    assert journal.status()["recorded"] == 0


def test_full_disk_raises_journal_error(tmp_path):
    journal = SqliteJournal(str(tmp_path / "journal.db"))
    journal.check()
    conn = journal._conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")  # the file may not grow: "disk full"
    big = {"request": {"blob": "x" * 200_000}}
    with pytest.raises(JournalError, match="full"):
        journal.record(entry(payload=big))


def test_no_nir_outside_payload(journal_location):
    j = open_at(journal_location)
    j.record(entry())
    j.close()
    if journal_location.startswith("postgresql://"):
        import psycopg
        conn = psycopg.connect(journal_location)
        cols = [r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns"
                                           " WHERE table_name='offline_entry' AND column_name<>'payload'")]
    else:
        conn = sqlite3.connect(journal_location)
        cols = [r[1] for r in conn.execute("PRAGMA table_info(offline_entry)") if r[1] != "payload"]
    assert "beneficiary_key" in cols
    for row in conn.execute(f"SELECT {', '.join(cols)} FROM offline_entry"):
        assert all(NIR not in str(v) for v in row)
    assert NIR in conn.execute("SELECT payload FROM offline_entry").fetchone()[0]  # honest check
    conn.close()
    with pytest.raises(ValueError):
        open_at(journal_location).record(entry(key=NIR))  # a clear NIR is refused as a key


def test_velocity_is_rechecked_inside_the_write_transaction(journal_location):
    """Two workers that both decided on the same snapshot cannot both pass the limit."""
    j = open_at(journal_location)
    limit = VelocityLimit(since=0.0, max_count=2, max_amount_eur=Decimal("1000.00"))

    def pec(i: int, amount: str) -> OfflineEntry:
        return OfflineEntry(f"{i:032x}", "pec", 100.0 + i, "123456789", "C1", "b-key", "OPTI", Decimal(amount),
                            "unreachable", {"request": {}}, "opt-000000")
    j.record(pec(1, "400.00"), velocity=limit)
    with pytest.raises(VelocityExceeded):
        j.record(pec(2, "700.00"), velocity=limit)  # amount: 1100 > 1000
    j.record(pec(3, "500.00"), velocity=limit)
    with pytest.raises(VelocityExceeded):
        j.record(pec(4, "1.00"), velocity=limit)  # count: 3 > 2
    assert j.counts("b-key", 0.0, operation="pec") == (2, Decimal("900.00"))


KEYS = [f"bk-contended-{k}" for k in range(8)]


def _race_for_budgets(location: str, start: float, queue) -> None:  # runs in a spawned process
    import time
    j = open_at(location)
    limit = VelocityLimit(since=0.0, max_count=3, max_amount_eur=Decimal("10000.00"))
    while time.time() < start:  # every process starts together
        time.sleep(0.001)
    outcomes = []
    for key in KEYS:  # eight beneficiaries in turn: eight chances for a race at the limit
        for i in range(5):
            try:
                j.record(entry(at=T0 + i, key=key), velocity=limit)
                outcomes.append("accepted")
            except VelocityExceeded:
                outcomes.append("exceeded")
    queue.put(outcomes)
    j.close()


def test_velocity_holds_exactly_under_contention_from_separate_processes(journal_location):
    """Four processes (four workers, or four replicas on one PostgreSQL), each with its own
    connections, record for the same beneficiaries at once: exactly max_count get through."""
    import time
    ctx = multiprocessing.get_context("spawn")
    open_at(journal_location).check()  # the schema exists before the race
    queue, start = ctx.Queue(), time.time() + 3.0
    procs = [ctx.Process(target=_race_for_budgets, args=(journal_location, start, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    outcomes = [o for _ in procs for o in queue.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert outcomes.count("accepted") == 3 * len(KEYS) and len(outcomes) == 4 * 5 * len(KEYS)
    j = open_at(journal_location)
    assert all(j.counts(key, 0.0, operation="pec") == (3, Decimal("360.00")) for key in KEYS)
    j.close()


def test_a_replica_with_other_keys_is_refused_by_a_shared_journal(pg_url):
    """Replicas must share the pseudonym key (one beneficiary, one budget) and the journal's
    seal key (a survivor drains its dead peer's entries); the journal keeps fingerprints."""
    first, second = open_at(pg_url), open_at(pg_url)
    first.bind_keys({"pseudonym": b"p" * 32, "journal": b"j" * 32})
    second.bind_keys({"pseudonym": b"p" * 32, "journal": b"j" * 32})  # the same keys: welcome
    with pytest.raises(JournalError, match="pseudonym key differs"):
        second.bind_keys({"pseudonym": b"q" * 32, "journal": b"j" * 32})
    import psycopg
    with psycopg.connect(pg_url) as conn:  # fingerprints only: the keys never reach the database
        stored = " ".join(r[1] for r in conn.execute("SELECT name, fingerprint FROM deployment_key"))
    assert (b"p" * 32).hex() not in stored and "pppp" not in stored and len(stored.split()) == 2
    first.close()
    second.close()


def test_a_confirmed_cancellation_takes_its_pec_out_of_the_exposure(journal):
    pec = entry(amc_eur="100.00")
    ref = journal.record(pec)
    cancel = entry(operation="cancel", amc_eur="0", payload={"pec_reference": ref, "request": {}})
    journal.record(cancel)
    journal.record_verdict(pec.advice_id, "rejected", "CARD_REVOKED", None, T0)
    assert (journal.status()["exposure_eur"], journal.status()["cancelled"]) == ("100.00", 0)
    journal.record_verdict(cancel.advice_id, "confirmed", None, None, T0)
    assert (journal.status()["exposure_eur"], journal.status()["cancelled"]) == ("0.00", 1)
