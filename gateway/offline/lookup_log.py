"""Offline lookups, pseudonymised, for the gateway's own watch and for the platform's later.

Every offline rights check or PEC is one row: when, which account, the keyed hash of the
beneficiary (never the NIR), whether the identity proof held. The stand-in reads the
account's recent rows (account_watch); the drain sends the declined ones to the platform
(accepted ones reach it as advices), so detection sees the whole day.

A file of its own beside the journal, with synchronous=NORMAL: these rows are evidence, not
payment promises, and must not cost an acceptance a second fsync. They hold the
professional's bearer token, sealed with the journal's key, until sent (the platform
attributes each lookup to the account whose token it verifies); rows are deleted once sent
and old.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid

from gateway.offline.account_watch import AccountActivity
from tiers_payant.secrets_at_rest import seal, unseal

_SCHEMA = """CREATE TABLE IF NOT EXISTS offline_lookup (
  id TEXT PRIMARY KEY, at REAL NOT NULL, client_id TEXT NOT NULL, beneficiary_key TEXT NOT NULL,
  ok INTEGER NOT NULL, with_card INTEGER NOT NULL, operation TEXT NOT NULL, replay INTEGER NOT NULL,
  token TEXT, sent_at REAL);
CREATE INDEX IF NOT EXISTS offline_lookup_by_client ON offline_lookup (client_id, at);
CREATE INDEX IF NOT EXISTS offline_lookup_unsent ON offline_lookup (replay, sent_at, at);"""
KEEP_SENT_S = 86_400.0


def within_bytes(batch: list[dict], max_bytes: int) -> list[dict]:
    """The first lookups of `batch` whose JSON fits in `max_bytes` (the first one always):
    each carries a whole bearer token, so 200 of them exceed the platform's body limit."""
    total, kept = 2, []  # the enclosing {"lookups": [...]} is a few bytes more: max_bytes leaves room
    for item in batch:
        total += len(json.dumps(item)) + 2  # as requests sends it: json.dumps, ", " between items
        if kept and total > max_bytes:
            break
        kept.append(item)
    return kept


class LookupLog:
    def __init__(self, path: str, key: bytes) -> None:
        self.path, self.key = path, key
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            if not os.path.exists(self.path):
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            conn = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=5000")
            for attempt in range(50):
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError:
                    time.sleep(0.02)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def record(self, client_id: str, beneficiary_key: str, ok: bool, with_card: bool, operation: str,
               replay: bool, token: str | None, at: float) -> None:
        lookup_id = uuid.uuid4().hex
        sealed = seal(self.key, token, lookup_id) if replay and token else None
        self._conn().execute(
            "INSERT INTO offline_lookup (id, at, client_id, beneficiary_key, ok, with_card, operation, replay, token)"
            " VALUES (?,?,?,?,?,?,?,?,?)", (lookup_id, at, client_id, beneficiary_key, int(ok),
                                            int(with_card), operation, int(replay), sealed))

    def activity(self, client_id: str, since: float) -> AccountActivity:
        failed, distinct = self._conn().execute(
            "SELECT COALESCE(SUM(ok = 0 AND with_card = 1), 0), COUNT(DISTINCT beneficiary_key) FROM offline_lookup"
            " WHERE client_id=? AND at>=?", (client_id, since)).fetchone()
        return AccountActivity(int(failed), int(distinct))

    def unsent(self, limit: int) -> list[dict]:
        rows = self._conn().execute(
            "SELECT id, at, beneficiary_key, ok, with_card, operation, token FROM offline_lookup"
            " WHERE replay=1 AND sent_at IS NULL AND token IS NOT NULL ORDER BY at LIMIT ?", (limit,)).fetchall()
        return [{"id": r[0], "at": r[1], "beneficiary_key": r[2], "ok": bool(r[3]), "with_card": bool(r[4]),
                 "operation": r[5], "token": unseal(self.key, r[6], r[0])} for r in rows]

    def mark_sent(self, ids: list[str], now: float) -> None:
        conn = self._conn()
        conn.executemany("UPDATE offline_lookup SET sent_at=?, token=NULL WHERE id=?", [(now, i) for i in ids])
        conn.execute("DELETE FROM offline_lookup WHERE sent_at IS NOT NULL AND sent_at < ?", (now - KEEP_SENT_S,))

    def counts(self) -> dict[str, int]:
        total, unsent = self._conn().execute(
            "SELECT COUNT(*), COALESCE(SUM(replay = 1 AND sent_at IS NULL AND token IS NOT NULL), 0)"
            " FROM offline_lookup").fetchone()
        return {"recorded": int(total), "unsent": int(unsent)}
