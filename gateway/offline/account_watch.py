"""Offline detection: the platform's enumeration watch, applied by the stand-in itself.

While the platform is cut, its detection is blind, which is exactly when a phished account
is worth most. The gateway therefore counts, per professional account, over a sliding
window, the failed identity proofs (a card whose beneficiary does not match: someone
guessing NIRs or birth dates) and the distinct beneficiaries looked up, and refuses that
account offline past either limit. Pure: stats in, a reason or None out.

The limits are assumptions, configurable (GW_OFFLINE_ACCOUNT_*): an optician or
audioprothésiste serves a handful of people an hour; 30 distinct beneficiaries in 10 minutes
or 10 failed proofs is a script, not a shop.
"""
from __future__ import annotations

from dataclasses import dataclass

from tiers_payant.cards import CARD_LEVEL  # noqa: F401 - re-exported

IDENTITY_MISMATCH = "BENEFICIARY_NOT_ON_CARD"


@dataclass(frozen=True)
class AccountLimits:
    window_s: float = 600.0
    max_failed_proofs: int = 10
    max_distinct_beneficiaries: int = 30


@dataclass(frozen=True)
class AccountActivity:
    failed_proofs: int
    distinct_beneficiaries: int


def classify(reason: str | None) -> tuple[bool, bool]:
    """(ok, with_card) of one offline answer, as the platform's detection classifies lookups."""
    if reason == IDENTITY_MISMATCH:
        return False, True
    if reason in CARD_LEVEL:
        return False, False
    return True, True


def refused_for_proofs(activity: AccountActivity, limits: AccountLimits) -> bool:
    return activity.failed_proofs >= limits.max_failed_proofs


def account_refusal(activity: AccountActivity, limits: AccountLimits) -> str | None:
    if activity.failed_proofs >= limits.max_failed_proofs:
        return "OFFLINE_ACCOUNT_LIMIT"
    if activity.distinct_beneficiaries >= limits.max_distinct_beneficiaries:
        return "OFFLINE_ACCOUNT_LIMIT"
    return None
