"""A state directory belongs to one population, recorded on first use and checked on every start.

The population is a pure function of (seed, beneficiaries, AMC count); the state directory
holds what it cannot derive (revocations seeded from it, PECs, consumption, suspensions).
Reused with another population, those facts would silently apply to other people: a revoked
card of the old population is nobody's, a revoked card of the new one is never revoked. So
a mismatch is refused, naming both populations and the way out.
"""
from __future__ import annotations

import json
import os
from typing import Any

from .store import Store

FORMAT_VERSION = 3  # 2: idempotency table, advices judged in one transaction; 3: random keys, hashed secrets
_KEY = "population"


class StateMismatch(Exception):
    """The state directory was made for another population (exit status 2 at start)."""


def identity(settings) -> dict[str, Any]:
    return {"format": FORMAT_VERSION, "seed": settings.seed, "beneficiaries": settings.beneficiaries,
            "amc_count": settings.amc_count}


def describe(ident: dict[str, Any]) -> str:
    return (f"seed {ident.get('seed')}, {ident.get('beneficiaries'):,} beneficiaries, {ident.get('amc_count')} AMCs,"
            f" format {ident.get('format')}")


def claim(store: Store, settings) -> None:
    """Record this population on a new directory, or check it; raises StateMismatch."""
    wanted = identity(settings)
    with store.tx() as db:
        row = db.execute("SELECT value FROM meta WHERE key=?", (_KEY,)).fetchone()
        if row is None:
            used = db.execute("SELECT 1 FROM meta WHERE key='revocations_seeded'").fetchone()
            if used:  # made by a version that did not record its population
                raise StateMismatch(_message(settings, "an earlier format that did not record its population",
                                             wanted))
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (_KEY, json.dumps(wanted, sort_keys=True)))
            return
        stored = json.loads(row["value"])
    if stored != wanted:
        raise StateMismatch(_message(settings, describe(stored), wanted))


def _message(settings, stored: str, wanted: dict[str, Any]) -> str:
    return (f"state directory {os.path.abspath(settings.state_dir)} belongs to another population ({stored});"
            f" this platform was started for {describe(wanted)}. Use another --state-dir, or start with"
            f" --reset-state to delete this directory's platform state (PECs, consumption, revocations,"
            f" suspensions, advices, keys, issued secrets) and begin afresh.")


def reset(settings) -> list[str]:
    """Delete the platform's state files of this directory; returns what was removed."""
    removed = []
    base = os.path.join(settings.state_dir, "platform.sqlite")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(base + suffix):
            os.unlink(base + suffix)
            removed.append(base + suffix)
    keys = os.path.join(settings.state_dir, "keys")
    if os.path.isdir(keys):  # another population has other AMCs: new keys for it
        import shutil
        shutil.rmtree(keys)
        removed.append(keys)
    return removed


def recorded(state_dir: str) -> dict[str, Any] | None:
    """The population a state directory was made for, or None (no platform started there)."""
    path = os.path.join(state_dir, "platform.sqlite")
    if not os.path.exists(path):
        return None
    row = Store(path).query("SELECT value FROM meta WHERE key=?", (_KEY,))
    return json.loads(row[0]["value"]) if row else None
