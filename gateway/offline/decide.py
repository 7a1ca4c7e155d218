"""The offline stand-in: decide without the platform, inside the limits the AMC set.

A pure function of card claims, request, policy, revocation snapshot, journal counts and
clock (DESIGN.md section 5, step 3). Rules run in order of precedence, each a small
function returning a decline code or None. Every rule that can be judged is judged, so
`reasons` lists all failures (the journal keeps them); `reason` is the first.

Choices made here:
- The date of validity checks is the Paris calendar date of `now`, unless the shell
  passes `today` (tests, and a shell that already has it).
- Eligibility checks (no lines) commit no money: they stop after the card and list rules.
  The amount rules (single ceiling, velocity, the default for a domain without a
  ceiling) apply to PECs.
- A domain without a ceiling under a default of "accept" still meets the velocity limits:
  those are per beneficiary, whatever the domain.
- `regulated_only` is the shell's claim that the request concerns only 100% Santé items;
  lines of a free-priced class veto it.
- The snapshot's `accounts` (suspended professional accounts) are the shell's check at
  authentication, not a rule about the card.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from tiers_payant.model import Card, StandinPolicy, money, paris_day
from tiers_payant.tariff import REGULATED_CLASSES

if TYPE_CHECKING:
    from tiers_payant.coverage import QuoteLine

@dataclass(frozen=True)
class RevocationSnapshot:
    version: int
    fetched_at: float  # epoch seconds
    cards: frozenset[str]  # revoked card serials
    accounts: frozenset[str]  # suspended client_ids
    # client_id -> lowest credential version still valid (a reset supersedes older tokens)
    credentials: "tuple[tuple[str, int], ...]" = ()

    def credential_floor(self, client_id: str) -> int:
        return dict(self.credentials).get(client_id, 0)


@dataclass(frozen=True)
class OfflineCounts:
    """This beneficiary's offline acceptances within the policy period, from the journal."""

    count: int
    amount_eur: Decimal


@dataclass(frozen=True)
class OfflineRequest:
    domain: str
    nir: str
    birth_date: date
    birth_rank: int
    lines: tuple["QuoteLine", ...] = ()  # empty for an eligibility check


@dataclass(frozen=True)
class OfflineDecision:
    accepted: bool
    reason: str | None  # first failing rule's code (tiers_payant.problems)
    reasons: tuple[str, ...]  # every failing code, or the names of the rules applied
    amc_eur: Decimal  # what the AMC is committed to offline; 0 for eligibility or a decline


def check_signature(card: Card | None, card_error: str | None) -> str | None:
    return (card_error or "CARD_SIGNATURE_INVALID") if card is None else None


def check_validity(card: Card, today: date) -> str | None:
    if today < card.valid_from:
        return "CARD_NOT_YET_VALID"
    return "CARD_EXPIRED" if today > card.valid_to else None  # both ends inclusive


def check_beneficiary(card: Card, req: OfflineRequest) -> str | None:
    nir = _norm_nir(req.nir)
    match = any(_norm_nir(b.nir) == nir and b.birth_date == req.birth_date
                and b.birth_rank == req.birth_rank for b in card.beneficiaries)
    return None if match else "BENEFICIARY_NOT_ON_CARD"


def check_domain(card: Card, domain: str) -> str | None:
    return None if domain in card.domains else "DOMAIN_NOT_COVERED"


def check_policy(card: Card, policy: StandinPolicy | None) -> str | None:
    # No limits from this AMC means nothing to stand in with: the default answer is decline.
    return None if policy is not None and policy.amc == card.amc else "OFFLINE_DEFAULT_DECLINE"


def check_revoked(card: Card, revocations: RevocationSnapshot | None) -> str | None:
    # Checked even on a stale list: a serial known to be revoked stays revoked.
    return "CARD_REVOKED" if revocations is not None and card.serial in revocations.cards else None


def is_fresh(policy: StandinPolicy, revocations: RevocationSnapshot | None, now: float) -> bool:
    return revocations is not None and now - revocations.fetched_at <= policy.max_revocation_age_s


def check_freshness(policy: StandinPolicy, revocations: RevocationSnapshot | None, now: float,
                    regulated_only: bool) -> str | None:
    if is_fresh(policy, revocations, now) or (regulated_only and policy.stale_list_allows_100_sante):
        return None  # regulated prices bound the loss, so the AMC may accept them on an old list
    return "REVOCATIONS_STALE"


def check_default(policy: StandinPolicy, domain: str) -> str | None:
    """A domain the policy sets no ceiling for: the AMC's default answer."""
    if policy.ceiling(domain) is not None or policy.default == "accept":
        return None
    return "OFFLINE_DEFAULT_DECLINE"


def check_single_ceiling(policy: StandinPolicy, domain: str, amc_eur: Decimal) -> str | None:
    ceiling = policy.ceiling(domain)
    return "OFFLINE_LIMIT_EXCEEDED" if ceiling is not None and amc_eur > ceiling else None


def check_velocity(policy: StandinPolicy, counts: OfflineCounts, amc_eur: Decimal) -> str | None:
    if counts.count + 1 > policy.cumulative_count:
        return "OFFLINE_VELOCITY_EXCEEDED"
    if counts.amount_eur + amc_eur > policy.cumulative_ceiling_eur:
        return "OFFLINE_VELOCITY_EXCEEDED"
    return None


def decide_offline(card: Card | None, card_error: str | None, req: OfflineRequest,
                   policy: StandinPolicy | None, revocations: RevocationSnapshot | None,
                   counts: OfflineCounts, now: float, *, amc_amount_eur: Decimal = Decimal(0),
                   regulated_only: bool = False, today: date | None = None) -> OfflineDecision:
    if card is None:
        return _declined([check_signature(card, card_error) or "CARD_SIGNATURE_INVALID"])
    day = today or paris_day(now)
    regulated = regulated_only and all(line.cls in REGULATED_CLASSES for line in req.lines)
    amount = money(amc_amount_eur)
    rules: list[tuple[str, str | None]] = [
        ("signature", None),
        ("validity", check_validity(card, day)),
        ("beneficiary", check_beneficiary(card, req)),
        ("domain", check_domain(card, req.domain)),
        ("policy", check_policy(card, policy)),
        ("revocation", check_revoked(card, revocations)),
    ]
    if policy is not None and policy.amc == card.amc:
        # Rule names record on what ground an acceptance stood (the journal keeps them).
        fresh = is_fresh(policy, revocations, now)
        rules.append(("freshness" if fresh else "stale_list_100_sante",
                      check_freshness(policy, revocations, now, regulated)))
        if req.lines:
            has_ceiling = policy.ceiling(req.domain) is not None
            if has_ceiling:
                rules.append(("single_ceiling", check_single_ceiling(policy, req.domain, amount)))
            rules.append(("velocity", check_velocity(policy, counts, amount)))
            if not has_ceiling:
                rules.append(("default_accept", check_default(policy, req.domain)))
    codes = [code for _, code in rules if code is not None]
    if codes:
        return _declined(codes)
    applied = tuple(name for name, _ in rules)
    return OfflineDecision(True, None, applied, amount if req.lines else Decimal(0))


def _declined(codes: list[str]) -> OfflineDecision:
    unique = tuple(dict.fromkeys(codes))  # a code once, in order of precedence
    return OfflineDecision(False, unique[0], unique, Decimal(0))


def _norm_nir(nir: str) -> str:
    return nir.replace(" ", "").upper()
