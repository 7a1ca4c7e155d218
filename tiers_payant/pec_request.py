"""Checks of a PEC request that both services make the same way.

The platform refuses a malformed quote with a 403/422 problem; the gateway's offline
stand-in must refuse it identically, or a request the platform would reject could become
an offline acceptance. One function, used by both.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from .coverage import LineResult, Prescription, QuoteLine, RenewalFacts, line_problems, shape_problems
from .model import PEC_DOMAINS, eur
from .problems import FieldError, Problem
from .schemas import PecRequest
from .tokens import Principal

PROFESSION_DOMAIN = {"28": "OPTI", "26": "AUDI"}  # opticien-lunetier, audioprothésiste


def quote_lines(req: PecRequest) -> list[QuoteLine]:
    return [QuoteLine(ln.code, ln.cls, ln.eye or ln.ear, ln.price, ln.quantity) for ln in req.lines]


def renewal_facts(req: PecRequest) -> RenewalFacts | None:
    r = req.renewal
    return None if r is None else RenewalFacts(r.correction_change_right, r.correction_change_left,
                                               r.medical_condition)


def prescription(req: PecRequest) -> Prescription | None:
    return None if req.prescription_date is None else Prescription(req.prescription_date, req.prescriber)


def request_problem(req: PecRequest, lines: list[QuoteLine], on: date) -> Problem | None:
    """The problem a malformed quote gets (VALIDATION_FAILED / QUOTE_SHAPE_INVALID), or None."""
    if req.domain not in PEC_DOMAINS:
        return Problem("VALIDATION_FAILED", "PEC is for OPTI or AUDI", [FieldError("/domain", "OPTI or AUDI")])
    problems = line_problems(req.domain, lines, birth_date=req.beneficiary.birth_date, on=on)
    if problems:
        return Problem("VALIDATION_FAILED", "invalid quote lines",
                       [FieldError(f"/lines/{i}", msg) for i, msg in problems])
    shape = shape_problems(req.domain, lines)
    if shape:
        return Problem("QUOTE_SHAPE_INVALID", "the lines do not make one equipment",
                       [FieldError(f"/lines/{i}", msg, "QUOTE_SHAPE_INVALID") for i, msg in shape])
    if req.prescription_date is not None and req.prescription_date > on:
        return Problem("VALIDATION_FAILED", "the prescription is dated after the care",
                       [FieldError("/prescription_date", "after the date of care")])
    return None


def check_pec_request(req: PecRequest, principal: Principal, on: date) -> list[QuoteLine]:
    if req.professional.rpps != principal.rpps or req.professional.profession != principal.profession:
        raise Problem("FORBIDDEN", "the professional in the body is not the one of the token")
    if req.domain in PEC_DOMAINS and PROFESSION_DOMAIN.get(principal.profession) != req.domain:
        raise Problem("FORBIDDEN", f"profession {principal.profession} cannot ask a PEC in {req.domain}")
    lines = quote_lines(req)
    problem = request_problem(req, lines, on)
    if problem is not None:
        raise problem
    return lines


def line_json(ln: LineResult) -> dict[str, Any]:
    return {"code": ln.code, "status": ln.status, "reason": ln.reason, "amo": eur(ln.amo), "amc": eur(ln.amc),
            "patient": eur(ln.patient)}
