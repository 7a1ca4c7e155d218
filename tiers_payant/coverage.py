"""The PEC computation: a quote's lines in, AMO / AMC / patient amounts per line out.

Pure: no I/O, no clock (`on` is the date of the request). Figures, their sources and the
assumptions live in `tariff.py`; renewal and prescriptions in `renewal.py`; the quote's
shape in `quote_shape.py`. Choices made here:
- every line satisfies amo + amc + patient == price * quantity (rounded to the cent,
  half up); a refused line is all patient cost;
- the contract type decides 100 % Santé: a *responsable* contract and the CSS pay classe A
  / I in full (zero patient cost); a *non-responsable* contract pays its own table (the
  guarantee level) for every class; the CSS pays classe B up to the AMO's base only;
- responsable optics: the lines draw, in line order, on one equipment budget: the level's
  allowance raised to the equipment type's minimum, within the type's maximum, with the
  frame at most 100 EUR inside it (R871-2's six types); classe A lines are outside it;
- each hearing aid (unit) is its own equipment: allowance per aid;
- `territory` (where the equipment is delivered) raises the BR and the 100 % Santé caps
  of the items the rules name by the overseas coefficient (tariff.CoverageRules.base_and_cap);
- a refusal for the prescription comes before one for renewal, which comes before price;
- `compute_pec` expects lines that `line_problems` and `shape_problems` accept and raises
  ValueError otherwise.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tiers_payant.model import money
from tiers_payant.quote_shape import QuoteLine, line_problems, shape_problems
from tiers_payant.renewal import (SIDES, History, Prescription, RenewalFacts, age_on, is_child,
                                  prescription_refusal, renewal_due)
from tiers_payant.tariff import CLASSES, CONTRACT_TYPES, DEFAULT_RULES, TARIFF, CoverageRules, equipment_type

__all__ = ["QuoteLine", "History", "RenewalFacts", "Prescription", "LineResult", "PecResult", "SIDES",
           "age_on", "is_child", "renewal_due", "line_problems", "shape_problems", "compute_pec",
           "contract_type_of"]
ZERO = money(0)


@dataclass(frozen=True)
class LineResult:
    code: str
    status: str  # "accepted" / "refused"
    reason: str | None
    amo: Decimal
    amc: Decimal
    patient: Decimal


@dataclass(frozen=True)
class PecResult:
    decision: str  # "accepted" / "partial" / "refused"
    reason: str | None  # the first refusal reason
    lines: tuple[LineResult, ...]
    amo: Decimal
    amc: Decimal
    patient: Decimal


def contract_type_of(responsable: bool, contract_type: str | None = None) -> str:
    """The contract type a card or contract states; older cards only say "responsable" or not."""
    kind = contract_type or ("responsable" if responsable else "non_responsable")
    if kind not in CONTRACT_TYPES:
        raise ValueError(f"unknown contract type {kind!r}")
    return kind


def _refusals(domain: str, lines: Sequence[QuoteLine], birth_date: date, on: date, history: History,
              rules: CoverageRules, check_renewal: bool, renewal: RenewalFacts | None,
              prescription: Prescription | None, territory: str | None = None) -> list[str | None]:
    reasons: list[str | None] = [prescription_refusal(domain, birth_date, on, prescription, rules)] * len(lines)
    for i, line in enumerate(lines):
        item = TARIFF[line.code]
        if reasons[i] is None and check_renewal:
            part = ("frame" if item.kind == "frame" else "lenses") if domain == "OPTI" else None
            if not renewal_due(domain, line.side if domain == "AUDI" else None, birth_date, on, history, rules,
                               part=part, facts=renewal):
                reasons[i] = "RENEWAL_NOT_DUE"
        if reasons[i] is None and item.regulated and money(line.price) > rules.base_and_cap(item, territory)[1]:
            reasons[i] = "AMOUNT_ABOVE_CEILING"
    return reasons


def compute_pec(domain: str, lines: Sequence[QuoteLine], *, level: str, responsable: bool,
                birth_date: date, on: date, history: History, rules: CoverageRules = DEFAULT_RULES,
                check_renewal: bool = True, contract_type: str | None = None, amo_regime: str | None = None,
                renewal: RenewalFacts | None = None, prescription: Prescription | None = None,
                territory: str | None = None) -> PecResult:
    if domain not in CLASSES:
        raise ValueError(f"no PEC computation for domain {domain!r}")
    contract = contract_type_of(responsable, contract_type)
    allowance = rules.allowance(domain, level)
    amo_rate = rules.amo_rate_for(amo_regime)
    rules.territory_coefficient(territory, domain)  # an unknown territory is a ValueError, before anything
    if not lines:
        raise ValueError("a quote needs at least one line")
    problems = line_problems(domain, lines, birth_date=birth_date, on=on, rules=rules) or \
        shape_problems(domain, lines)
    if problems:
        raise ValueError(f"invalid quote lines: {problems}")
    reasons = _refusals(domain, lines, birth_date, on, history, rules, check_renewal, renewal, prescription,
                        territory)

    budgets = {"level": allowance}
    if contract == "responsable" and domain == "OPTI":
        kind = equipment_type([TARIFF[ln.code].complexity for ln in lines if TARIFF[ln.code].kind == "lens"])
        low, high = rules.equipment_limits(kind)
        budgets = {"level": max(allowance, low), "equipment": high, "frame": rules.responsable_frame_cap}

    results = []
    for line, reason in zip(lines, reasons):
        item = TARIFF[line.code]
        total = money(line.price * line.quantity)
        if reason is not None:
            results.append(LineResult(line.code, "refused", reason, ZERO, ZERO, total))
            continue
        base, _ = rules.base_and_cap(item, territory)
        amo = min(money(amo_rate * base * line.quantity), total)
        room = total - amo
        if item.regulated and contract != "non_responsable":  # 100 % Santé: the AMC pays the rest
            amc = room
        elif contract == "css":  # classe B / II: up to the AMO's base (the ticket modérateur)
            amc = min(room, max(ZERO, money(base * line.quantity) - amo))
        elif domain == "AUDI":  # per aid; a responsable classe II stays within the total cap incl. AMO
            amc = min(room, allowance * line.quantity)
            if contract == "responsable" and item.price_cap_eur is not None:
                amc = min(amc, max(ZERO, item.price_cap_eur * line.quantity - amo))
        else:  # optics, classe B (or any class, non-responsable): the equipment budget
            counted = amo if rules.responsable_caps_include_amo else ZERO
            # the budgets this line draws on, and how much AMO each one also counts
            charged = {n: ZERO if n == "level" else counted for n in budgets if n != "frame" or item.kind == "frame"}
            amc = min([room] + [max(ZERO, budgets[n] - charged[n]) for n in charged])
            for n in charged:
                budgets[n] -= amc + charged[n]
        results.append(LineResult(line.code, "accepted", None, amo, money(amc), total - amo - money(amc)))
    return _summarise(tuple(results))


def _summarise(results: tuple[LineResult, ...]) -> PecResult:
    refused = [r.reason for r in results if r.status == "refused"]
    decision = "refused" if len(refused) == len(results) else "partial" if refused else "accepted"
    return PecResult(decision, refused[0] if refused else None, results,
                     sum((r.amo for r in results), ZERO), sum((r.amc for r in results), ZERO),
                     sum((r.patient for r in results), ZERO))
