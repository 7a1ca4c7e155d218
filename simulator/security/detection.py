"""Enumeration detection: the rules that suspend an account. Pure.

The threat (DOMAIN.md, the 2024 incident): a phished professional account used to pull
beneficiaries out of the platform. With proof of possession an answer about a person
needs their card, NIR and birth date, so what an extractor does is *probe*: one real
card, many guessed identities. Every lookup is classified by what its answer shows:

- `ok`: the proof of possession held (the answer was about the beneficiary);
- `with_card`: a usable card was presented (genuine, current, not revoked). A lookup
  with a usable card but `ok` false is a *probe*: a genuine card and an identity that
  is not on it (BENEFICIARY_NOT_ON_CARD). A lookup without a usable card (forged,
  unknown AMC, expired, revoked) fails before any identity is compared.

Rules, over sliding windows per account (thresholds in `Thresholds`, documented there):

1. `enumeration`: more than 20 distinct identities probed in 60 s;
2. `failed_proofs`: more than half of at least 20 lookups in 60 s were probes;
3. `no_usable_card`: more than 200 lookups without a usable card in 60 s;
4. `slow_enumeration`: more than 100 distinct identities probed in one hour (a prober
   pacing itself under rules 1-2);
5. `bulk_lookups`: more than 3,600 distinct beneficiaries looked up in one hour (one new
   person a second, sustained: no shop sees that many).

The attacker of the issue (random valid-key NIRs, one real card) probes every time, so
rule 2 fires at its 20th probe and rule 1 at its 21st, whatever it mixes in. Honest
traffic stays far below: a shop's customers are a few dozen people, and even a load test
replaying the sandbox catalogue at 10 requests a second (about 3% probes and 14% unusable
cards) stays under each threshold with a wide margin. Only probes count in rules 1, 2
and 4: card-level failures are answered before any identity is compared, so they leak
nothing and an honest shop meets them (expired, revoked cards) more often than probes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from tiers_payant.cards import CARD_LEVEL  # noqa: F401 - re-exported

IDENTITY_MISMATCH = "BENEFICIARY_NOT_ON_CARD"


@dataclass(frozen=True)
class Thresholds:
    window_s: float = 60.0
    max_distinct_probed: int = 20  # rule 1: suspend above this many distinct probed identities
    min_lookups_for_share: int = 20  # rule 2 judges a share only over this many lookups
    max_probe_share: float = 0.5  # rule 2: suspend above this share of probes
    max_without_card: int = 200  # rule 3
    long_window_s: float = 3600.0
    max_distinct_probed_long: int = 100  # rule 4
    max_distinct_long: int = 3600  # rule 5
    long_check_every_s: float = 10.0  # rules 4-5 read an hour of rows: judged at most this often per account


@dataclass(frozen=True)
class Lookup:
    at: float
    beneficiary_key: str  # keyed hash of (NIR, birth date, rank): never the NIR itself
    ok: bool
    with_card: bool


@dataclass(frozen=True)
class WindowStats:
    lookups: int
    probes: int  # with_card true and ok false: a genuine card, an identity not on it
    without_card: int  # with_card false
    distinct_probed: int  # distinct keys among the probes


@dataclass(frozen=True)
class Verdict:
    rule: str
    detail: str  # human sentence, no identity data: safe for logs and alerts


def classify(answer: dict) -> tuple[bool, bool]:
    """(ok, with_card) of a rights-check or PEC answer."""
    reason = answer.get("reason")
    if answer.get("decision") in ("eligible", "accepted", "partial"):
        return True, True
    if reason in CARD_LEVEL:
        return False, False
    if reason == IDENTITY_MISMATCH:
        return False, True
    return True, True  # contract, domain, renewal, amount: decided after the identity matched


def summarise(lookups: Iterable[Lookup], since: float) -> WindowStats:
    """The window's counts from raw lookups (the store computes the same in SQL)."""
    rows = [l for l in lookups if l.at > since]
    probes = [l for l in rows if l.with_card and not l.ok]
    return WindowStats(len(rows), len(probes), sum(not l.with_card for l in rows),
                       len({l.beneficiary_key for l in probes}))


def judge_window(stats: WindowStats, t: Thresholds = Thresholds()) -> Verdict | None:
    if stats.distinct_probed > t.max_distinct_probed:
        return Verdict("enumeration", f"{stats.distinct_probed} distinct identities probed on genuine cards "
                                      f"in {t.window_s:g} s (limit {t.max_distinct_probed})")
    if stats.lookups >= t.min_lookups_for_share and stats.probes > t.max_probe_share * stats.lookups:
        return Verdict("failed_proofs", f"{stats.probes} of {stats.lookups} lookups in {t.window_s:g} s failed "
                                        f"their proof of possession on a genuine card (limit {t.max_probe_share:.0%})")
    if stats.without_card > t.max_without_card:
        return Verdict("no_usable_card", f"{stats.without_card} lookups without a usable card in {t.window_s:g} s "
                                         f"(limit {t.max_without_card})")
    return None


def judge_long_window(distinct: int, distinct_probed: int, t: Thresholds = Thresholds()) -> Verdict | None:
    if distinct_probed > t.max_distinct_probed_long:
        return Verdict("slow_enumeration", f"{distinct_probed} distinct identities probed on genuine cards in "
                                           f"{t.long_window_s:g} s (limit {t.max_distinct_probed_long})")
    if distinct > t.max_distinct_long:
        return Verdict("bulk_lookups", f"{distinct} distinct beneficiaries looked up in {t.long_window_s:g} s "
                                       f"(limit {t.max_distinct_long})")
    return None


def needs_window_check(ok: bool) -> bool:
    """Successes skip the window query: they add to no numerator, so rules 1 and 3 cannot
    cross on one, and rule 2 only when a success brings the count up to its minimum, a
    case the next failure catches. This keeps honest traffic to one insert per lookup."""
    return not ok
