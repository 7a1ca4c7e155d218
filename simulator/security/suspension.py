"""Account states in the shared store: record lookups, suspend, re-enable, reset credentials.

A suspension is three facts written in one transaction: the account row (`auth.py`
refuses it at login and on every call), an `account` revocation (gateways refuse it
offline too) and an alert (the control API shows it). Re-enabling removes the revocation
and writes an `account-restored` marker with a fresh sequence number, so the revocation
list's version moves and a delta reader can learn of the restoration (see admin.py).
"""
from __future__ import annotations

import json
import sqlite3


from .detection import Lookup, Thresholds, Verdict, WindowStats, judge_long_window, judge_window, needs_window_check

RESTORED = "account-restored"


def window_stats(db: sqlite3.Connection, client_id: str, since: float) -> WindowStats:
    row = db.execute("SELECT COUNT(*), COALESCE(SUM(ok = 0 AND with_card = 1), 0), COALESCE(SUM(with_card = 0), 0), "
                     "COUNT(DISTINCT CASE WHEN ok = 0 AND with_card = 1 THEN beneficiary_key END) "
                     "FROM lookups WHERE client_id=? AND at > ?", (client_id, since)).fetchone()
    return WindowStats(*row)


def lookup_metrics(db: sqlite3.Connection, client_id: str, until: float | None = None) -> dict:
    """What an account did, from its retained lookups (the last hour of an active account)."""
    row = db.execute("SELECT COUNT(*), COALESCE(SUM(ok = 0 AND with_card = 1), 0), COALESCE(SUM(with_card = 0), 0), "
                     "COUNT(DISTINCT CASE WHEN ok = 1 THEN beneficiary_key END), "
                     "COUNT(DISTINCT CASE WHEN ok = 0 AND with_card = 1 THEN beneficiary_key END), MIN(at), MAX(at) "
                     "FROM lookups WHERE client_id=? AND at <= ?", (client_id, until or 1e18)).fetchone()
    return {"lookups": row[0], "probes": row[1], "without_usable_card": row[2],
            "distinct_beneficiaries_answered": row[3], "distinct_identities_probed": row[4],
            "first_lookup_at": row[5], "last_lookup_at": row[6]}


class LookupWatch:
    """Records each lookup and judges the account's windows in the same write transaction."""

    def __init__(self, store, thresholds: Thresholds) -> None:
        self.store, self.t = store, thresholds
        self._long_checked: dict[str, float] = {}  # per worker: when rule 4 last ran per account

    def record(self, client_id: str, lookup: Lookup, now: float) -> tuple[Verdict | None, bool]:
        """(verdict, newly suspended by this call)."""
        with self.store.tx() as db:
            db.execute("INSERT INTO lookups (client_id, at, beneficiary_key, ok, with_card) VALUES (?,?,?,?,?)",
                       (client_id, lookup.at, lookup.beneficiary_key, int(lookup.ok), int(lookup.with_card)))
            verdict = None
            if needs_window_check(lookup.ok):
                verdict = judge_window(window_stats(db, client_id, now - self.t.window_s), self.t)
            if verdict is None and now - self._long_checked.get(client_id, 0.0) >= self.t.long_check_every_s:
                self._long_checked[client_id] = now
                db.execute("DELETE FROM lookups WHERE client_id=? AND at <= ?", (client_id, now - self.t.long_window_s))
                distinct, probed = db.execute(
                    "SELECT COUNT(DISTINCT beneficiary_key), COUNT(DISTINCT CASE WHEN ok = 0 AND with_card = 1 "
                    "THEN beneficiary_key END) FROM lookups WHERE client_id=?", (client_id,)).fetchone()
                verdict = judge_long_window(distinct, probed, self.t)
            first = suspend(db, client_id, verdict, now) if verdict else False
        return verdict, first


def suspend(db: sqlite3.Connection, client_id: str, verdict: Verdict, now: float) -> bool:
    """Inside a transaction. False when the account was already suspended (another worker won)."""
    first = db.execute("INSERT INTO accounts (client_id, suspended_at, suspended_reason) VALUES (?,?,?) "
                       "ON CONFLICT (client_id) DO UPDATE SET suspended_at=excluded.suspended_at, "
                       "suspended_reason=excluded.suspended_reason WHERE suspended_at IS NULL",
                       (client_id, now, f"{verdict.rule}: {verdict.detail}")).rowcount == 1
    if first:
        db.execute("DELETE FROM revocations WHERE kind=? AND value=?", (RESTORED, client_id))
        db.execute("INSERT OR IGNORE INTO revocations (kind, value, at, reason) VALUES ('account', ?, ?, ?)",
                   (client_id, now, verdict.rule))
        alert(db, now, client_id, "account_suspended",
              {"rule": verdict.rule, "detail": verdict.detail, **lookup_metrics(db, client_id)})
    return first


def alert(db: sqlite3.Connection, now: float, client_id: str, kind: str, detail: dict) -> None:
    db.execute("INSERT INTO alerts (at, client_id, kind, detail) VALUES (?,?,?,?)",
               (now, client_id, kind, json.dumps(detail)))


def enable(store, client_id: str, now: float) -> bool:
    """Lift a suspension; the lookups that led to it are dropped so the same window does not
    suspend the account again at its next miss (the alert keeps their summary)."""
    with store.tx() as db:
        was = db.execute("UPDATE accounts SET suspended_at=NULL, suspended_reason=NULL "
                         "WHERE client_id=? AND suspended_at IS NOT NULL", (client_id,)).rowcount == 1
        if was:
            db.execute("DELETE FROM revocations WHERE kind='account' AND value=?", (client_id,))
            db.execute("INSERT OR IGNORE INTO revocations (kind, value, at, reason) VALUES (?, ?, ?, 'enabled')",
                       (RESTORED, client_id, now))
            alert(db, now, client_id, "account_enabled", lookup_metrics(db, client_id))
            db.execute("DELETE FROM lookups WHERE client_id=?", (client_id,))
    return was


def reset_credentials(store, client_id: str, now: float) -> dict:
    """A new secret and credential version: every token issued before stops working. Only
    the secret's argon2id hash is stored; the answer shows the secret once."""
    from ..credentials import hashed, new_secret
    secret = new_secret()
    digest = hashed(secret)  # before the write lock: hashing costs tens of milliseconds
    with store.tx() as db:
        db.execute("INSERT INTO accounts (client_id, secret, credential_version) VALUES (?, ?, 1) "
                   "ON CONFLICT (client_id) DO UPDATE SET secret=excluded.secret, "
                   "credential_version=credential_version + 1", (client_id, digest))
        version = db.execute("SELECT credential_version FROM accounts WHERE client_id=?", (client_id,)).fetchone()[0]
        # In the revocation feed: gateways refuse older tokens offline, advices made with one
        # after this instant are rejected.
        db.execute("INSERT OR IGNORE INTO revocations (kind, value, at, reason) VALUES ('credential', ?, ?, 'reset')",
                   (f"{client_id}:{version}", now))
        alert(db, now, client_id, "credentials_reset", {"credential_version": version})
    return {"client_id": client_id, "client_secret": secret, "credential_version": version}


def account_report(store, client_id: str) -> dict:
    row = store.query("SELECT credential_version, suspended_at, suspended_reason FROM accounts WHERE client_id=?",
                      (client_id,))
    state = row[0] if row else None
    suspended_at = state["suspended_at"] if state is not None else None
    with store.tx() as db:  # one consistent snapshot; a short write lock is fine for an admin read
        metrics = lookup_metrics(db, client_id)
        until = lookup_metrics(db, client_id, suspended_at)["lookups"] if suspended_at is not None else None
    return {"client_id": client_id, "suspended": suspended_at is not None, "suspended_at": suspended_at,
            "suspended_reason": state["suspended_reason"] if state is not None else None,
            "credential_version": state["credential_version"] if state is not None else 0,
            "revoked": bool(store.query("SELECT 1 FROM revocations WHERE kind='account' AND value=?", (client_id,))),
            **metrics,
            "lookups_until_suspension": until,
            "alerts": alerts(store, client_id=client_id)}


def alerts(store, since_id: int = 0, client_id: str | None = None, limit: int = 500) -> list[dict]:
    rows = store.query("SELECT id, at, client_id, kind, detail FROM alerts WHERE id > ? AND (? IS NULL OR client_id=?) "
                       "ORDER BY id LIMIT ?", (since_id, client_id, client_id, limit))
    return [{"id": r["id"], "at": r["at"], "client_id": r["client_id"], "kind": r["kind"],
             "detail": json.loads(r["detail"]) if r["detail"] else None} for r in rows]
