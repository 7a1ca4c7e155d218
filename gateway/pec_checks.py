"""Inputs and answer shapes of the offline stand-in (gateway.offline uses them).

The PEC request checks are the platform's, made offline the same way: a request the
platform would refuse as malformed (403/422) must not become an offline acceptance.
Prices come from `compute_pec` with the card's guarantee level and no consumption
history (`check_renewal=False`): renewal is the platform's to judge at reconciliation.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from gateway.standin import OfflineRequest
from tiers_payant.coverage import History, QuoteLine, compute_pec, line_problems
from tiers_payant.model import PEC_DOMAINS, eur
from tiers_payant.problems import FieldError, Problem
from tiers_payant.schemas import EligibilityRequest, PecRequest
from tiers_payant.tokens import Principal

PROFESSION_DOMAIN = {"28": "OPTI", "26": "AUDI"}
PARIS = ZoneInfo("Europe/Paris")


def quote_lines(req: PecRequest) -> list[QuoteLine]:
    return [QuoteLine(ln.code, ln.cls, ln.eye or ln.ear, ln.price, ln.quantity) for ln in req.lines]


def check_pec_request(req: PecRequest, principal: Principal, on: date) -> list[QuoteLine]:
    if req.professional.rpps != principal.rpps or req.professional.profession != principal.profession:
        raise Problem("FORBIDDEN", "the professional in the body is not the one of the token")
    if req.domain not in PEC_DOMAINS:
        raise Problem("VALIDATION_FAILED", "PEC is for OPTI or AUDI", [FieldError("/domain", "OPTI or AUDI")])
    if PROFESSION_DOMAIN.get(principal.profession) != req.domain:
        raise Problem("FORBIDDEN", f"profession {principal.profession} cannot ask a PEC in {req.domain}")
    lines = quote_lines(req)
    problems = line_problems(req.domain, lines, birth_date=req.beneficiary.birth_date, on=on)
    if problems:
        raise Problem("VALIDATION_FAILED", "invalid quote lines",
                      [FieldError(f"/lines/{i}", msg) for i, msg in problems])
    return lines


def paris_day(now: float) -> date:
    return datetime.fromtimestamp(now, PARIS).date()


def offline_request(req: EligibilityRequest, lines: list[QuoteLine] | None = None) -> OfflineRequest:
    b = req.beneficiary
    return OfflineRequest(req.domain, b.nir, b.birth_date, b.birth_rank, tuple(lines or ()))


def price_offline(req: PecRequest, card, lines: list[QuoteLine], on: date):
    if card is None or req.domain not in card.domains:
        return None  # decide_offline declines with the card's reason
    try:
        return compute_pec(req.domain, lines, level=card.guarantee(req.domain) or "ECO",
                           responsable=card.responsable, birth_date=req.beneficiary.birth_date, on=on,
                           history=History(), check_renewal=False)
    except ValueError:
        return None


def line_json(ln) -> dict[str, Any]:
    return {"code": ln.code, "status": ln.status, "reason": ln.reason, "amo": eur(ln.amo), "amc": eur(ln.amc),
            "patient": eur(ln.patient)}


def refused_answer(reason: str, reasons: list[str], result, total: Decimal, base: dict) -> dict[str, Any]:
    return {"decision": "refused", "reason": reason, "reasons": reasons, "pec_number": None,
            "lines": [line_json(ln) for ln in result.lines] if result else [], "amo": "0.00", "amc": "0.00",
            "patient": eur(total), "expires_on": None, "journal_reference": None, **base}
