"""Client secrets: random, shown once, stored only as an argon2id hash.

A sandbox account (`opt-000123`) or a gateway's service account (`gw-1`) has no secret
until one is issued for it: by `python -m simulator accounts --state-dir DIR`, by the
control API's `POST /v1/sandbox/accounts`, or by a credential reset. The secret is
128+ bits from `secrets`, printed or answered once; the state directory keeps its argon2id
hash (OWASP's minimum parameters for argon2id: 19 MiB, 2 passes, 1 lane) and nothing from
which the secret could be rebuilt. A login with an unknown client id, or an account never
issued a secret, verifies against a dummy hash of the same cost, so timing does not tell
which ids exist.
"""
from __future__ import annotations

import os
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
HASH_THREADS = max(1, min(4, os.cpu_count() or 1))
_DUMMY = HASHER.hash(secrets.token_urlsafe(32))  # per process: nothing to learn from it


def new_secret() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def hashed(secret: str) -> str:
    return HASHER.hash(secret)


def secret_ok(stored: str | None, secret: str) -> bool:
    """Does `secret` match the stored hash? The same work when nothing is stored."""
    try:
        return HASHER.verify(stored if stored and stored.startswith("$argon2") else _DUMMY,
                             secret.encode("utf-8", "surrogatepass")) and bool(stored)
    except (VerificationError, InvalidHashError):
        return False


def issue(store, client_ids: list[str], now: float, reissue: bool = False) -> list[dict]:
    """A secret for each account that has none (or for every one, `reissue`: a reset).

    Answers `{"client_id", "client_secret"}`, the secret None for an account issued one
    earlier (it cannot be shown again: reissue it). Hashing happens outside the write
    transaction; the row is written only if it still has no secret (two issuers at once:
    one wins, the other reports "issued earlier")."""
    from .security.suspension import reset_credentials
    if reissue:
        return [{"client_id": c, "client_secret": reset_credentials(store, c, now)["client_secret"]} for c in client_ids]
    have = {r["client_id"] for r in store.query("SELECT client_id FROM accounts WHERE secret IS NOT NULL")}
    fresh = {c: new_secret() for c in client_ids if c not in have}
    with ThreadPoolExecutor(HASH_THREADS) as pool:  # argon2 releases the GIL: the cores hash side by side
        digests = dict(zip(fresh, pool.map(hashed, fresh.values())))
    won = set()
    with store.tx() as db:
        for client_id, digest in digests.items():
            if db.execute("INSERT INTO accounts (client_id, secret) VALUES (?, ?) ON CONFLICT (client_id) "
                          "DO UPDATE SET secret=excluded.secret WHERE accounts.secret IS NULL",
                          (client_id, digest)).rowcount == 1:
                won.add(client_id)
    return [{"client_id": c, "client_secret": fresh[c] if c in won else None} for c in client_ids]
