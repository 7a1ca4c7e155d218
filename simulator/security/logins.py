"""Failed logins at `POST /oauth/token`: counted, slowed down exponentially, alerted on.

Three counters, each a row of the shared store (so every gunicorn worker sees them):
`pair` (this client id from this address), `client` (this client id from anywhere) and
`source` (this address, any client id). Past a counter's free failures, each further
attempt must wait `base_s * 2^(n - free)` seconds after the last failure, at most
`max_delay_s`; an attempt inside the wait is answered 429 with `Retry-After` *without
checking the secret*, and does not count (so an attacker cannot extend the wait by
hammering, and learns nothing from it).

The trade-off (README, "Token endpoint"): a lockout per client id alone lets anyone lock a
shop out by guessing its id. So the `client` counter does not apply to an address from
which this id has logged in successfully before (remembered `known_source_days`): the
shop keeps working from its own premises during an attack. From a new address, the
shop waits at most `max_delay_s` (default 60 s) like the attacker. Client secrets have
128 bits: the wait is there to make guessing loud and slow, not as the only defence.
Counters are forgotten `forget_after_s` after their last failure.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

SCHEMA = """CREATE TABLE IF NOT EXISTS login_failures (
  key TEXT PRIMARY KEY, failures INTEGER NOT NULL, last_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS login_sources (
  client_id TEXT NOT NULL, source TEXT NOT NULL, last_ok_at REAL NOT NULL, PRIMARY KEY (client_id, source))"""


@dataclass(frozen=True)
class LoginPolicy:
    pair_free: int = 5  # failures of one id from one address before waits begin
    client_free: int = 20  # failures of one id from all addresses
    source_free: int = 50  # failures from one address over all ids (spraying)
    base_s: float = 1.0
    max_delay_s: float = 60.0
    forget_after_s: float = 900.0
    known_source_days: float = 30.0


def delay_s(failures: int, free: int, p: LoginPolicy) -> float:
    """Seconds to wait after the last failure before the next attempt is checked. Pure."""
    if failures < free:
        return 0.0
    return min(p.max_delay_s, p.base_s * 2.0 ** min(failures - free, 30))


def keys(client_id: str, source: str) -> dict[str, str]:
    return {"pair": f"pair:{client_id}|{source}", "client": f"client:{client_id}", "source": f"source:{source}"}


def wait_s(rows: dict[str, tuple[int, float]], known_source: bool, now: float, p: LoginPolicy) -> float:
    """How long this attempt must still wait (0: check the secret). `rows`: kind -> (failures, last_at). Pure."""
    free = {"pair": p.pair_free, "client": p.client_free, "source": p.source_free}
    waits = [0.0]
    for kind, (failures, last_at) in rows.items():
        if now - last_at > p.forget_after_s or (kind == "client" and known_source):
            continue
        waits.append(last_at + delay_s(failures, free[kind], p) - now)
    return max(waits)


class LoginThrottle:
    def __init__(self, store, policy: LoginPolicy) -> None:
        self.store, self.p = store, policy
        with store.tx() as db:
            for stmt in SCHEMA.split(";"):
                db.execute(stmt)

    def check(self, client_id: str, source: str, now: float) -> float:
        """One read of the three counters and the known-source row: the same for any client id."""
        k = keys(client_id, source)
        rows = self.store.query("SELECT key, failures, last_at FROM login_failures WHERE key IN (?,?,?)",
                                tuple(k.values()))
        by_key = {r["key"]: (r["failures"], r["last_at"]) for r in rows}
        known = self.store.query("SELECT last_ok_at FROM login_sources WHERE client_id=? AND source=?",
                                 (client_id, source))
        fresh = bool(known) and now - known[0]["last_ok_at"] <= self.p.known_source_days * 86400
        return wait_s({kind: by_key[key] for kind, key in k.items() if key in by_key}, fresh, now, self.p)

    def failed(self, client_id: str, source: str, now: float) -> None:
        """Count one checked failure; alert once when the id or the address crosses its threshold."""
        k = keys(client_id, source)
        with self.store.tx() as db:
            counts = {}
            for kind, key in k.items():
                db.execute("INSERT INTO login_failures (key, failures, last_at) VALUES (?, 1, ?) "
                           "ON CONFLICT (key) DO UPDATE SET failures = CASE WHEN ? - last_at > ? THEN 1 "
                           "ELSE failures + 1 END, last_at = excluded.last_at",
                           (key, now, now, self.p.forget_after_s))
                counts[kind] = db.execute("SELECT failures FROM login_failures WHERE key=?", (key,)).fetchone()[0]
            for kind, free in (("client", self.p.client_free), ("source", self.p.source_free)):
                if counts[kind] == free:
                    detail = {"rule": f"failed_logins_{kind}", "failures": free, "source": source,
                              "max_delay_s": self.p.max_delay_s}
                    db.execute("INSERT INTO alerts (at, client_id, kind, detail) VALUES (?,?,?,?)",
                               (now, client_id if kind == "client" else None, "login_failures", json.dumps(detail)))
            if counts["pair"] == 1:  # rows of forgotten spells go when a new one starts
                db.execute("DELETE FROM login_failures WHERE last_at < ?", (now - self.p.forget_after_s,))

    def succeeded(self, client_id: str, source: str, now: float) -> None:
        with self.store.tx() as db:
            db.execute("DELETE FROM login_failures WHERE key=?", (keys(client_id, source)["pair"],))
            db.execute("INSERT INTO login_sources (client_id, source, last_ok_at) VALUES (?,?,?) "
                       "ON CONFLICT (client_id, source) DO UPDATE SET last_ok_at=excluded.last_ok_at",
                       (client_id, source, now))
