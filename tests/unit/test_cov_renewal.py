"""Renewal periods, age bands and structural line problems."""
from datetime import date
from decimal import Decimal as D

import pytest

from tiers_payant.coverage import History, QuoteLine, age_on, compute_pec, is_child, line_problems, renewal_due
from tiers_payant.tariff import DEFAULT_RULES as R

ON = date(2025, 6, 15)
ADULT = date(1980, 3, 1)
CHILD = date(2015, 3, 1)


def test_age_and_bands_at_boundaries():
    assert age_on(date(2009, 6, 15), ON) == 16 and age_on(date(2009, 6, 16), ON) == 15
    assert is_child("OPTI", date(2009, 6, 16), ON)  # 15, 16 tomorrow: a child for optics
    assert not is_child("OPTI", date(2009, 6, 15), ON)  # 16 today: "from 16" is an adult
    assert is_child("AUDI", date(2005, 6, 16), ON)  # 19
    assert not is_child("AUDI", date(2005, 6, 15), ON)  # 20 today


@pytest.mark.parametrize("birth, last, due", [
    (ADULT, None, True),
    (ADULT, date(2023, 6, 16), False),  # one day short of 2 years
    (ADULT, date(2023, 6, 15), True),
    (CHILD, date(2024, 6, 15), True),
    (CHILD, date(2024, 6, 16), False),
])
def test_optics_renewal(birth, last, due):
    assert renewal_due("OPTI", None, birth, ON, History(last_glasses=last), R) is due


def test_audio_renewal_is_per_ear_and_feb_29_falls_on_feb_28():
    h = History(last_hearing_right=date(2021, 6, 16), last_hearing_left=date(2021, 6, 15))
    assert not renewal_due("AUDI", "right", ADULT, ON, h, R)
    assert renewal_due("AUDI", "left", ADULT, ON, h, R)
    leap = History(last_hearing_left=date(2020, 2, 29))
    assert renewal_due("AUDI", "left", ADULT, date(2024, 2, 29), leap, R)
    assert not renewal_due("AUDI", "left", ADULT, date(2024, 2, 28), leap, R)
    assert renewal_due("OPTI", None, ADULT, date(2022, 2, 28), History(last_glasses=date(2020, 2, 29)), R)
    with pytest.raises(ValueError):
        renewal_due("AUDI", None, ADULT, ON, h, R)


def test_optics_not_due_refuses_every_line_unless_not_checked():
    lines = [QuoteLine("OPT-A-FRAME", "A", None, D(30), 1), QuoteLine("OPT-A-LENS-SIMPLE", "A", "right", D(99), 1)]
    kw = dict(level="ECO", responsable=True, birth_date=ADULT, on=ON, history=History(last_glasses=date(2024, 1, 1)))
    r = compute_pec("OPTI", lines, **kw)
    assert (r.decision, r.reason) == ("refused", "RENEWAL_NOT_DUE")
    assert [x.reason for x in r.lines] == ["RENEWAL_NOT_DUE"] * 2  # renewal comes before price
    r = compute_pec("OPTI", lines, check_renewal=False, **kw)
    assert [x.reason for x in r.lines] == [None, "AMOUNT_ABOVE_CEILING"] and r.decision == "partial"


def test_audio_not_due_refuses_only_that_ear():
    lines = [QuoteLine("AUD-I-ADULT", "I", "right", D(950), 1), QuoteLine("AUD-I-ADULT", "I", "left", D(950), 1)]
    r = compute_pec("AUDI", lines, level="ECO", responsable=True, birth_date=ADULT, on=ON,
                    history=History(last_hearing_right=date(2023, 1, 1)))
    assert (r.decision, r.reason) == ("partial", "RENEWAL_NOT_DUE")
    assert [x.status for x in r.lines] == ["refused", "accepted"]
    assert (r.amo, r.amc, r.patient) == (D("240.00"), D("710.00"), D("950.00"))


@pytest.mark.parametrize("line, fragment", [
    (QuoteLine("OPT-X", "A", None, D(1), 1), "unknown code"),
    (QuoteLine("AUD-I-ADULT", "I", "left", D(1), 1), "belongs to domain AUDI"),
    (QuoteLine("OPT-B-LENS-SIMPLE", "B", None, D(1), 1), "needs the eye"),
    (QuoteLine("OPT-B-LENS-SIMPLE", "B", "middle", D(1), 1), "needs the eye"),
    (QuoteLine("OPT-B-FRAME", "B", None, D(0), 1), "price"),
    (QuoteLine("OPT-B-FRAME", "B", None, D("-5"), 1), "price"),
    (QuoteLine("OPT-B-FRAME", "B", None, D(1), 0), "quantity"),
    (QuoteLine("OPT-B-FRAME", "B", None, D(1), 3), "quantity"),
])
def test_line_problems(line, fragment):
    ok = QuoteLine("OPT-A-FRAME", "A", None, D(30), 1)
    problems = line_problems("OPTI", [ok, line])
    assert len(problems) == 1 and problems[0][0] == 1 and fragment in problems[0][1]


def test_hearing_aid_needs_an_ear_and_valid_lines_have_no_problem():
    assert "needs the ear" in line_problems("AUDI", [QuoteLine("AUD-II-ADULT", "II", None, D(1), 1)])[0][1]
    assert line_problems("OPTI", [QuoteLine("OPT-B-FRAME", "B", None, D("0.01"), 2)]) == []


def test_age_band_is_a_problem_only_when_the_beneficiary_is_known():
    adult_code = [QuoteLine("OPT-B-LENS-SIMPLE", "B", "left", D(50), 1)]
    assert line_problems("OPTI", adult_code) == []
    assert "adult age band" in line_problems("OPTI", adult_code, birth_date=CHILD, on=ON)[0][1]
    child_code = [QuoteLine("AUD-I-CHILD", "I", "left", D(50), 1)]
    assert "child age band" in line_problems("AUDI", child_code, birth_date=ADULT, on=ON)[0][1]
    assert line_problems("AUDI", child_code, birth_date=CHILD, on=ON) == []
