"""What the gateway last learnt from the platform, as the offline stand-in needs it.

Three caches on disk (`DiskCache`): the JWKS, the revocation list and the stand-in
policies. The leader writes them; every worker reads them here and keeps the parsed form
(public keys, frozensets, StandinPolicy values) until the file changes, so the offline
path costs a `stat` per cache, not a parse.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.offline.disk_cache import DiskCache
from gateway.offline.decide import RevocationSnapshot
from tiers_payant.cards import jwk_public_key
from tiers_payant.model import StandinPolicy

CACHES = ("jwks", "revocations", "standin_policy")


class CachedPlatform:
    def __init__(self, directory: str) -> None:
        self.disk = DiskCache(directory)
        self._parsed: dict[str, tuple[int, float, Any]] = {}  # name -> (id(value), fetched_at, parsed)
        self._lock = threading.Lock()

    def _get(self, name: str, parse: Callable[[dict, float], Any]) -> Any:
        loaded = self.disk.load(name)
        if loaded is None:
            return None
        value, fetched_at = loaded
        memo = self._parsed.get(name)
        if memo and memo[0] == id(value) and memo[1] == fetched_at:
            return memo[2]
        parsed = parse(value, fetched_at)
        with self._lock:
            self._parsed[name] = (id(value), fetched_at, parsed)
        return parsed

    # -- readers -----------------------------------------------------------------------
    def keys(self, use: str) -> dict[str, Ed25519PublicKey] | None:
        """JWKS keys for `use` ("card" or "token"), by kid; None before the first load."""
        both = self._get("jwks", _parse_jwks)
        return None if both is None else both[use]

    def card_key(self, kid: str) -> Ed25519PublicKey | None:
        return (self.keys("card") or {}).get(kid)

    def amc_known(self, number: str) -> bool:
        """Does the JWKS publish any key of this AMC? (A card signed by another, retired key of
        a known AMC is then CARD_KEY_RETIRED, not UNKNOWN_AMC.)"""
        both = self._get("jwks", _parse_jwks)
        return both is not None and f"amc-{number}" in both["amcs"]

    def revocations(self) -> RevocationSnapshot | None:
        return self._get("revocations", lambda v, at: RevocationSnapshot(
            int(v.get("version", 0)), at, frozenset(v.get("cards", ())), frozenset(v.get("accounts", ())),
            tuple(sorted((str(k), int(n)) for k, n in (v.get("credentials") or {}).items()))))

    def policy(self, amc: str) -> StandinPolicy | None:
        policies = self._get("standin_policy", lambda v, at: {
            p["amc"]: StandinPolicy.from_json(p) for p in v.get("policies", ())})
        return None if policies is None else policies.get(amc)

    def ages(self, now: float) -> dict[str, float | None]:
        return {name: _round(self.disk.age_s(name, now)) for name in CACHES}

    def loaded(self) -> bool:
        return all(self.disk.load(name) is not None for name in CACHES)

    # -- writer (the leader) -----------------------------------------------------------
    def save(self, name: str, value: dict, fetched_at: float) -> None:
        self.disk.save(name, value, fetched_at)


def _parse_jwks(value: dict, fetched_at: float) -> dict:
    """{"card": {kid: key}, "token": {kid: key}, "amcs": families with a published card key}."""
    out: dict = {"card": {}, "token": {}}
    for jwk in value.get("keys", ()):
        use = jwk.get("tp_use")
        if use in out and jwk.get("crv") == "Ed25519" and isinstance(jwk.get("kid"), str):
            out[use][jwk["kid"]] = jwk_public_key(jwk)
    out["amcs"] = frozenset(kid.rpartition("-")[0] for kid in out["card"])  # amc-<number>-<version>
    return out


def _round(age: float | None) -> float | None:
    return None if age is None else round(age, 1)
