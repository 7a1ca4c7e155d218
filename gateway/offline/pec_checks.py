"""Inputs and answer shapes of the offline stand-in (gateway.offline.desk uses them).

The PEC request checks are the platform's own (`tiers_payant.pec_request`), so a request
the platform would refuse as malformed (403/422) never becomes an offline acceptance.
Prices come from `compute_pec` with the card's guarantee level and no consumption
history (`check_renewal=False`): renewal is the platform's to judge at reconciliation.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from gateway.offline.decide import OfflineRequest
from tiers_payant.coverage import History, QuoteLine, compute_pec
from tiers_payant.model import eur
from tiers_payant.pec_request import line_json, prescription
from tiers_payant.schemas import EligibilityRequest, PecRequest

def offline_request(req: EligibilityRequest, lines: list[QuoteLine] | None = None) -> OfflineRequest:
    b = req.beneficiary
    return OfflineRequest(req.domain, b.nir, b.birth_date, b.birth_rank, tuple(lines or ()))


def price_offline(req: PecRequest, card, lines: list[QuoteLine], on: date):
    if card is None or req.domain not in card.domains:
        return None  # decide_offline declines with the card's reason
    try:
        return compute_pec(req.domain, lines, level=card.guarantee(req.domain) or "ECO",
                           responsable=card.responsable, birth_date=req.beneficiary.birth_date, on=on,
                           history=History(), check_renewal=False, contract_type=card.contract_type,
                           amo_regime=req.amo_regime, prescription=prescription(req),
                           territory=req.territory)
    except ValueError:
        return None


def refused_answer(reason: str, reasons: list[str], result, total: Decimal, base: dict) -> dict[str, Any]:
    return {"decision": "refused", "reason": reason, "reasons": reasons, "pec_number": None,
            "lines": [line_json(ln) for ln in result.lines] if result else [], "amo": "0.00", "amc": "0.00",
            "patient": eur(total), "expires_on": None, "journal_reference": None, **base}
