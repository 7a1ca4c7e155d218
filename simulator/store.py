"""The platform's mutable facts in SQLite: everything the population cannot derive.

PECs and the consumption they record, revocations (cards and professional accounts),
suspensions, credential versions, advices received from gateways, the fault plan and
per-worker counters. Shared by gunicorn workers and the fault proxy through one WAL file.
"""
from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS pecs (
  pec_number TEXT PRIMARY KEY, client_id TEXT NOT NULL, idem_key TEXT, body_hash TEXT,
  amc TEXT NOT NULL, created_at REAL NOT NULL, expires_on TEXT, answer TEXT NOT NULL,
  UNIQUE (client_id, idem_key));
CREATE TABLE IF NOT EXISTS consumption (
  beneficiary_key TEXT NOT NULL, item TEXT NOT NULL, on_date TEXT NOT NULL, source TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS consumption_by_key ON consumption (beneficiary_key);
CREATE TABLE IF NOT EXISTS revocations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, value TEXT NOT NULL, at REAL NOT NULL,
  reason TEXT, UNIQUE (kind, value));
CREATE TABLE IF NOT EXISTS accounts (
  client_id TEXT PRIMARY KEY, secret TEXT, credential_version INTEGER NOT NULL DEFAULT 0,
  suspended_at REAL, suspended_reason TEXT);
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, client_id TEXT, kind TEXT NOT NULL, detail TEXT);
CREATE TABLE IF NOT EXISTS advices (
  advice_id TEXT PRIMARY KEY, received_at REAL NOT NULL, verdict TEXT NOT NULL, reason TEXT,
  platform_amc_eur TEXT, pec_number TEXT, copies INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS fault_plans (
  id INTEGER PRIMARY KEY AUTOINCREMENT, set_at REAL NOT NULL, plan TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (
  worker TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (worker, name));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
  client_id TEXT NOT NULL, idem_key TEXT NOT NULL, fingerprint TEXT NOT NULL, operation TEXT NOT NULL,
  status INTEGER NOT NULL, body BLOB NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (client_id, idem_key));
CREATE TABLE IF NOT EXISTS lookups (
  client_id TEXT NOT NULL, at REAL NOT NULL, beneficiary_key TEXT NOT NULL, ok INTEGER NOT NULL, with_card INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS lookups_by_client ON lookups (client_id, at);
"""


class Store:
    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        for attempt in range(50):  # workers start together; the switch to WAL does not wait on busy
            try:
                self._conn().executescript(SCHEMA)
                break
            except sqlite3.OperationalError:
                self._local.conn = None
                if attempt == 49:
                    raise
                time.sleep(0.05 + random.random() * 0.1)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # platform facts: WAL+NORMAL survives process crashes
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    @contextmanager
    def tx(self, wait_s: float | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction. `wait_s` bounds the wait for the write lock (else 10 s);
        past it sqlite3.OperationalError("database is locked") is raised."""
        conn = self._conn()
        if wait_s is not None:
            conn.execute(f"PRAGMA busy_timeout={int(wait_s * 1000)}")
        try:
            conn.execute("BEGIN IMMEDIATE")
        finally:
            if wait_s is not None:
                conn.execute("PRAGMA busy_timeout=10000")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, args).fetchall()

    # ---- meta ----
    def meta_set_once(self, key: str, value: str) -> bool:
        with self.tx() as db:
            cur = db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            return cur.rowcount == 1

    # ---- revocations ----
    def revoke(self, kind: str, value: str, at: float, reason: str = "") -> None:
        with self.tx() as db:
            db.execute("INSERT OR IGNORE INTO revocations (kind, value, at, reason) VALUES (?,?,?,?)",
                       (kind, value, at, reason))

    def unrevoke(self, kind: str, value: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM revocations WHERE kind=? AND value=?", (kind, value))

    def revocations_since(self, since: int) -> tuple[int, list[sqlite3.Row]]:
        rows = self.query("SELECT seq, kind, value, at FROM revocations WHERE seq > ? ORDER BY seq", (since,))
        version = self.query("SELECT COALESCE(MAX(seq), 0) AS v FROM revocations")[0]["v"]
        return version, rows

    def card_revoked_at(self, serial: str) -> float | None:
        rows = self.query("SELECT at FROM revocations WHERE kind='card' AND value=?", (serial,))
        return rows[0]["at"] if rows else None

    # ---- consumption ----
    def consumption(self, beneficiary_key: str) -> dict[str, str]:
        rows = self.query("SELECT item, MAX(on_date) AS d FROM consumption WHERE beneficiary_key=? GROUP BY item",
                          (beneficiary_key,))
        return {r["item"]: r["d"] for r in rows}

    # ---- counters (each worker flushes its own row; stats add them up) ----
    def flush_counters(self, worker: str, values: dict[str, int]) -> None:
        with self.tx() as db:
            db.executemany("INSERT INTO counters (worker, name, value) VALUES (?,?,?) "
                           "ON CONFLICT (worker, name) DO UPDATE SET value=excluded.value",
                           [(worker, k, v) for k, v in values.items()])

    def counters(self) -> dict[str, int]:
        return {r["name"]: r["s"] for r in self.query("SELECT name, SUM(value) AS s FROM counters GROUP BY name")}

    # ---- fault plans ----
    def set_plan(self, plan: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO fault_plans (set_at, plan) VALUES (?, ?)", (time.time(), json.dumps(plan)))

    def plans(self) -> list[tuple[float, dict[str, Any]]]:
        return [(r["set_at"], json.loads(r["plan"])) for r in self.query("SELECT set_at, plan FROM fault_plans ORDER BY id")]

    def current_plan(self) -> tuple[int, dict[str, Any]] | None:
        rows = self.query("SELECT id, plan FROM fault_plans ORDER BY id DESC LIMIT 1")
        return (rows[0]["id"], json.loads(rows[0]["plan"])) if rows else None
