"""Overseas departments (DROM) and the R871-2 minimums, each case computed by hand.

Figures and their sources: tiers_payant/tariff.py and docs/RULEBOOK.md. The overseas
coefficient (1.20 in each DROM) is our assumption; the tests that depend on it say so.
"""
import json
import re
import typing
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from tiers_payant.coverage import History, QuoteLine, compute_pec
from tiers_payant.parsing import parse_model
from tiers_payant.problems import Problem
from tiers_payant.schemas import PecRequest
from tiers_payant.tariff import DEFAULT_RULES, OVERSEAS, TARIFF, TERRITORIES, CoverageRules

ON = date(2025, 6, 15)
ADULT = date(1980, 3, 1)
CHILD = date(2015, 3, 1)  # 10 on ON
RULEBOOK = Path(__file__).resolve().parents[2] / "docs" / "RULEBOOK.md"


def pec(domain, lines, level="PREMIUM", contract="responsable", birth=ADULT, **kw):
    return compute_pec(domain, lines, level=level, responsable=contract == "responsable", birth_date=birth, on=ON,
                       history=History(), contract_type=contract, **kw)


def amounts(r):
    return (str(r.amo), str(r.amc), str(r.patient))


def aid(code, price, side="right"):
    return QuoteLine(code, code.split("-")[1], side, D(price), 1)


def test_classe_i_adult_in_la_reunion_has_raised_base_and_cap():
    """974, coefficient 1.20 (assumption): BR 400 x 1.20 = 480, AMO 60 % x 480 = 288.00; cap
    950 x 1.20 = 1,140. A 1,140 aid: AMC 1,140 - 288 = 852, patient 0. In metropolitan France the
    same aid is above the 950 cap: refused, all patient cost."""
    r = pec("AUDI", [aid("AUD-I-ADULT", "1140")], territory="974")
    assert amounts(r) == ("288.00", "852.00", "0.00") and r.decision == "accepted"
    home = pec("AUDI", [aid("AUD-I-ADULT", "1140")])
    assert home.reason == "AMOUNT_ABOVE_CEILING" and amounts(home) == ("0.00", "0.00", "1140.00")


def test_classe_i_above_the_overseas_cap_is_refused():
    """971: cap 1,140; a 1,140.01 aid is refused AMOUNT_ABOVE_CEILING."""
    r = pec("AUDI", [aid("AUD-I-ADULT", "1140.01")], territory="971")
    assert r.reason == "AMOUNT_ABOVE_CEILING"


def test_classe_i_child_in_martinique():
    """972, under 20: BR = cap = 1,400 x 1.20 = 1,680; AMO 60 % x 1,680 = 1,008; AMC 672; patient 0."""
    r = pec("AUDI", [aid("AUD-I-CHILD", "1680")], birth=CHILD, territory="972")
    assert amounts(r) == ("1008.00", "672.00", "0.00")


def test_classe_ii_total_cap_stays_national():
    """976, classe II at 2,000, PREMIUM responsable (allowance 1,460): AMO 60 % x 480 = 288; room 1,712;
    the R871-2 total cap 1,700 incl. AMO is not raised: AMC min(1,712, 1,460, 1,700 - 288 = 1,412) =
    1,412; patient 2,000 - 288 - 1,412 = 300. Metropolitan: AMO 240, AMC min(1,760, 1,460, 1,460) =
    1,460, patient 300: the higher base only moves money from the AMC to the AMO."""
    assert amounts(pec("AUDI", [aid("AUD-II-ADULT", "2000")], territory="976")) == ("288.00", "1412.00", "300.00")
    assert amounts(pec("AUDI", [aid("AUD-II-ADULT", "2000")])) == ("240.00", "1460.00", "300.00")


def test_css_overseas_pays_up_to_the_raised_base():
    """973, CSS, classe II at 1,500: AMO 288, AMC = BR 480 - 288 = 192 (the ticket modérateur),
    patient 1,500 - 288 - 192 = 1,020."""
    assert amounts(pec("AUDI", [aid("AUD-II-ADULT", "1500")], contract="css", territory="973")) == \
        ("288.00", "192.00", "1020.00")


def test_alsace_moselle_rate_and_overseas_base_combine():
    """974 and the Alsace-Moselle regime together (a beneficiary of that regime fitted in La Réunion):
    AMO 90 % x 480 = 432, AMC 1,140 - 432 = 708, patient 0."""
    r = pec("AUDI", [aid("AUD-I-ADULT", "1140")], territory="974", amo_regime="alsace_moselle")
    assert amounts(r) == ("432.00", "708.00", "0.00")


def test_optics_is_not_raised_unless_configured():
    """971, classe A frame at 30: AMO 60 % x 9 = 5.40 as in metropolitan France (the coefficient names
    audio only). With optics configured in: BR 9 x 1.20 = 10.80, cap 36; a 36 frame: AMO 6.48, AMC 29.52."""
    frame = [QuoteLine("OPT-A-FRAME", "A", None, D("30"), 1)]
    assert amounts(pec("OPTI", frame, territory="971")) == ("5.40", "24.60", "0.00")
    rules = CoverageRules(overseas_domains=("AUDI", "OPTI"))
    frame36 = [QuoteLine("OPT-A-FRAME", "A", None, D("36"), 1)]
    assert amounts(pec("OPTI", frame36, territory="971", rules=rules)) == ("6.48", "29.52", "0.00")
    assert pec("OPTI", frame36, territory="971").reason == "AMOUNT_ABOVE_CEILING"


def test_metropole_and_absent_territory_are_today_figures():
    """No territory or "metropole": 950 aid -> 240 / 710 / 0, the figures of today's tests."""
    for t in (None, "metropole"):
        assert amounts(pec("AUDI", [aid("AUD-I-ADULT", "950")], territory=t)) == ("240.00", "710.00", "0.00")


def test_coefficients_are_configurable_and_unknown_territories_refused():
    """A coefficient of 1.10 for 971: BR 440, AMO 264, cap 1,045: a 1,045 aid -> 264 / 781 / 0."""
    rules = CoverageRules(overseas_coefficients=(("971", D("1.10")),))
    assert amounts(pec("AUDI", [aid("AUD-I-ADULT", "1045")], territory="971", rules=rules)) == \
        ("264.00", "781.00", "0.00")
    with pytest.raises(ValueError):
        pec("AUDI", [aid("AUD-I-ADULT", "950")], territory="975")
    base, cap = DEFAULT_RULES.base_and_cap(TARIFF["AUD-II-ADULT"], "974")
    assert (base, cap) == (D("480.00"), D("1700"))


def test_the_request_field_lists_exactly_the_territories():
    """The schema's `territory` values are the tariff's TERRITORIES; anything else is a 422
    VALIDATION_FAILED naming /territory."""
    hint = typing.get_args(PecRequest.model_fields["territory"].annotation)[0]
    assert set(typing.get_args(hint)) == set(TERRITORIES) and set(OVERSEAS) < set(TERRITORIES)
    body = {"card": "x", "beneficiary": {"nir": "1800375012345", "birth_date": "1980-03-01", "birth_rank": 1},
            "domain": "AUDI", "professional": {"rpps": "10000000001", "profession": "26"},
            "lines": [{"code": "AUD-I-ADULT", "class": "I", "ear": "right", "price": "950.00", "quantity": 1}],
            "territory": "975"}
    with pytest.raises(Problem) as exc:
        parse_model(PecRequest, json.dumps(body).encode())
    assert exc.value.code == "VALIDATION_FAILED"
    assert any(e.path == "/territory" for e in exc.value.errors)


# -- R871-2 minimums: one case per equipment type ------------------------------------
@pytest.mark.parametrize("right, left, minimum", [
    ("SIMPLE", "SIMPLE", "50.00"), ("SIMPLE", "COMPLEX", "125.00"), ("SIMPLE", "VERY-COMPLEX", "125.00"),
    ("COMPLEX", "COMPLEX", "200.00"), ("COMPLEX", "VERY-COMPLEX", "200.00"),
    ("VERY-COMPLEX", "VERY-COMPLEX", "200.00")])
def test_each_type_minimum_lifts_a_low_guarantee(right, left, minimum):
    """A guarantee of 40 for the equipment (below every minimum), responsable: frame 90 + two lenses
    at 300, AMO 3 x 0.03 = 0.09, room 689.91. The budget is max(40, minimum): the AMC pays exactly the
    type's minimum (50 / 125 / 125 / 200 / 200 / 200), drawn frame first (89.97 when the minimum allows).
    A non-responsable contract pays its 40 alone."""
    rules = CoverageRules(optics_allowance=(("ECO", D(40)), ("CONFORT", D(400)), ("PREMIUM", D(800))))
    lines = [QuoteLine("OPT-B-FRAME", "B", None, D("90"), 1),
             QuoteLine(f"OPT-B-LENS-{right}", "B", "right", D("300"), 1),
             QuoteLine(f"OPT-B-LENS-{left}", "B", "left", D("300"), 1)]
    r = pec("OPTI", lines, level="ECO", rules=rules)
    assert str(r.amc) == minimum and r.amo == D("0.09")
    assert r.lines[0].amc == min(D(minimum), D("89.97"))
    assert pec("OPTI", lines, level="ECO", contract="non_responsable", rules=rules).amc == D("40.00")


def test_rulebook_table_is_the_code_table():
    """docs/RULEBOOK.md's table of the six types has the figures of CoverageRules, row by row."""
    rows = re.findall(r"^\| ([a-z ]+\+[a-z ]+) \| (\d+) \| (\d+) \|", RULEBOOK.read_text(), re.M)
    documented = {name.replace(" + ", "+").replace("very complex", "very_complex"): (D(lo), D(hi))
                  for name, lo, hi in rows}
    assert documented == {n: (lo, hi) for n, lo, hi in DEFAULT_RULES.responsable_equipment_limits}
