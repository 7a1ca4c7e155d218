"""Per-account token bucket, shared by every gunicorn worker through the SQLite store.

`take` is the pure rule (a bucket of `burst` tokens refilled at `rate_per_s`); the
`SharedRateLimiter` runs it inside one short write transaction per request, so two
workers serving the same account draw from one bucket. A per-worker bucket would hand an
account `workers x rate`, and the attacker decides which worker it lands on.

Defaults (Settings: 20/s, burst 40) leave an honest professional at 10 requests per
second a 2x margin; `rate_per_s <= 0` switches the limit off.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

SCHEMA = """CREATE TABLE IF NOT EXISTS rate_buckets (
  client_id TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at REAL NOT NULL)"""


@dataclass(frozen=True)
class Bucket:
    tokens: float
    updated_at: float


@dataclass(frozen=True)
class Taken:
    allowed: bool
    bucket: Bucket
    retry_after_s: float  # 0 when allowed; else seconds until one token is back


def take(bucket: Bucket | None, now: float, rate_per_s: float, burst: int) -> Taken:
    """Spend one token if there is one. A new account starts full; a clock that steps back
    refills nothing (elapsed time is never negative)."""
    if bucket is None:
        bucket = Bucket(float(burst), now)
    elapsed = max(0.0, now - bucket.updated_at)
    tokens = min(float(burst), bucket.tokens + elapsed * rate_per_s)
    stamp = max(now, bucket.updated_at)
    if tokens >= 1.0:
        return Taken(True, Bucket(tokens - 1.0, stamp), 0.0)
    return Taken(False, Bucket(tokens, stamp), (1.0 - tokens) / rate_per_s)


def retry_after_header(seconds: float) -> str:
    """Retry-After takes whole seconds (RFC 9110); never 0, which invites an instant retry."""
    return str(max(1, math.ceil(seconds)))


class SharedRateLimiter:
    def __init__(self, store, rate_per_s: float, burst: int) -> None:
        self.store, self.rate_per_s, self.burst = store, rate_per_s, burst
        with store.tx() as db:
            db.execute(SCHEMA)

    def admit(self, client_id: str, now: float) -> Taken:
        with self.store.tx() as db:  # BEGIN IMMEDIATE: read-modify-write without a lost update
            row = db.execute("SELECT tokens, updated_at FROM rate_buckets WHERE client_id=?", (client_id,)).fetchone()
            taken = take(Bucket(row[0], row[1]) if row else None, now, self.rate_per_s, self.burst)
            if not taken.allowed:  # a refusal changes nothing worth writing: the refill is recomputed
                return taken
            db.execute("INSERT INTO rate_buckets (client_id, tokens, updated_at) VALUES (?,?,?) ON CONFLICT (client_id)"
                       " DO UPDATE SET tokens=excluded.tokens, updated_at=excluded.updated_at",
                       (client_id, taken.bucket.tokens, taken.bucket.updated_at))
        return taken

    def reset(self, client_id: str) -> None:
        with self.store.tx() as db:
            db.execute("DELETE FROM rate_buckets WHERE client_id=?", (client_id,))
