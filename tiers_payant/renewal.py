"""Age bands, renewal periods and prescription validity: the "may this be paid again" rules.

Pure functions of dates and `CoverageRules` (figures and their sources in `tariff.py`).
Boundaries as the texts state them: "under 16" is age < 16, "from 16" is age >= 16,
"over 42" is age > 42; an age is in whole years on the day in question.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .tariff import AUDIO_PRESCRIBERS, DEFAULT_RULES, CoverageRules

SIDES = ("right", "left")


@dataclass(frozen=True)
class History:
    """The last equipment paid; `last_frame` / `last_lenses` when only one part was renewed."""

    last_glasses: date | None = None
    last_hearing_left: date | None = None
    last_hearing_right: date | None = None
    last_frame: date | None = None
    last_lenses: date | None = None


@dataclass(frozen=True)
class RenewalFacts:
    """What the prescription says beyond the lenses: optional request facts."""

    correction_change_right: Decimal | None = None  # dioptres, absolute change since the last lenses
    correction_change_left: Decimal | None = None
    medical_condition: bool = False  # one of the listed conditions (glaucoma, ...), attested

    def correction_changed(self, rules: CoverageRules = DEFAULT_RULES) -> bool:
        r = abs(self.correction_change_right or 0)
        left = abs(self.correction_change_left or 0)
        return max(r, left) >= rules.correction_change_one_eye or min(r, left) >= rules.correction_change_each_eye


@dataclass(frozen=True)
class Prescription:
    prescribed_on: date
    prescriber: str | None = None  # audio: "ent", "ent_paediatric", "gp_otology"; not checked when absent


def age_on(birth_date: date, on: date) -> int:
    """Age in whole years at `on`."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def is_child(domain: str, birth_date: date, on: date, rules: CoverageRules = DEFAULT_RULES) -> bool:
    limit = rules.optics_child_under_age if domain == "OPTI" else rules.audio_child_under_age
    return age_on(birth_date, on) < limit


def add_months(d: date, months: int) -> date:
    """The same day `months` later; the last day of the month when that day does not exist."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, min(d.day, day))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def optics_renewal_months(birth_date: date, on: date, part: str, facts: RenewalFacts | None,
                          rules: CoverageRules = DEFAULT_RULES) -> int:
    """Months that must pass since the last `part` ("frame" or "lenses") was paid."""
    age = age_on(birth_date, on)
    if age < rules.optics_young_child_under_age:
        months = rules.optics_renewal_months_young_child
    elif age < rules.optics_child_under_age:
        months = rules.optics_renewal_months_child
    else:
        months = rules.optics_renewal_months_adult
    if part != "lenses" or facts is None:
        return months
    if facts.medical_condition:
        months = min(months, rules.medical_condition_renewal_months)
    if facts.correction_changed(rules):
        child = age < rules.optics_child_under_age
        months = min(months, rules.correction_change_renewal_months_child if child
                     else rules.correction_change_renewal_months_adult)
    return months


def _latest(*dates: date | None) -> date | None:
    return max(filter(None, dates), default=None)


def renewal_due(domain: str, side: str | None, birth_date: date, on: date, history: History,
                rules: CoverageRules = DEFAULT_RULES, *, part: str | None = None,
                facts: RenewalFacts | None = None) -> bool:
    """True when nothing was paid yet, or the renewal period has elapsed at `on`.

    Optics `part`: "frame", "lenses", or None for the whole equipment (the stricter of both).
    """
    if domain == "OPTI":
        if part is None:
            return all(renewal_due(domain, side, birth_date, on, history, rules, part=p, facts=facts)
                       for p in ("frame", "lenses"))
        last = _latest(history.last_glasses, history.last_frame if part == "frame" else history.last_lenses)
        return last is None or on >= add_months(last, optics_renewal_months(birth_date, on, part, facts, rules))
    if domain == "AUDI" and side in SIDES:
        last = history.last_hearing_right if side == "right" else history.last_hearing_left
        return last is None or on >= add_months(last, 12 * rules.audio_renewal_years)
    raise ValueError(f"no renewal rule for domain {domain!r} side {side!r}")


def prescription_valid_until(domain: str, birth_date: date, p: Prescription,
                             rules: CoverageRules = DEFAULT_RULES) -> date:
    """The last day the prescription may be used (its anniversary day still counts)."""
    if domain == "AUDI":
        return add_months(p.prescribed_on, rules.audio_prescription_months)
    age = age_on(birth_date, p.prescribed_on)
    if age < rules.optics_child_under_age:
        years = rules.optics_prescription_years_child
    elif age > rules.optics_prescription_senior_over_age:
        years = rules.optics_prescription_years_senior
    else:
        years = rules.optics_prescription_years_adult
    return add_months(p.prescribed_on, 12 * years)


def prescription_refusal(domain: str, birth_date: date, on: date, p: Prescription | None,
                         rules: CoverageRules = DEFAULT_RULES) -> str | None:
    """PRESCRIPTION_EXPIRED / PRESCRIBER_NOT_ALLOWED, or None. No prescription given: not checked."""
    if p is None:
        return None
    if on > prescription_valid_until(domain, birth_date, p, rules):
        return "PRESCRIPTION_EXPIRED"
    if domain == "AUDI" and p.prescriber is not None:
        young = age_on(birth_date, p.prescribed_on) < rules.audio_paediatric_ent_under_age
        allowed = ("ent_paediatric",) if young else AUDIO_PRESCRIBERS
        if p.prescriber not in allowed:
            return "PRESCRIBER_NOT_ALLOWED"
    return None
