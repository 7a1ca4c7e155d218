"""The journal on SQLite (WAL, synchronous=FULL): one file shared by a host's workers.

The embedded default (`--journal path` or `sqlite:///path`). Velocity is serialised by
SQLite's single writer (`BEGIN IMMEDIATE`), leases by the same lock. It cannot be shared
by replicas on several hosts: that is journal_postgres.py.

SENSITIVE FILE (see gateway.offline.journal): created 0600; keep it on a private volume,
never in backups or bug reports.
"""
from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from decimal import Decimal
from typing import Any

from gateway.offline.journal import (PLATFORM_PEC, Journal, JournalError, OfflineEntry, Pending, VelocityExceeded, VelocityLimit,
                                     agreed_cents, dumps, entry_of, entry_row, euros, failed_of, get_of,
                                     keyed_of, new_reference, over_limit, prepared, status_of, trim_to_bytes, validate)

BUSY_TIMEOUT_MS = 5000
CANCELLED_PECS = ("SELECT json_extract(payload, '$.pec_reference') FROM offline_entry"
                  " WHERE operation='cancel' AND verdict='confirmed' AND json_extract(payload, '$.pec_reference')"
                  " IS NOT NULL")
# Columns added after the first release; opening an older journal adds them.
_ADDED_COLUMNS = {"failed_status": "INTEGER", "failed_reason": "TEXT",
                  "pending_answers": "INTEGER NOT NULL DEFAULT 0"}
_SCHEMA = (  # IF NOT EXISTS: every opener may run it
    """CREATE TABLE IF NOT EXISTS offline_entry (
  reference TEXT PRIMARY KEY, advice_id TEXT NOT NULL UNIQUE, operation TEXT NOT NULL,
  at REAL NOT NULL, amc TEXT NOT NULL, card_serial TEXT NOT NULL,
  beneficiary_key TEXT NOT NULL, domain TEXT NOT NULL, amc_cents INTEGER NOT NULL,
  cause TEXT NOT NULL, client_id TEXT NOT NULL, payload TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending', lease_owner TEXT, lease_until REAL,
  attempts INTEGER NOT NULL DEFAULT 0, verdict TEXT, verdict_reason TEXT,
  platform_amc_cents INTEGER, exposure_cents INTEGER, drained_at REAL,
  failed_status INTEGER, failed_reason TEXT, pending_answers INTEGER NOT NULL DEFAULT 0)""",
    # First answers to keyed PECs that were not acceptances (offline declines), so a retry
    # with the same Idempotency-Key gets the same answer. No identity data: the answer only.
    """CREATE TABLE IF NOT EXISTS keyed_answer (
  reference TEXT PRIMARY KEY, client_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
  answer TEXT NOT NULL, at REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS offline_entry_velocity ON offline_entry (beneficiary_key, at)",
    "CREATE INDEX IF NOT EXISTS offline_entry_pending ON offline_entry (state, at)",
)


class SqliteJournal(Journal):
    """One SQLite connection per (process, thread): sqlite3 objects must not cross a fork."""

    def __init__(self, path: str) -> None:
        self.path = self.location = path
        self._local = threading.local()
        self._all: list[tuple[int, sqlite3.Connection]] = []  # (pid, conn), for close()
        self._lock = threading.Lock()

    # -- connection ------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if not os.path.exists(self.path):  # create private before SQLite creates it 0644
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                               isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA synchronous=FULL")
            _retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            conn.execute("BEGIN IMMEDIATE")  # serialise schema creation across processes
            for statement in _SCHEMA:
                conn.execute(statement)
            have = {r[1] for r in conn.execute("PRAGMA table_info(offline_entry)")}
            for name, kind in _ADDED_COLUMNS.items():
                if name not in have:
                    conn.execute(f"ALTER TABLE offline_entry ADD COLUMN {name} {kind}")
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = self._connect()
            self._local.conn, self._local.pid = conn, os.getpid()
            with self._lock:
                self._all.append((os.getpid(), conn))
        return conn

    def _run(self, fn, write: bool):  # type: ignore[no-untyped-def]
        """Run fn(conn) in one transaction; map every storage failure to JournalError."""
        try:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
                return result
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except (sqlite3.Error, OSError) as exc:
            raise JournalError(f"journal {self.path}: {exc}") from exc

    def check(self) -> None:
        """Fail fast at start-up: open, create the schema, take and release a write lock."""
        self._run(lambda c: None, write=True)

    def close(self) -> None:
        with self._lock:
            for pid, conn in self._all:
                if pid == os.getpid():  # a parent's connection is not ours to touch after fork
                    conn.close()
            self._all.clear()
        self._local = threading.local()

    # -- writing offline acceptances -------------------------------------------------
    def record_once(self, entry: OfflineEntry, reference: str | None = None,
                    velocity: VelocityLimit | None = None) -> tuple[str, dict[str, Any] | None]:
        validate(entry)
        row = entry_row(entry)

        def insert(conn: sqlite3.Connection) -> tuple[str, dict[str, Any] | None]:
            # BEGIN IMMEDIATE: the one writer lock serialises every check-then-insert
            known = conn.execute("SELECT reference, payload FROM offline_entry WHERE advice_id=?",
                                 (entry.advice_id,)).fetchone()
            if known:
                return str(known[0]), json.loads(known[1])
            if velocity is not None:
                count, total = conn.execute(
                    "SELECT COUNT(*), COALESCE(SUM(amc_cents), 0) FROM offline_entry"
                    " WHERE beneficiary_key=? AND at>=? AND operation=?",
                    (entry.beneficiary_key, velocity.since, entry.operation)).fetchone()
                if over_limit(count, total, entry, velocity):
                    raise VelocityExceeded(entry.beneficiary_key)
            ref = reference or new_reference()
            conn.execute("INSERT INTO offline_entry (reference, advice_id, operation, at, amc,"
                         " card_serial, beneficiary_key, domain, amc_cents, cause, client_id,"
                         " payload) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", (ref, *row))
            return ref, None

        return self._run(insert, write=True)

    def record_many(self, items: list[tuple[OfflineEntry, str | None, VelocityLimit | None]]
                    ) -> list[tuple[str, dict[str, Any] | None] | Exception]:
        results, rows = prepared(items)

        def insert_all(conn: sqlite3.Connection) -> None:
            for i, entry, reference, velocity, row in rows:
                known = conn.execute("SELECT reference, payload FROM offline_entry WHERE advice_id=?",
                                     (entry.advice_id,)).fetchone()
                if known:
                    results[i] = (str(known[0]), json.loads(known[1]))
                    continue
                if velocity is not None:
                    count, total = conn.execute(
                        "SELECT COUNT(*), COALESCE(SUM(amc_cents), 0) FROM offline_entry"
                        " WHERE beneficiary_key=? AND at>=? AND operation=?",
                        (entry.beneficiary_key, velocity.since, entry.operation)).fetchone()
                    if over_limit(count, total, entry, velocity):
                        results[i] = VelocityExceeded(entry.beneficiary_key)
                        continue
                ref = reference or new_reference()
                conn.execute("INSERT INTO offline_entry (reference, advice_id, operation, at, amc,"
                             " card_serial, beneficiary_key, domain, amc_cents, cause, client_id,"
                             " payload) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", (ref, *row))
                results[i] = (ref, None)

        if rows:
            self._run(insert_all, write=True)
        return results

    def remember_answer(self, reference: str, client_id: str, fingerprint: str, answer: dict[str, Any],
                        now: float) -> dict[str, Any]:
        def keep(conn: sqlite3.Connection) -> dict[str, Any]:
            conn.execute("INSERT OR IGNORE INTO keyed_answer (reference, client_id, fingerprint, answer, at)"
                         " VALUES (?,?,?,?,?)", (reference, client_id, fingerprint, dumps(answer), now))
            return self._keyed(conn, reference)
        return self._run(keep, write=True)

    def keyed_answer(self, reference: str) -> dict[str, Any] | None:
        return self._run(lambda c: self._keyed(c, reference), write=False)

    @staticmethod
    def _keyed(conn: sqlite3.Connection, reference: str) -> dict[str, Any] | None:
        return keyed_of(conn.execute("SELECT client_id, fingerprint, answer FROM keyed_answer WHERE reference=?",
                                     (reference,)).fetchone())

    def counts(self, beneficiary_key: str, since: float, operation: str | None = None) -> tuple[int, Decimal]:
        sql = "SELECT COUNT(*), COALESCE(SUM(amc_cents), 0) FROM offline_entry WHERE beneficiary_key=? AND at>=?"
        args: tuple = (beneficiary_key, since)
        if operation is not None:
            sql, args = sql + " AND operation=?", args + (operation,)
        row = self._run(lambda c: c.execute(sql, args).fetchone(), write=False)
        return int(row[0]), euros(row[1])

    # -- draining as advices ---------------------------------------------------------
    def claim_batch(self, limit: int, lease_s: float, now: float, owner: str,
                    max_bytes: int | None = None) -> list[Pending]:
        until = now + lease_s

        def claim(conn: sqlite3.Connection) -> list[Any]:
            rows = trim_to_bytes(conn.execute(
                "SELECT *, length(payload) AS size FROM offline_entry WHERE state='pending'"
                " AND (lease_until IS NULL OR lease_until<=?) ORDER BY at, rowid LIMIT ?",
                (now, limit)).fetchall(), max_bytes)
            conn.executemany(
                "UPDATE offline_entry SET lease_owner=?, lease_until=?, attempts=attempts+1"
                " WHERE reference=?", [(owner, until, r["reference"]) for r in rows])
            return rows

        return [Pending(r["reference"], entry_of(r), int(r["attempts"]) + 1, until)
                for r in self._run(claim, write=True)]

    def release(self, advice_ids: list[str], not_before: float, pending_answer: bool = False) -> None:
        bump = 1 if pending_answer else 0
        self._run(lambda c: c.executemany(
            "UPDATE offline_entry SET lease_owner=NULL, lease_until=?, pending_answers=pending_answers+?"
            " WHERE advice_id=? AND state='pending'", [(not_before, bump, a) for a in advice_ids]), write=True)

    def set_aside(self, advice_id: str, status: int, reason: str, now: float) -> bool:
        return bool(self._run(lambda c: c.execute(
            "UPDATE offline_entry SET state='failed', failed_status=?, failed_reason=?, drained_at=?,"
            " lease_owner=NULL, lease_until=NULL WHERE advice_id=? AND state='pending'",
            (status, reason[:500], now, advice_id)).rowcount, write=True))

    def requeue(self, reference: str) -> bool:
        return bool(self._run(lambda c: c.execute(
            "UPDATE offline_entry SET state='pending', failed_status=NULL, failed_reason=NULL, drained_at=NULL"
            " WHERE reference=? AND state='failed'", (reference,)).rowcount, write=True))

    def failed(self, limit: int = 20) -> list[dict[str, Any]]:
        return failed_of(self._run(lambda c: c.execute(
            "SELECT reference, operation, at, failed_status, failed_reason, drained_at FROM offline_entry"
            " WHERE state='failed' ORDER BY drained_at DESC LIMIT ?", (limit,)).fetchall(), write=False))

    def record_verdict(self, advice_id: str, verdict: str, reason: str | None,
                       platform_amc_eur: Decimal | None, now: float, pec_number: str | None = None) -> bool:
        agreed_cents(verdict, 0, platform_amc_eur)  # refuse a bad verdict before any write

        def drain(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT amc_cents FROM offline_entry WHERE advice_id=?"
                               " AND state='pending'", (advice_id,)).fetchone()
            if row is None:
                return False
            accepted = int(row[0])
            agreed = agreed_cents(verdict, accepted, platform_amc_eur)
            conn.execute(
                "UPDATE offline_entry SET state='drained', verdict=?, verdict_reason=?,"
                " platform_amc_cents=?, exposure_cents=?, drained_at=?, lease_owner=NULL,"
                " lease_until=NULL, payload=json_set(json_remove(payload, '$.sealed'), '$." + PLATFORM_PEC + "', ?)"
                " WHERE advice_id=?",
                (verdict, reason, agreed, max(0, accepted - agreed), now, pec_number, advice_id))
            return True

        return bool(self._run(drain, write=True))

    # -- reading ---------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return status_of(self._run(lambda c: c.execute(
            "SELECT COUNT(*), SUM(state='pending'), SUM(state='drained'),"
            " SUM(verdict='confirmed'), SUM(verdict='adjusted'), SUM(verdict='rejected'), SUM(state='failed'),"
            " COALESCE(SUM(CASE WHEN reference IN (" + CANCELLED_PECS + ") THEN 0 ELSE exposure_cents END), 0),"
            " MIN(CASE WHEN state='pending' THEN at END),"
            " COALESCE(SUM(CASE WHEN state='failed' THEN amc_cents END), 0),"
            " SUM(operation='cancel' AND verdict='confirmed')"
            " FROM offline_entry").fetchone(), write=False))

    def get(self, reference: str) -> dict[str, Any] | None:
        row = self._run(lambda c: c.execute(
            "SELECT * FROM offline_entry WHERE reference=?", (reference,)).fetchone(), write=False)
        return None if row is None else get_of(row)


def _retry_locked(fn, deadline_s: float = BUSY_TIMEOUT_MS / 1000) -> None:  # type: ignore[no-untyped-def]
    """Switching to WAL needs an exclusive lock and SQLite does not call the busy handler
    for it: when several workers create the file at once, some see "locked" at once."""
    end = time.monotonic() + deadline_s
    while True:
        try:
            fn()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > end:
                raise
            time.sleep(0.01 + random.random() * 0.04)
