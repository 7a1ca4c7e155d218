"""Coverage v2: renewal by age band and its exceptions; prescription validity.

Each case is computed by hand in its docstring (figures and sources: tiers_payant/tariff.py).
"""
from datetime import date
from decimal import Decimal as D

import pytest

from tiers_payant.coverage import History, Prescription, QuoteLine, RenewalFacts, compute_pec, renewal_due
from tiers_payant.renewal import add_months, prescription_refusal, prescription_valid_until

ON = date(2025, 6, 15)
ADULT = date(1980, 3, 1)  # 45
CHILD = date(2015, 3, 1)  # 10
YOUNG = date(2020, 1, 1)  # 5


@pytest.mark.parametrize("birth, last, due", [
    (YOUNG, date(2024, 12, 15), True),  # under 6: 6 months have passed
    (YOUNG, date(2024, 12, 16), False),
    (date(2019, 6, 15), date(2024, 12, 15), False),  # 6 today: 1 year now
    (date(2009, 6, 16), date(2024, 6, 15), True),  # 15 (16 tomorrow): 1 year has passed
    (date(2009, 6, 15), date(2024, 6, 15), False),  # 16 today: "from 16", 2 years
    (date(2009, 6, 15), date(2023, 6, 15), True),
])
def test_optics_renewal_by_age_band(birth, last, due):
    """Under 6: 6 months; under 16: 1 year; from 16: 2 years. Ages on the day of care (ON 2025-06-15):
    born 2020-01-01 is 5; born 2019-06-15 is 6; born 2009-06-16 is 15; born 2009-06-15 is 16."""
    assert renewal_due("OPTI", None, birth, ON, History(last_glasses=last)) is due


@pytest.mark.parametrize("right, left, due", [
    ("0.50", None, True), (None, "0.75", True), ("0.25", "0.25", True),
    ("0.25", None, False), ("0.49", "0.00", False), ("0.25", "0.24", False)])
def test_adult_correction_change_renews_lenses_after_one_year(right, left, due):
    """Adult, glasses paid 2024-06-15 (one year before ON): without a change the lenses wait 2 years.
    A change of >= 0.5 dioptre on one lens or >= 0.25 on each renews them after 1 year; the frame
    still waits 2 years."""
    facts = RenewalFacts(D(right) if right else None, D(left) if left else None)
    h = History(last_glasses=date(2024, 6, 15))
    assert renewal_due("OPTI", None, ADULT, ON, h, part="lenses", facts=facts) is due
    assert not renewal_due("OPTI", None, ADULT, ON, h, part="frame", facts=facts)
    assert not renewal_due("OPTI", None, ADULT, ON, History(last_glasses=date(2024, 6, 16)), part="lenses",
                           facts=facts)  # one day short of the year


def test_child_correction_change_and_medical_condition_renew_lenses_without_delay():
    """Child of 10, glasses paid 2 weeks ago (2025-06-01): no delay for lenses on a 0.5 change.
    Adult, glasses paid 2025-01-01: a listed medical condition renews the lenses at once."""
    recent = History(last_glasses=date(2025, 6, 1))
    assert renewal_due("OPTI", None, CHILD, ON, recent, part="lenses", facts=RenewalFacts(D("0.5")))
    assert not renewal_due("OPTI", None, CHILD, ON, recent, part="frame", facts=RenewalFacts(D("0.5")))
    h = History(last_glasses=date(2025, 1, 1))
    assert renewal_due("OPTI", None, ADULT, ON, h, part="lenses", facts=RenewalFacts(medical_condition=True))
    assert not renewal_due("OPTI", None, ADULT, ON, h, part="lenses", facts=RenewalFacts())


def test_lenses_alone_are_renewed_and_a_frame_in_the_quote_is_refused_alone():
    """Adult, glasses 2024-06-15, correction +0.5 on the right: the two classe A lenses (40 each:
    AMO 12, AMC 28) are accepted, the frame is refused RENEWAL_NOT_DUE: decision partial,
    AMO 24, AMC 56, patient 30 (the frame's price)."""
    lines = [QuoteLine("OPT-A-FRAME", "A", None, D(30), 1), QuoteLine("OPT-A-LENS-SIMPLE", "A", "right", D(40), 1),
             QuoteLine("OPT-A-LENS-SIMPLE", "A", "left", D(40), 1)]
    kw = dict(level="ECO", responsable=True, birth_date=ADULT, on=ON, history=History(last_glasses=date(2024, 6, 15)),
              renewal=RenewalFacts(D("0.5")))
    r = compute_pec("OPTI", lines, **kw)
    assert [x.reason for x in r.lines] == ["RENEWAL_NOT_DUE", None, None] and r.decision == "partial"
    assert (r.amo, r.amc, r.patient) == (D("24.00"), D("56.00"), D("30.00"))
    assert compute_pec("OPTI", lines[1:], **kw).decision == "accepted"  # lenses only


def test_a_lenses_only_renewal_does_not_block_the_frame():
    """Glasses 2022-01-01, lenses alone 2025-01-01: the frame is due (3 years), the lenses are not."""
    h = History(last_glasses=date(2022, 1, 1), last_lenses=date(2025, 1, 1))
    assert renewal_due("OPTI", None, ADULT, ON, h, part="frame")
    assert not renewal_due("OPTI", None, ADULT, ON, h, part="lenses")
    assert not renewal_due("OPTI", None, ADULT, ON, h)  # the whole equipment: the stricter


def test_add_months_clamps_to_the_month_end():
    """31 August + 6 months = 28 February (2025 is common); 29 February 2024 + 12 = 28 February 2025."""
    assert add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)


@pytest.mark.parametrize("birth, prescribed, until", [
    (CHILD, date(2024, 6, 15), date(2025, 6, 15)),  # 9 when prescribed: 1 year
    (date(2008, 6, 15), date(2024, 6, 15), date(2029, 6, 15)),  # 16 when prescribed: 5 years
    (date(1982, 6, 15), date(2024, 6, 15), date(2029, 6, 15)),  # 42: still "16 to 42", 5 years
    (date(1981, 6, 15), date(2024, 6, 15), date(2027, 6, 15)),  # 43: "over 42", 3 years
])
def test_optics_prescription_validity_by_age_band(birth, prescribed, until):
    """Under 16: 1 year; 16 to 42: 5 years; over 42: 3 years; by the age on the prescription's day;
    the anniversary day is the last valid day."""
    p = Prescription(prescribed)
    assert prescription_valid_until("OPTI", birth, p) == until
    assert prescription_refusal("OPTI", birth, until, p) is None
    assert prescription_refusal("OPTI", birth, date.fromordinal(until.toordinal() + 1), p) == "PRESCRIPTION_EXPIRED"


def test_audio_prescription_validity_and_prescriber():
    """Audio: valid 12 months (assumption); an ENT or a GP trained in otology from 6, a paediatric ENT
    under 6. Adult prescribed 2024-06-15: valid on 2025-06-15, expired on 2025-06-16."""
    assert prescription_refusal("AUDI", ADULT, ON, Prescription(date(2024, 6, 15), "gp_otology")) is None
    assert prescription_refusal("AUDI", ADULT, date(2025, 6, 16), Prescription(date(2024, 6, 15))) == \
        "PRESCRIPTION_EXPIRED"
    assert prescription_refusal("AUDI", ADULT, ON, Prescription(ON, "ophthalmologist")) == "PRESCRIBER_NOT_ALLOWED"
    assert prescription_refusal("AUDI", YOUNG, ON, Prescription(ON, "ent")) == "PRESCRIBER_NOT_ALLOWED"
    assert prescription_refusal("AUDI", YOUNG, ON, Prescription(ON, "ent_paediatric")) is None
    assert prescription_refusal("AUDI", ADULT, ON, None) is None  # not given: not checked


def test_an_expired_prescription_refuses_every_line_before_renewal():
    """Adult, optics prescription 2021-06-14 (age 41: 5 years, valid until 2026-06-14) is valid;
    dated 2020-06-14 it expired 2025-06-14, the day before ON: every line PRESCRIPTION_EXPIRED,
    even the one whose renewal is not due."""
    lines = [QuoteLine("OPT-A-FRAME", "A", None, D(30), 1)]
    kw = dict(level="ECO", responsable=True, birth_date=ADULT, on=ON, history=History(last_glasses=date(2025, 1, 1)))
    assert compute_pec("OPTI", lines, prescription=Prescription(date(2021, 6, 14)), **kw).reason == "RENEWAL_NOT_DUE"
    r = compute_pec("OPTI", lines, prescription=Prescription(date(2020, 6, 14)), **kw)
    assert (r.decision, r.reason) == ("refused", "PRESCRIPTION_EXPIRED")
