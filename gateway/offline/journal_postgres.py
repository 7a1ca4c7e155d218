"""The journal on PostgreSQL: one risk budget for every replica of a gateway.

Chosen by `--journal postgresql://...`. The same contract as the SQLite store, across hosts:
- durable before answered: each write commits with `synchronous_commit=on` (forced per
  session, whatever the server's default) and `check()` warns loudly when the server runs
  with `fsync=off`;
- velocity: a row per (beneficiary, operation) in `offline_budget` is locked FOR UPDATE in
  the recording transaction, so deciders on every replica queue up per beneficiary and each
  counts the window after the previous one committed (READ COMMITTED takes a new snapshot
  per statement): the limit holds exactly, and other beneficiaries never wait;
- drain leases: `claim_batch` selects FOR UPDATE SKIP LOCKED, so two drainers never lease
  the same entry (a row another one is leasing is skipped, one it leased is re-checked);
- bounded waits: statement and lock timeouts turn a stuck server into JournalError (and so
  a decline) instead of a hung request.

Connections: one small pool per process, opened lazily after gunicorn's fork; a connection
is checked before use so a restarted server costs no failed acceptance.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from decimal import Decimal
from typing import Any, Callable

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from gateway.offline.journal import (PLATFORM_PEC, SEALED, Journal, fingerprint, JournalError, OfflineEntry, Pending, VelocityExceeded, VelocityLimit,
                                     agreed_cents, dumps, entry_of, entry_row, euros, failed_of, get_of, keyed_of,
                                     new_reference, over_limit, prepared, redacted, status_of, trim_to_bytes, validate)

log = logging.getLogger("gateway.journal")
SCHEMA_LOCK = 0x7470_6A6F_7572  # pg_advisory_xact_lock key: one schema creator at a time
SESSION = "-c synchronous_commit=on -c statement_timeout=5000 -c lock_timeout=5000"
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS offline_entry (
  seq BIGSERIAL, reference TEXT PRIMARY KEY, advice_id TEXT NOT NULL UNIQUE, operation TEXT NOT NULL,
  at DOUBLE PRECISION NOT NULL, amc TEXT NOT NULL, card_serial TEXT NOT NULL, beneficiary_key TEXT NOT NULL,
  domain TEXT NOT NULL, amc_cents BIGINT NOT NULL, cause TEXT NOT NULL, client_id TEXT NOT NULL,
  payload TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', lease_owner TEXT,
  lease_until DOUBLE PRECISION, attempts INTEGER NOT NULL DEFAULT 0, verdict TEXT, verdict_reason TEXT,
  platform_amc_cents BIGINT, exposure_cents BIGINT, drained_at DOUBLE PRECISION, failed_status INTEGER,
  failed_reason TEXT, pending_answers INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS keyed_answer (
  reference TEXT PRIMARY KEY, client_id TEXT NOT NULL, fingerprint TEXT NOT NULL, answer TEXT NOT NULL,
  at DOUBLE PRECISION NOT NULL)""",
    # The lock that serialises one beneficiary's deciders; it holds no totals (the window slides).
    """CREATE TABLE IF NOT EXISTS offline_budget (
  beneficiary_key TEXT NOT NULL, operation TEXT NOT NULL, PRIMARY KEY (beneficiary_key, operation))""",
    # Fingerprints of the keys every replica must share (pseudonyms, seals), never the keys.
    """CREATE TABLE IF NOT EXISTS deployment_key (name TEXT PRIMARY KEY, fingerprint TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS offline_entry_velocity ON offline_entry (beneficiary_key, at)",
    "CREATE INDEX IF NOT EXISTS offline_entry_pending ON offline_entry (state, at, seq)",
)
CANCELLED_PECS = ("SELECT payload::json->>'pec_reference' FROM offline_entry WHERE operation='cancel'"
                  " AND verdict='confirmed' AND payload::json->>'pec_reference' IS NOT NULL")
_COLUMNS = ("reference, advice_id, operation, at, amc, card_serial, beneficiary_key, domain, amc_cents, cause,"
            " client_id, payload")


class PostgresJournal(Journal):
    def __init__(self, url: str, pool_size: int = 8, wait_s: float = 5.0) -> None:
        self.url, self.location = url, redacted(url)
        self._size, self._wait_s = pool_size, wait_s
        self._pool: ConnectionPool | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._fsync = ""  # the server's fsync setting, once the schema is known to exist

    # -- connection ------------------------------------------------------------------
    def _get_pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():  # a parent's pool is not ours after fork
                self._pool = ConnectionPool(
                    self.url, min_size=1, max_size=self._size, timeout=self._wait_s, open=True,
                    check=ConnectionPool.check_connection, name="gateway-journal",
                    kwargs={"autocommit": True, "connect_timeout": max(1, int(self._wait_s)), "options": SESSION})
                self._pid = os.getpid()
            return self._pool

    def _run(self, fn: Callable[[psycopg.Connection], Any]) -> Any:
        """Run fn(conn) in one transaction; map every storage failure to JournalError.
        The first call of a process creates the schema (every opener may: IF NOT EXISTS)."""
        try:
            with self._get_pool().connection() as conn:
                if not self._fsync:
                    with conn.transaction():
                        self._fsync = _create_schema(conn)
                with conn.transaction():
                    return fn(conn)
        except (psycopg.Error, PoolTimeout, OSError) as exc:
            raise JournalError(f"journal {self.location}: {type(exc).__name__}: {str(exc)[:200]}") from exc

    def check(self) -> None:
        self._run(lambda c: c.execute("SELECT 1 FROM offline_entry LIMIT 1"))
        if self._fsync != "on":
            log.error("journal %s: the server runs with fsync=off: an offline acceptance is NOT durable",
                      self.location)

    def bind_keys(self, keys: dict[str, bytes]) -> None:
        """The first replica records its keys' fingerprints; another with other keys would
        split the budget (other pseudonyms) and could not drain its peers (other seals)."""
        def bind(conn: psycopg.Connection) -> dict[str, str]:
            for name, key in keys.items():
                conn.execute("INSERT INTO deployment_key VALUES (%s, %s) ON CONFLICT DO NOTHING",
                             (name, fingerprint(key)))
            return dict(conn.execute("SELECT name, fingerprint FROM deployment_key").fetchall())
        known = self._run(bind)
        wrong = sorted(n for n, key in keys.items() if known.get(n) != fingerprint(key))
        if wrong:
            raise JournalError(f"journal {self.location}: this replica's {' and '.join(wrong)} key differs from the "
                               "deployment's: give every replica the same GW_PSEUDONYM_KEY_FILE and "
                               "GW_JOURNAL_KEY_FILE (copies of the first replica's)")

    def close(self) -> None:
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.close()
            self._pool = None

    # -- writing offline acceptances -------------------------------------------------
    def record_once(self, entry: OfflineEntry, reference: str | None = None,
                    velocity: VelocityLimit | None = None) -> tuple[str, dict[str, Any] | None]:
        validate(entry)
        row = entry_row(entry)

        def insert(conn: psycopg.Connection) -> tuple[str, dict[str, Any] | None]:
            if velocity is not None:  # queue behind this beneficiary's other deciders, on every replica
                key = (entry.beneficiary_key, entry.operation)
                conn.execute("INSERT INTO offline_budget VALUES (%s, %s) ON CONFLICT DO NOTHING", key)
                conn.execute("SELECT 1 FROM offline_budget WHERE beneficiary_key=%s AND operation=%s FOR UPDATE", key)
            known = self._known(conn, entry.advice_id)
            if known:
                return known
            if velocity is not None:
                count, total = conn.execute(
                    "SELECT COUNT(*), COALESCE(SUM(amc_cents), 0) FROM offline_entry"
                    " WHERE beneficiary_key=%s AND at>=%s AND operation=%s",
                    (entry.beneficiary_key, velocity.since, entry.operation)).fetchone()
                if over_limit(int(count), int(total), entry, velocity):
                    raise VelocityExceeded(entry.beneficiary_key)
            ref = reference or new_reference()
            done = conn.execute(f"INSERT INTO offline_entry ({_COLUMNS}) VALUES ({','.join(['%s'] * 12)})"
                                " ON CONFLICT DO NOTHING RETURNING reference", (ref, *row)).fetchone()
            if done is not None:
                return ref, None
            known = self._known(conn, entry.advice_id)  # a concurrent copy committed first: its answer
            if known:
                return known
            raise JournalError(f"journal {self.location}: reference {ref} already holds another entry")

        return self._run(insert)

    def record_many(self, items: list[tuple[OfflineEntry, str | None, VelocityLimit | None]]
                    ) -> list[tuple[str, dict[str, Any] | None] | Exception]:
        results, rows = prepared(items)

        def insert_all(conn: psycopg.Connection) -> None:
            # every beneficiary row this batch needs, locked in one order: two replicas' batches
            # that share beneficiaries queue instead of deadlocking
            for key in sorted({(e.beneficiary_key, e.operation) for _, e, _, v, _ in rows if v is not None}):
                conn.execute("INSERT INTO offline_budget VALUES (%s, %s) ON CONFLICT DO NOTHING", key)
                conn.execute("SELECT 1 FROM offline_budget WHERE beneficiary_key=%s AND operation=%s FOR UPDATE", key)
            for i, entry, reference, velocity, row in rows:
                known = self._known(conn, entry.advice_id)
                if known:
                    results[i] = known
                    continue
                if velocity is not None:
                    count, total = conn.execute(
                        "SELECT COUNT(*), COALESCE(SUM(amc_cents), 0) FROM offline_entry"
                        " WHERE beneficiary_key=%s AND at>=%s AND operation=%s",
                        (entry.beneficiary_key, velocity.since, entry.operation)).fetchone()
                    if over_limit(int(count), int(total), entry, velocity):
                        results[i] = VelocityExceeded(entry.beneficiary_key)
                        continue
                ref = reference or new_reference()
                done = conn.execute(f"INSERT INTO offline_entry ({_COLUMNS}) VALUES ({','.join(['%s'] * 12)})"
                                    " ON CONFLICT DO NOTHING RETURNING reference", (ref, *row)).fetchone()
                known = None if done else self._known(conn, entry.advice_id)
                results[i] = (ref, None) if done else known or JournalError(
                    f"journal {self.location}: reference {ref} already holds another entry")

        if rows:
            self._run(insert_all)
        return results

    @staticmethod
    def _known(conn: psycopg.Connection, advice_id: str) -> tuple[str, dict[str, Any]] | None:
        row = conn.execute("SELECT reference, payload FROM offline_entry WHERE advice_id=%s", (advice_id,)).fetchone()
        return None if row is None else (str(row[0]), json.loads(row[1]))

    def remember_answer(self, reference: str, client_id: str, fingerprint: str, answer: dict[str, Any],
                        now: float) -> dict[str, Any]:
        def keep(conn: psycopg.Connection) -> dict[str, Any]:
            conn.execute("INSERT INTO keyed_answer (reference, client_id, fingerprint, answer, at)"
                         " VALUES (%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
                         (reference, client_id, fingerprint, dumps(answer), now))
            return self._keyed(conn, reference)
        return self._run(keep)

    def keyed_answer(self, reference: str) -> dict[str, Any] | None:
        return self._run(lambda c: self._keyed(c, reference))

    @staticmethod
    def _keyed(conn: psycopg.Connection, reference: str) -> dict[str, Any] | None:
        return keyed_of(conn.execute("SELECT client_id, fingerprint, answer FROM keyed_answer WHERE reference=%s",
                                     (reference,)).fetchone())

    def counts(self, beneficiary_key: str, since: float, operation: str | None = None) -> tuple[int, Decimal]:
        sql = "SELECT COUNT(*), COALESCE(SUM(amc_cents), 0) FROM offline_entry WHERE beneficiary_key=%s AND at>=%s"
        args: tuple = (beneficiary_key, since)
        if operation is not None:
            sql, args = sql + " AND operation=%s", args + (operation,)
        row = self._run(lambda c: c.execute(sql, args).fetchone())
        return int(row[0]), euros(int(row[1]))

    # -- draining as advices ---------------------------------------------------------
    def claim_batch(self, limit: int, lease_s: float, now: float, owner: str,
                    max_bytes: int | None = None) -> list[Pending]:
        until = now + lease_s

        def claim(conn: psycopg.Connection) -> list[dict[str, Any]]:
            rows = trim_to_bytes(conn.cursor(row_factory=dict_row).execute(
                "SELECT *, octet_length(payload) AS size FROM offline_entry WHERE state='pending'"
                " AND (lease_until IS NULL OR lease_until<=%s) ORDER BY at, seq LIMIT %s FOR UPDATE SKIP LOCKED",
                (now, limit)).fetchall(), max_bytes)
            conn.execute("UPDATE offline_entry SET lease_owner=%s, lease_until=%s, attempts=attempts+1"
                         " WHERE reference = ANY(%s)", (owner, until, [r["reference"] for r in rows]))
            return rows  # rows locked but trimmed away are free again at commit

        return [Pending(r["reference"], entry_of(r), int(r["attempts"]) + 1, until) for r in self._run(claim)]

    def release(self, advice_ids: list[str], not_before: float, pending_answer: bool = False) -> None:
        self._run(lambda c: c.execute(
            "UPDATE offline_entry SET lease_owner=NULL, lease_until=%s, pending_answers=pending_answers+%s"
            " WHERE advice_id = ANY(%s) AND state='pending'", (not_before, 1 if pending_answer else 0, advice_ids)))

    def set_aside(self, advice_id: str, status: int, reason: str, now: float) -> bool:
        return bool(self._run(lambda c: c.execute(
            "UPDATE offline_entry SET state='failed', failed_status=%s, failed_reason=%s, drained_at=%s,"
            " lease_owner=NULL, lease_until=NULL WHERE advice_id=%s AND state='pending'",
            (status, reason[:500], now, advice_id)).rowcount))

    def requeue(self, reference: str) -> bool:
        return bool(self._run(lambda c: c.execute(
            "UPDATE offline_entry SET state='pending', failed_status=NULL, failed_reason=NULL, drained_at=NULL"
            " WHERE reference=%s AND state='failed'", (reference,)).rowcount))

    def failed(self, limit: int = 20) -> list[dict[str, Any]]:
        return failed_of(self._run(lambda c: c.execute(
            "SELECT reference, operation, at, failed_status, failed_reason, drained_at FROM offline_entry"
            " WHERE state='failed' ORDER BY drained_at DESC LIMIT %s", (limit,)).fetchall()))

    def record_verdict(self, advice_id: str, verdict: str, reason: str | None,
                       platform_amc_eur: Decimal | None, now: float, pec_number: str | None = None) -> bool:
        agreed_cents(verdict, 0, platform_amc_eur)  # refuse a bad verdict before any write

        def drain(conn: psycopg.Connection) -> bool:
            row = conn.execute("SELECT amc_cents, payload FROM offline_entry WHERE advice_id=%s AND state='pending'"
                               " FOR UPDATE", (advice_id,)).fetchone()
            if row is None:
                return False
            accepted = int(row[0])
            agreed = agreed_cents(verdict, accepted, platform_amc_eur)
            payload = json.loads(row[1])
            payload.pop(SEALED, None)  # judged: the sealed request is no longer needed
            payload[PLATFORM_PEC] = pec_number
            conn.execute("UPDATE offline_entry SET state='drained', verdict=%s, verdict_reason=%s,"
                         " platform_amc_cents=%s, exposure_cents=%s, drained_at=%s, lease_owner=NULL,"
                         " lease_until=NULL, payload=%s WHERE advice_id=%s",
                         (verdict, reason, agreed, max(0, accepted - agreed), now, dumps(payload), advice_id))
            return True

        return bool(self._run(drain))

    # -- reading ---------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return status_of(self._run(lambda c: c.execute(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE state='pending'), COUNT(*) FILTER (WHERE state='drained'),"
            " COUNT(*) FILTER (WHERE verdict='confirmed'), COUNT(*) FILTER (WHERE verdict='adjusted'),"
            " COUNT(*) FILTER (WHERE verdict='rejected'), COUNT(*) FILTER (WHERE state='failed'),"
            " COALESCE(SUM(exposure_cents) FILTER (WHERE reference NOT IN (" + CANCELLED_PECS + ")), 0),"
            " MIN(at) FILTER (WHERE state='pending'), COALESCE(SUM(amc_cents) FILTER (WHERE state='failed'), 0),"
            " COUNT(*) FILTER (WHERE operation='cancel' AND verdict='confirmed') FROM offline_entry").fetchone()))

    def get(self, reference: str) -> dict[str, Any] | None:
        row = self._run(lambda c: c.cursor(row_factory=dict_row).execute(
            "SELECT * FROM offline_entry WHERE reference=%s", (reference,)).fetchone())
        return None if row is None else get_of(row)


def _create_schema(conn: psycopg.Connection) -> str:
    """Creates what is missing; a schema already there needs no right to create (a role
    limited to reading and writing rows, or a read-only server, which then fails on writes)."""
    present = conn.execute("SELECT to_regclass('offline_entry') IS NOT NULL AND to_regclass('keyed_answer')"
                           " IS NOT NULL AND to_regclass('offline_budget') IS NOT NULL AND to_regclass('deployment_key') IS NOT NULL"
                           ).fetchone()[0]
    if not present:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))  # concurrent CREATE IF NOT EXISTS races
        for statement in _SCHEMA:
            conn.execute(statement)
    return str(conn.execute("SHOW fsync").fetchone()[0])
