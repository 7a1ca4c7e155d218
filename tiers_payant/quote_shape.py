"""Is this a quote the payer can price at all: each line, then the quote as a whole.

`line_problems`: a line on its own is malformed (unknown code, wrong domain, no eye or
ear, no price, a code of the other age band) -> VALIDATION_FAILED.
`shape_problems`: the lines do not make one equipment -> QUOTE_SHAPE_INVALID: a class that
is not the code's class, more than one frame, more than one lens per eye, more than one
hearing aid per ear (a quantity counts: two of one lens on one eye is two lenses).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .renewal import SIDES, is_child
from .tariff import CLASSES, DEFAULT_RULES, TARIFF, CoverageRules


@dataclass(frozen=True)
class QuoteLine:
    code: str
    cls: str
    side: str | None  # "right" / "left" eye or ear; None for a frame
    price: Decimal  # unit price, euros
    quantity: int


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


def shape_problems(domain: str, lines: Sequence[QuoteLine]) -> list[tuple[int, str]]:
    """(line index, message) for each line that breaks the equipment's shape.

    Expects lines without `line_problems` (unknown codes are skipped here).
    """
    problems: list[tuple[int, str]] = []
    frames = 0
    per_side: Counter[str] = Counter()
    for i, line in enumerate(lines):
        item = TARIFF.get(line.code)
        if item is None or item.domain != domain:
            continue
        if line.cls != item.cls:
            allowed = "/".join(CLASSES[domain])
            problems.append((i, f"code {line.code} is classe {item.cls}, not {line.cls!r} ({allowed})"))
        if item.kind == "frame":
            frames += line.quantity
            if frames > 1:
                problems.append((i, "an optical equipment has at most one frame"))
        elif line.side in SIDES:
            per_side[line.side] += line.quantity
            if per_side[line.side] > 1:
                what = "one lens per eye" if item.kind == "lens" else "one hearing aid per ear"
                problems.append((i, f"at most {what}: a second one on the {line.side}"))
    return problems
