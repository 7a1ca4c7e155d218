"""The PEC computation: a quote's lines in, AMO / AMC / patient amounts per line out.

Pure: no I/O, no clock (`on` is the date of the request). Rules follow docs/DOMAIN.md;
figures and assumptions live in `tariff.py`. Choices made here:
- every line satisfies amo + amc + patient == price * quantity (rounded to the cent,
  half up); a refused line is all patient cost;
- classe B optics lines draw, in line order, on one equipment budget: the level's
  allowance and, for a contrat responsable, the equipment cap of the quote's most complex
  lens (simple when the quote has no lens) with the frame within it;
- each classe II hearing aid (unit) is its own equipment: allowance per aid;
- a refusal for renewal comes before a refusal for price;
- `compute_pec` expects lines that `line_problems` accepts and raises ValueError otherwise.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tiers_payant.model import money
from tiers_payant.tariff import CLASSES, COMPLEXITIES, DEFAULT_RULES, TARIFF, CoverageRules

SIDES = ("right", "left")
ZERO = money(0)


@dataclass(frozen=True)
class QuoteLine:
    code: str
    cls: str
    side: str | None  # "right" / "left" eye or ear; None for a frame
    price: Decimal  # unit price, euros
    quantity: int


@dataclass(frozen=True)
class History:
    last_glasses: date | None = None
    last_hearing_left: date | None = None
    last_hearing_right: date | None = None


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


def age_on(birth_date: date, on: date) -> int:
    """Age in whole years at `on`."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def is_child(domain: str, birth_date: date, on: date, rules: CoverageRules = DEFAULT_RULES) -> bool:
    age = age_on(birth_date, on)
    return age <= rules.optics_child_max_age if domain == "OPTI" else age < rules.audio_child_under_age


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February in a common year: the period ends on the 28th
        return d.replace(year=d.year + years, day=28)


def renewal_due(domain: str, side: str | None, birth_date: date, on: date, history: History,
                rules: CoverageRules = DEFAULT_RULES) -> bool:
    """True when no equipment was delivered yet, or the renewal period has elapsed at `on`."""
    if domain == "OPTI":
        last = history.last_glasses
        child = is_child(domain, birth_date, on, rules)
        years = rules.optics_renewal_years_child if child else rules.optics_renewal_years_adult
    elif domain == "AUDI" and side in SIDES:
        last = history.last_hearing_right if side == "right" else history.last_hearing_left
        years = rules.audio_renewal_years
    else:
        raise ValueError(f"no renewal rule for domain {domain!r} side {side!r}")
    return last is None or on >= _add_years(last, years)


def line_problems(domain: str, lines: Sequence[QuoteLine], *, birth_date: date | None = None,
                  on: date | None = None, rules: CoverageRules = DEFAULT_RULES) -> list[tuple[int, str]]:
    """(line index, message) for each structurally invalid line; empty when all are valid.

    The age band is checked only when both `birth_date` and `on` are given.
    """
    problems: list[tuple[int, str]] = []
    for i, line in enumerate(lines):
        item = TARIFF.get(line.code)
        if item is None:
            problems.append((i, f"unknown code {line.code!r}"))
            continue
        if item.domain != domain:
            problems.append((i, f"code {line.code} belongs to domain {item.domain}, not {domain}"))
            continue
        if line.cls != item.cls:
            allowed = "/".join(CLASSES[domain])
            problems.append((i, f"code {line.code} is classe {item.cls}, not {line.cls!r} ({allowed})"))
        if item.kind != "frame" and line.side not in SIDES:
            what = "eye" if item.kind == "lens" else "ear"
            problems.append((i, f"a {item.kind.replace('_', ' ')} needs the {what}: 'right' or 'left'"))
        if not line.price > 0:
            problems.append((i, "price must be greater than 0"))
        if not 1 <= line.quantity <= 2:
            problems.append((i, "quantity must be 1 or 2"))
        if birth_date is not None and on is not None and item.age_band != "any":
            band = "child" if is_child(domain, birth_date, on, rules) else "adult"
            if band != item.age_band:
                problems.append((i, f"code {line.code} is for the {item.age_band} age band, "
                                    f"the beneficiary is in the {band} band"))
    return problems


def _refusals(domain: str, lines: Sequence[QuoteLine], birth_date: date, on: date,
              history: History, rules: CoverageRules, check_renewal: bool) -> list[str | None]:
    reasons: list[str | None] = [None] * len(lines)
    if check_renewal:
        for i, line in enumerate(lines):
            if not renewal_due(domain, line.side if domain == "AUDI" else None, birth_date, on, history, rules):
                reasons[i] = "RENEWAL_NOT_DUE"  # optics: the same answer for every line
    for i, line in enumerate(lines):
        item = TARIFF[line.code]
        if reasons[i] is None and item.regulated and money(line.price) > item.price_cap_eur:
            reasons[i] = "AMOUNT_ABOVE_CEILING"
    return reasons


def compute_pec(domain: str, lines: Sequence[QuoteLine], *, level: str, responsable: bool,
                birth_date: date, on: date, history: History, rules: CoverageRules = DEFAULT_RULES,
                check_renewal: bool = True) -> PecResult:
    if domain not in CLASSES:
        raise ValueError(f"no PEC computation for domain {domain!r}")
    allowance = rules.allowance(domain, level)
    if not lines:
        raise ValueError("a quote needs at least one line")
    problems = line_problems(domain, lines, birth_date=birth_date, on=on, rules=rules)
    if problems:
        raise ValueError(f"invalid quote lines: {problems}")
    reasons = _refusals(domain, lines, birth_date, on, history, rules, check_renewal)

    # Optics classe B: budgets spent in line order; the responsable caps may count AMO.
    lens_levels = [COMPLEXITIES.index(TARIFF[ln.code].complexity) for ln in lines if TARIFF[ln.code].kind == "lens"]
    budgets = {"level": allowance}
    if responsable and domain == "OPTI":
        budgets["equipment"] = rules.equipment_cap(COMPLEXITIES[max(lens_levels, default=0)])
        budgets["frame"] = rules.responsable_frame_cap

    results = []
    for line, reason in zip(lines, reasons):
        item = TARIFF[line.code]
        total = money(line.price * line.quantity)
        if reason is not None:
            results.append(LineResult(line.code, "refused", reason, ZERO, ZERO, total))
            continue
        amo = min(money(rules.amo_rate * item.base_eur * line.quantity), total)
        room = total - amo
        if item.regulated:  # 100% Santé: the AMC pays the rest
            amc = room
        elif domain == "AUDI":  # classe II: per aid, and within the total cap incl. AMO
            amc = min(room, allowance * line.quantity)
            if responsable and item.price_cap_eur is not None:
                amc = min(amc, max(ZERO, item.price_cap_eur * line.quantity - amo))
        else:  # classe B optics: the equipment budget
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
