"""Which signing keys are published and which one signs: a pure function of the entries and `now`.

A key family is one AMC's card keys (`amc-<number>`) or the access-token keys (`token`).
Each rotation adds version v+1 to the family and gives the key it replaces a retirement
time `now + overlap`: until then both are in the JWKS, so cards and tokens issued before
the rotation still verify; after it the old key is gone and what it signed fails with a
clear reason (`CARD_KEY_RETIRED` for a card, a 401 for a token). The newest version
always signs. Kids name family and version: `amc-123456789-2`, `token-3`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

TOKEN_FAMILY = "token"


@dataclass(frozen=True)
class KeyEntry:
    family: str  # "amc-<9 digits>" or "token"
    version: int
    created_at: float
    retires_at: float | None  # None: current (never set for the newest version)
    public: bytes  # 32 raw Ed25519 public bytes
    private: bytes  # 32 raw random Ed25519 private bytes; b"" once retired (destroyed)

    @property
    def kid(self) -> str:
        return kid_of(self.family, self.version)

    @property
    def use(self) -> str:
        return "token" if self.family == TOKEN_FAMILY else "card"


def kid_of(family: str, version: int) -> str:
    return f"{family}-{version}"


def card_family(amc_number: str) -> str:
    return f"amc-{amc_number}"


def published(entries: tuple[KeyEntry, ...], now: float) -> tuple[KeyEntry, ...]:
    """The keys a verifier may use at `now`: current ones, and replaced ones inside their
    overlap. Also asked for a past instant (an offline decision judged later). A key's
    creation is not checked: what it signed carries its own issue time, checked apart."""
    return tuple(e for e in entries if e.retires_at is None or now < e.retires_at)


def unchanged_between(entries: tuple[KeyEntry, ...], at: float) -> tuple[float, float]:
    """The interval around `at` in which `published` gives the same keys (between retirements)."""
    times = [e.retires_at for e in entries if e.retires_at is not None]
    return max((t for t in times if t <= at), default=float("-inf")), min((t for t in times if t > at),
                                                                            default=float("inf"))


def current(entries: tuple[KeyEntry, ...], family: str) -> KeyEntry | None:
    """The newest version of `family`: the one that signs."""
    mine = [e for e in entries if e.family == family]
    return max(mine, key=lambda e: e.version) if mine else None


def rotated(entries: tuple[KeyEntry, ...], family: str, public: bytes, private: bytes, now: float,
            overlap_s: float) -> tuple[KeyEntry, ...]:
    """`entries` with a new current key for `family`; the one it replaces retires after
    `overlap_s`. Retired keys keep their public half (an advice is judged with the keys of
    its own time) but lose their private half: nothing may sign with them again."""
    if overlap_s < 0:
        raise ValueError("overlap_s must be >= 0")
    old = current(entries, family)
    version = old.version + 1 if old else 1
    out = []
    for e in entries:
        if e.family == family and e.retires_at is None:
            e = replace(e, retires_at=now + overlap_s)
        out.append(forgotten(e, now))
    out.append(KeyEntry(family, version, now, None, public, private))
    return tuple(out)


def forgotten(e: KeyEntry, now: float) -> KeyEntry:
    """The entry without its private half once it is retired."""
    return replace(e, private=b"") if e.retires_at is not None and e.retires_at <= now and e.private else e


def retired_now(entries: tuple[KeyEntry, ...], kid: str, now: float) -> tuple[KeyEntry, ...]:
    """End a replaced key's overlap at once (a key believed compromised). The current key of
    a family cannot be retired this way: rotate first, so something always signs."""
    target = next((e for e in entries if e.kid == kid), None)
    if target is None:
        raise KeyError(kid)
    if target.retires_at is None:
        raise ValueError(f"{kid} is its family's current key: rotate it first")
    return tuple(forgotten(replace(e, retires_at=min(e.retires_at, now)), now) if e.kid == kid else e
                 for e in entries)


def missing_families(entries: tuple[KeyEntry, ...], families: list[str]) -> list[str]:
    have = {e.family for e in entries}
    return [f for f in families if f not in have]
