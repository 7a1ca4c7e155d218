"""Checks of a PEC request that both services make the same way.

The platform refuses a malformed quote with a 403/422 problem; the gateway's offline
stand-in must refuse it identically, or a request the platform would reject could become
an offline acceptance. One function, used by both.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from .coverage import LineResult, QuoteLine, line_problems
from .model import PEC_DOMAINS, eur
from .problems import FieldError, Problem
from .schemas import PecRequest
from .tokens import Principal

PROFESSION_DOMAIN = {"28": "OPTI", "26": "AUDI"}  # opticien-lunetier, audioprothésiste


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


def line_json(ln: LineResult) -> dict[str, Any]:
    return {"code": ln.code, "status": ln.status, "reason": ln.reason, "amo": eur(ln.amo), "amc": eur(ln.amc),
            "patient": eur(ln.patient)}
