"""Durable journal of offline acceptances (SQLite, WAL, synchronous=FULL), shared by workers.

An offline acceptance is a payment promise made without the platform: it must be on disk
*before* it is returned (DESIGN §5.4). `record` therefore commits with fsync and raises
`JournalError` on any failure; the caller then declines with PLATFORM_UNAVAILABLE.

Drain (DESIGN §5.5) is lease based: `claim_batch` leases the oldest pending entries to one
drainer; a crash leaves the lease to expire and the entry is claimed again with the same
`advice_id`, which the platform stores idempotently, so a re-send is never a duplicate.

Personal data: `payload.sealed` holds what the platform needs to judge the advice (the
request with the card named by serial, the served beneficiary, the professional's token),
sealed with AES-GCM by the caller under a key kept apart from this file
(tiers_payant.secrets_at_rest); it is dropped when the verdict is recorded. The file is
0600. Every other column is free of identity data: `beneficiary_key` is a keyed hash.

Money is stored as integer cents so SQLite sums it exactly.
"""
from __future__ import annotations

import json
import os
import random
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tiers_payant.model import eur, money

BUSY_TIMEOUT_MS = 5000
ADVICE_OVERHEAD_BYTES = 400  # an advice's fields around its stored request, JSON-encoded
VERDICTS = ("confirmed", "adjusted", "rejected")
# Columns added after the first release; opening an older journal adds them.
_ADDED_COLUMNS = {"failed_status": "INTEGER", "failed_reason": "TEXT",
                  "pending_answers": "INTEGER NOT NULL DEFAULT 0"}
# Offline PECs whose offline cancellation the platform confirmed: nothing will be delivered or
# paid under them, so they carry no exposure.
CANCELLED_PECS = ("SELECT json_extract(payload, '$.pec_reference') FROM offline_entry"
                  " WHERE operation='cancel' AND verdict='confirmed' AND json_extract(payload, '$.pec_reference')"
                  " IS NOT NULL")
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


@dataclass(frozen=True)
class VelocityLimit:
    since: float
    max_count: int
    max_amount_eur: Decimal


class VelocityExceeded(Exception):
    """The beneficiary's offline total would pass the AMC's cumulative limit."""


class JournalError(Exception):
    """The journal cannot be written or read: never answer an unrecorded acceptance."""


@dataclass(frozen=True)
class OfflineEntry:
    advice_id: str  # uuid4 hex from the caller: the advice's idempotency key at the platform
    operation: str  # "eligibility" | "pec"
    at: float  # epoch seconds
    amc: str
    card_serial: str
    beneficiary_key: str  # keyed hash of NIR + birth date + rank, never the NIR
    domain: str
    amc_eur: Decimal  # 0 for eligibility
    cause: str  # "unreachable" | "timeout" | "breaker_open"
    payload: dict[str, Any]  # request body + offline answer (sensitive)
    client_id: str


@dataclass(frozen=True)
class Pending:
    """An entry leased to a drainer until `lease_until`."""

    reference: str
    entry: OfflineEntry
    attempts: int  # claims so far, this one included
    lease_until: float

    @property
    def advice_id(self) -> str:
        return self.entry.advice_id


def new_reference() -> str:
    """For callers that must put the reference in the answer before recording it."""
    return "J-" + secrets.token_hex(8)


def _cents(amount: Decimal) -> int:
    return int(money(amount) * 100)


def _euros(cents: int | None) -> Decimal:
    return money(Decimal(cents or 0) / 100)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class Journal:
    """One SQLite connection per (process, thread): sqlite3 objects must not cross a fork."""

    def __init__(self, path: str) -> None:
        self.path = path
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
    def record(self, entry: OfflineEntry, reference: str | None = None,
               velocity: VelocityLimit | None = None) -> str:
        """Commit `entry` durably and return its reference ("J-" + 16 hex).

        Recording the same `advice_id` again returns the first reference (a retried call is
        not a second acceptance). Raises JournalError when the entry is not on disk.
        `velocity` re-checks the beneficiary's offline total inside the write transaction:
        the stand-in decided on a snapshot, and two workers deciding at once for the same
        beneficiary must not both fit under the limit (raises VelocityExceeded).
        """
        return self.record_once(entry, reference, velocity)[0]

    def record_once(self, entry: OfflineEntry, reference: str | None = None,
                    velocity: VelocityLimit | None = None) -> tuple[str, dict[str, Any] | None]:
        """As `record`, and the payload already stored when this `advice_id` was recorded
        before (None when this call recorded it): a concurrent retry with one
        Idempotency-Key finds the first acceptance inside the same write transaction."""
        _validate(entry)
        payload = json.dumps(entry.payload, default=_jsonable, separators=(",", ":"))
        row = (entry.advice_id, entry.operation, entry.at, entry.amc, entry.card_serial,
               entry.beneficiary_key, entry.domain, _cents(entry.amc_eur), entry.cause,
               entry.client_id, payload)

        def insert(conn: sqlite3.Connection) -> tuple[str, dict[str, Any] | None]:
            known = conn.execute("SELECT reference, payload FROM offline_entry WHERE advice_id=?",
                                 (entry.advice_id,)).fetchone()
            if known:
                return str(known[0]), json.loads(known[1])
            if velocity is not None:
                count, cents = conn.execute(
                    "SELECT COUNT(*), COALESCE(SUM(amc_cents), 0) FROM offline_entry"
                    " WHERE beneficiary_key=? AND at>=? AND operation=?",
                    (entry.beneficiary_key, velocity.since, entry.operation)).fetchone()
                if count + 1 > velocity.max_count or cents + _cents(entry.amc_eur) > _cents(velocity.max_amount_eur):
                    raise VelocityExceeded(entry.beneficiary_key)
            ref = reference or new_reference()
            conn.execute("INSERT INTO offline_entry (reference, advice_id, operation, at, amc,"
                         " card_serial, beneficiary_key, domain, amc_cents, cause, client_id,"
                         " payload) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", (ref, *row))
            return ref, None

        return self._run(insert, write=True)

    def record_many(self, items: list[tuple[OfflineEntry, str | None, VelocityLimit | None]]
                    ) -> list[tuple[str, dict[str, Any] | None] | Exception]:
        """`record_once` for several entries in ONE write transaction (one durable commit:
        gateway.offline.group_commit). Results in order: (reference, known payload) as
        `record_once` returns, or the exception for that entry alone (VelocityExceeded,
        ValueError); entries are checked in order, so a velocity limit sees the ones before
        it in the same batch. Raises JournalError when the commit itself fails: then none
        of them is on disk."""
        results: list[tuple[str, dict[str, Any] | None] | Exception] = []
        rows: list[tuple[int, OfflineEntry, str | None, VelocityLimit | None, tuple]] = []
        for i, (entry, reference, velocity) in enumerate(items):
            try:
                _validate(entry)
                payload = json.dumps(entry.payload, default=_jsonable, separators=(",", ":"))
            except (ValueError, TypeError) as exc:
                results.append(exc if isinstance(exc, ValueError) else ValueError(str(exc)))
                continue
            results.append(ValueError("not recorded"))
            rows.append((i, entry, reference, velocity,
                         (entry.advice_id, entry.operation, entry.at, entry.amc, entry.card_serial,
                          entry.beneficiary_key, entry.domain, _cents(entry.amc_eur), entry.cause,
                          entry.client_id, payload)))

        def insert_all(conn: sqlite3.Connection) -> None:
            for i, entry, reference, velocity, row in rows:
                known = conn.execute("SELECT reference, payload FROM offline_entry WHERE advice_id=?",
                                     (entry.advice_id,)).fetchone()
                if known:
                    results[i] = (str(known[0]), json.loads(known[1]))
                    continue
                if velocity is not None:
                    count, cents = conn.execute(
                        "SELECT COUNT(*), COALESCE(SUM(amc_cents), 0) FROM offline_entry"
                        " WHERE beneficiary_key=? AND at>=? AND operation=?",
                        (entry.beneficiary_key, velocity.since, entry.operation)).fetchone()
                    if count + 1 > velocity.max_count or \
                            cents + _cents(entry.amc_eur) > _cents(velocity.max_amount_eur):
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
        """Keep the first answer given to a keyed request that journaled nothing; returns the
        stored one ({"fingerprint", "answer"}), which is this one unless a copy got there first."""
        def keep(conn: sqlite3.Connection) -> dict[str, Any]:
            conn.execute("INSERT OR IGNORE INTO keyed_answer (reference, client_id, fingerprint, answer, at)"
                         " VALUES (?,?,?,?,?)", (reference, client_id, fingerprint,
                                                 json.dumps(answer, default=_jsonable), now))
            return self._keyed(conn, reference)
        return self._run(keep, write=True)

    def keyed_answer(self, reference: str) -> dict[str, Any] | None:
        return self._run(lambda c: self._keyed(c, reference), write=False)

    @staticmethod
    def _keyed(conn: sqlite3.Connection, reference: str) -> dict[str, Any] | None:
        row = conn.execute("SELECT client_id, fingerprint, answer FROM keyed_answer WHERE reference=?",
                           (reference,)).fetchone()
        return None if row is None else {"client_id": row[0], "fingerprint": row[1], "answer": json.loads(row[2])}

    def counts(self, beneficiary_key: str, since: float, operation: str | None = None) -> tuple[int, Decimal]:
        """Offline acceptances of one beneficiary since `since` (all states): velocity input.
        `operation` narrows to "pec" or "eligibility" (a rights check commits no money)."""
        sql = "SELECT COUNT(*), COALESCE(SUM(amc_cents), 0) FROM offline_entry WHERE beneficiary_key=? AND at>=?"
        args: tuple = (beneficiary_key, since)
        if operation is not None:
            sql, args = sql + " AND operation=?", args + (operation,)
        row = self._run(lambda c: c.execute(sql, args).fetchone(), write=False)
        return int(row[0]), _euros(row[1])

    # -- draining as advices ---------------------------------------------------------
    def claim_batch(self, limit: int, lease_s: float, now: float, owner: str,
                    max_bytes: int | None = None) -> list[Pending]:
        """Lease up to `limit` pending entries, oldest first, to `owner` until now + lease_s.

        `max_bytes` bounds the batch's stored payloads (the advice body grows with them, and
        the platform refuses a body over its limit): the first entry is always taken, the
        next ones while they fit. An entry released with a back-off (`release`) is not
        claimable before its time."""
        until = now + lease_s

        def claim(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            rows = conn.execute(
                "SELECT *, length(payload) AS size FROM offline_entry WHERE state='pending'"
                " AND (lease_until IS NULL OR lease_until<=?) ORDER BY at, rowid LIMIT ?",
                (now, limit)).fetchall()
            if max_bytes is not None:
                total, kept = 0, []
                for r in rows:
                    total += int(r["size"]) + ADVICE_OVERHEAD_BYTES
                    if kept and total > max_bytes:
                        break
                    kept.append(r)
                rows = kept
            conn.executemany(
                "UPDATE offline_entry SET lease_owner=?, lease_until=?, attempts=attempts+1"
                " WHERE reference=?", [(owner, until, r["reference"]) for r in rows])
            return rows

        return [Pending(r["reference"], _entry(r), int(r["attempts"]) + 1, until)
                for r in self._run(claim, write=True)]

    def release(self, advice_ids: list[str], not_before: float, pending_answer: bool = False) -> None:
        """Give leased entries back, claimable again from `not_before` (a per-entry back-off);
        `pending_answer` counts a platform that said it is still judging them."""
        bump = 1 if pending_answer else 0
        self._run(lambda c: c.executemany(
            "UPDATE offline_entry SET lease_owner=NULL, lease_until=?, pending_answers=pending_answers+?"
            " WHERE advice_id=? AND state='pending'", [(not_before, bump, a) for a in advice_ids]), write=True)

    def set_aside(self, advice_id: str, status: int, reason: str, now: float) -> bool:
        """The platform refuses this advice for good (a permanent 4xx on it alone): out of
        the drain, kept with its status and reason for an operator (`requeue` puts it back)."""
        return bool(self._run(lambda c: c.execute(
            "UPDATE offline_entry SET state='failed', failed_status=?, failed_reason=?, drained_at=?,"
            " lease_owner=NULL, lease_until=NULL WHERE advice_id=? AND state='pending'",
            (status, reason[:500], now, advice_id)).rowcount, write=True))

    def requeue(self, reference: str) -> bool:
        """An operator sends a set-aside entry again (after fixing what the platform refused)."""
        return bool(self._run(lambda c: c.execute(
            "UPDATE offline_entry SET state='pending', failed_status=NULL, failed_reason=NULL, drained_at=NULL"
            " WHERE reference=? AND state='failed'", (reference,)).rowcount, write=True))

    def failed(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._run(lambda c: c.execute(
            "SELECT reference, operation, at, failed_status, failed_reason, drained_at FROM offline_entry"
            " WHERE state='failed' ORDER BY drained_at DESC LIMIT ?", (limit,)).fetchall(), write=False)
        return [{"reference": r[0], "operation": r[1], "at": r[2], "status": r[3], "reason": r[4],
                 "set_aside_at": r[5]} for r in rows]

    def record_verdict(self, advice_id: str, verdict: str, reason: str | None,
                       platform_amc_eur: Decimal | None, now: float) -> bool:
        """Mark an entry drained with the platform's verdict; False when already drained
        (or unknown): the second report of one verdict is a no-op.

        Exposure = euros accepted offline that the platform did not agree to pay.
        """
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}")
        if verdict == "adjusted" and platform_amc_eur is None:
            raise ValueError("an adjusted verdict needs the platform's amount")

        def drain(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT amc_cents FROM offline_entry WHERE advice_id=?"
                               " AND state='pending'", (advice_id,)).fetchone()
            if row is None:
                return False
            accepted = int(row[0])
            agreed = {"confirmed": accepted, "rejected": 0}.get(
                verdict, _cents(platform_amc_eur or Decimal(0)))
            conn.execute(
                "UPDATE offline_entry SET state='drained', verdict=?, verdict_reason=?,"
                " platform_amc_cents=?, exposure_cents=?, drained_at=?, lease_owner=NULL,"
                " lease_until=NULL, payload=json_remove(payload, '$.sealed') WHERE advice_id=?",
                (verdict, reason, agreed, max(0, accepted - agreed), now, advice_id))
            return True

        return bool(self._run(drain, write=True))

    # -- reading ---------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        row = self._run(lambda c: c.execute(
            "SELECT COUNT(*), SUM(state='pending'), SUM(state='drained'),"
            " SUM(verdict='confirmed'), SUM(verdict='adjusted'), SUM(verdict='rejected'), SUM(state='failed'),"
            " COALESCE(SUM(CASE WHEN reference IN (" + CANCELLED_PECS + ") THEN 0 ELSE exposure_cents END), 0),"
            " MIN(CASE WHEN state='pending' THEN at END),"
            " COALESCE(SUM(CASE WHEN state='failed' THEN amc_cents END), 0),"
            " SUM(operation='cancel' AND verdict='confirmed')"
            " FROM offline_entry").fetchone(), write=False)
        keys = ("recorded", "pending", "drained", "confirmed", "adjusted", "rejected", "failed")
        out: dict[str, Any] = {k: int(row[i] or 0) for i, k in enumerate(keys)}
        out["exposure_eur"] = eur(_euros(row[7]))
        out["oldest_pending_at"] = row[8]
        out["failed_eur"] = eur(_euros(row[9]))  # accepted offline, not judged: set aside
        out["cancelled"] = int(row[10] or 0)  # offline cancellations the platform confirmed
        return out

    def get(self, reference: str) -> dict[str, Any] | None:
        """The stored entry (payload holds the offline answer) and its drain state."""
        row = self._run(lambda c: c.execute(
            "SELECT * FROM offline_entry WHERE reference=?", (reference,)).fetchone(), write=False)
        if row is None:
            return None
        out = {k: row[k] for k in ("reference", "advice_id", "operation", "at", "amc",
                                   "card_serial", "domain", "cause", "client_id", "state",
                                   "verdict", "verdict_reason", "drained_at", "failed_status",
                                   "failed_reason", "pending_answers", "attempts")}
        out["amc_eur"] = eur(_euros(row["amc_cents"]))
        out["payload"] = json.loads(row["payload"])
        for key in ("platform_amc", "exposure"):
            cents = row[f"{key}_cents"]
            out[f"{key}_eur"] = None if cents is None else eur(_euros(cents))
        return out


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


def _validate(entry: OfflineEntry) -> None:
    if entry.operation not in ("eligibility", "pec", "cancel"):
        raise ValueError(f"unknown operation {entry.operation!r}")
    if entry.cause not in ("unreachable", "timeout", "breaker_open"):
        raise ValueError(f"unknown cause {entry.cause!r}")
    if entry.beneficiary_key.isdigit():  # looks like a NIR in clear: refuse to store it
        raise ValueError("beneficiary_key must be a keyed hash, not an identifier")


def _entry(r: sqlite3.Row) -> OfflineEntry:
    return OfflineEntry(r["advice_id"], r["operation"], r["at"], r["amc"], r["card_serial"],
                        r["beneficiary_key"], r["domain"], _euros(r["amc_cents"]), r["cause"],
                        json.loads(r["payload"]), r["client_id"])
