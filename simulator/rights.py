"""The platform's online rights check (IDB-like), as a pure function.

The same function answers live requests, judges the gateway's advices "as if the request
had come online at its original time", and computes the sandbox catalogue's `expect`, so
the three can never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tiers_payant.model import Card, CardBeneficiary

from .population import Beneficiary, Contract


@dataclass(frozen=True)
class Rights:
    decision: str  # "eligible" | "not_eligible"
    reason: str | None
    beneficiary: Beneficiary | None = None
    contract: Contract | None = None

    @property
    def eligible(self) -> bool:
        return self.decision == "eligible"

    def coverage(self, domain: str) -> dict | None:
        if self.contract is None:
            return None
        c = self.contract
        return {"domain": domain, "level": dict(c.guarantees).get(domain), "valid_to": c.valid_to.isoformat(),
                "responsable": c.responsable}


def _no(reason: str) -> Rights:
    return Rights("not_eligible", reason)


def matching(card_beneficiaries: tuple[CardBeneficiary, ...], nir: str, birth_date: date, birth_rank: int):
    """Proof of possession: card, NIR, birth date and rank must all agree."""
    for b in card_beneficiaries:
        if b.nir == nir and b.birth_date == birth_date and b.birth_rank == birth_rank:
            return b
    return None


def decide_rights(card: Card | None, card_error: str | None, contract: Contract | None, *, nir: str,
                  birth_date: date, birth_rank: int, domain: str, on: date, card_revoked: bool) -> Rights:
    if card is None:
        return _no(card_error or "CARD_SIGNATURE_INVALID")
    if on < card.valid_from:
        return _no("CARD_NOT_YET_VALID")
    if on > card.valid_to:
        return _no("CARD_EXPIRED")
    if card_revoked:
        return _no("CARD_REVOKED")
    if matching(card.beneficiaries, nir, birth_date, birth_rank) is None:
        return _no("BENEFICIARY_NOT_ON_CARD")
    if contract is None or contract.member != card.member:
        return _no("BENEFICIARY_NOT_ON_CARD")
    person = next((b for b in contract.beneficiaries
                   if b.nir == nir and b.birth_date == birth_date and b.birth_rank == birth_rank), None)
    if person is None:
        return _no("BENEFICIARY_NOT_ON_CARD")
    if contract.terminated_on is not None and on >= contract.terminated_on:
        return _no("CONTRACT_TERMINATED")
    if contract.status == "suspended":
        return _no("CONTRACT_SUSPENDED")
    if on < contract.valid_from or on > contract.valid_to:
        return _no("CONTRACT_TERMINATED")
    if domain not in card.domains or domain not in contract.domains:
        return _no("DOMAIN_NOT_COVERED")
    return Rights("eligible", None, person, contract)
