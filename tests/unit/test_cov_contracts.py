"""Coverage v2: contract types, the six equipment types with their minimums, AMO regimes.

Each case is computed by hand in its docstring (figures and sources: tiers_payant/tariff.py).
"""
from datetime import date
from decimal import Decimal as D

import pytest

from tiers_payant.coverage import History, QuoteLine, compute_pec, contract_type_of
from tiers_payant.tariff import DEFAULT_RULES, equipment_type

ON = date(2025, 6, 15)
ADULT = date(1980, 3, 1)


def pec(domain, lines, level="PREMIUM", contract="responsable", **kw):
    return compute_pec(domain, lines, level=level, responsable=contract == "responsable", birth_date=ADULT, on=ON,
                       history=History(), contract_type=contract, **kw)


def amounts(r):
    return (str(r.amo), str(r.amc), str(r.patient))


def aid(code, side, price):
    return QuoteLine(code, code.split("-")[1], side, D(price), 1)


def frame(cls, price):
    return QuoteLine(f"OPT-{cls}-FRAME", cls, None, D(price), 1)


def lens(complexity, side, price, cls="B"):
    return QuoteLine(f"OPT-{cls}-LENS-{complexity}", cls, side, D(price), 1)


def test_classe_i_non_responsable_pays_its_own_table():
    """950 EUR classe I, ECO non-responsable: AMO 60 % x 400 = 240; the room 710 is above the ECO
    allowance per aid (300), so AMC 300 and the patient pays 950 - 240 - 300 = 410.
    A responsable contract pays the 710 in full (100 % Santé): patient 0."""
    line = [aid("AUD-I-ADULT", "right", "950")]
    assert amounts(pec("AUDI", line, level="ECO", contract="non_responsable")) == ("240.00", "300.00", "410.00")
    assert amounts(pec("AUDI", line, level="ECO")) == ("240.00", "710.00", "0.00")


def test_classe_a_optics_non_responsable_shares_the_level_budget():
    """Classe A frame 30 + two classe A simple lenses 40, ECO non-responsable (budget 150):
    frame AMO 5.40 AMC 24.60; lenses AMO 12 AMC 28 each: AMC 80.60 <= 150, so the patient pays 0.
    With a 50 EUR budget: 24.60 then 25.40 then 0: the patient pays (28 - 25.40) + 28 = 30.60."""
    lines = [frame("A", "30"), lens("SIMPLE", "right", "40", "A"), lens("SIMPLE", "left", "40", "A")]
    r = pec("OPTI", lines, level="ECO", contract="non_responsable")
    assert amounts(r) == ("29.40", "80.60", "0.00")
    small = DEFAULT_RULES.__class__(optics_allowance=(("ECO", D(50)), ("CONFORT", D(400)), ("PREMIUM", D(800))))
    r = pec("OPTI", lines, level="ECO", contract="non_responsable", rules=small)
    assert [str(x.amc) for x in r.lines] == ["24.60", "25.40", "0.00"] and r.patient == D("30.60")


def test_css_pays_100_sante_in_full_and_classe_b_up_to_the_amo_base():
    """CSS: classe I 950: 240 / 710 / 0 as for a responsable contract.
    Classe II 1,490: AMO 240, AMC = BR 400 - AMO 240 = 160 (the ticket modérateur), patient 1,090.
    Classe B frame 150: AMO 60 % x 0.05 = 0.03, AMC 0.05 - 0.03 = 0.02, patient 149.95."""
    assert amounts(pec("AUDI", [aid("AUD-I-ADULT", "left", "950")], contract="css")) == ("240.00", "710.00", "0.00")
    assert amounts(pec("AUDI", [aid("AUD-II-ADULT", "left", "1490")], contract="css")) == \
        ("240.00", "160.00", "1090.00")
    assert amounts(pec("OPTI", [frame("B", "150")], contract="css")) == ("0.03", "0.02", "149.95")


def test_contract_type_from_older_cards_and_unknown_types():
    """A card without the claim: responsable -> "responsable", else "non_responsable"."""
    assert contract_type_of(True) == "responsable" and contract_type_of(False) == "non_responsable"
    assert contract_type_of(True, "css") == "css"
    with pytest.raises(ValueError):
        contract_type_of(True, "gold")


@pytest.mark.parametrize("right, left, cap", [
    ("SIMPLE", "SIMPLE", "420.00"), ("SIMPLE", "COMPLEX", "560.00"), ("SIMPLE", "VERY-COMPLEX", "610.00"),
    ("COMPLEX", "COMPLEX", "700.00"), ("COMPLEX", "VERY-COMPLEX", "750.00"),
    ("VERY-COMPLEX", "VERY-COMPLEX", "800.00")])
def test_six_equipment_types_and_their_maximum(right, left, cap):
    """Frame 90 + two lenses at 500, PREMIUM (800) responsable: AMO 3 x 0.03 = 0.09; the frame's AMC
    89.97 (under 100), the lenses take the rest of the type's maximum: AMC total = the maximum
    (420 / 560 / 610 / 700 / 750 / 800); the order of the eyes does not matter."""
    lines = [frame("B", "90"), lens(right, "right", "500"), lens(left, "left", "500")]
    assert pec("OPTI", lines).amc == D(cap)
    swapped = [frame("B", "90"), lens(left, "right", "500"), lens(right, "left", "500")]
    assert pec("OPTI", swapped).amc == D(cap)


def test_frame_stays_at_100_inside_a_mixed_type():
    """Frame 250 + simple 300 + complex 300, PREMIUM: frame AMC min(249.97, 100) = 100; type 560:
    right lens min(299.97, 560 - 100) = 299.97; left min(299.97, 560 - 100 - 299.97) = 160.03."""
    r = pec("OPTI", [frame("B", "250"), lens("SIMPLE", "right", "300"), lens("COMPLEX", "left", "300")])
    assert [str(x.amc) for x in r.lines] == ["100.00", "299.97", "160.03"]


def test_minimum_raises_a_low_guarantee():
    """Two complex lenses at 300 + frame 90, ECO (150) responsable: the type's minimum is 200, so the
    budget is 200: frame 89.97, right lens 200 - 89.97 = 110.03, left 0; AMC 200.00.
    The same quote on a non-responsable contract: the ECO table alone, AMC 150.00.
    Two simple lenses: minimum 50 < 150, the ECO allowance stands: AMC 150.00."""
    lines = [frame("B", "90"), lens("COMPLEX", "right", "300"), lens("COMPLEX", "left", "300")]
    assert [str(x.amc) for x in pec("OPTI", lines, level="ECO").lines] == ["89.97", "110.03", "0.00"]
    assert pec("OPTI", lines, level="ECO", contract="non_responsable").amc == D("150.00")
    simple = [frame("B", "90"), lens("SIMPLE", "right", "300"), lens("SIMPLE", "left", "300")]
    assert pec("OPTI", simple, level="ECO").amc == D("150.00")


def test_minimum_never_pays_more_than_the_price():
    """Frame 20 + two complex lenses at 10, ECO: the minimum 200 is above the room
    (19.97 + 9.97 + 9.97 = 39.91): AMC 39.91, patient 0."""
    r = pec("OPTI", [frame("B", "20"), lens("COMPLEX", "right", "10"), lens("COMPLEX", "left", "10")], level="ECO")
    assert amounts(r) == ("0.09", "39.91", "0.00")


def test_equipment_type_of_one_lens_or_none():
    """One lens: the pure type of that lens; no lens: simple+simple (assumptions in tariff.py)."""
    assert equipment_type(["complex"]) == "complex+complex"
    assert equipment_type([]) == "simple+simple"
    assert equipment_type(["very_complex", "simple"]) == "simple+very_complex"
    assert DEFAULT_RULES.equipment_limits("simple+very_complex") == (D(125), D(610))


def test_alsace_moselle_amo_rate():
    """Alsace-Moselle AMO 90 %: classe I 950: AMO 0.90 x 400 = 360, AMC 950 - 360 = 590, patient 0.
    Classe B frame 150: AMO 0.90 x 0.05 = 0.045 -> 0.05 (half up), AMC 100 (frame cap), patient 49.95.
    The general regime stays at 60 %: 240 / 710 / 0."""
    line = [aid("AUD-I-ADULT", "right", "950")]
    assert amounts(pec("AUDI", line, amo_regime="alsace_moselle")) == ("360.00", "590.00", "0.00")
    assert amounts(pec("OPTI", [frame("B", "150")], amo_regime="alsace_moselle")) == ("0.05", "100.00", "49.95")
    assert amounts(pec("AUDI", line, amo_regime="general")) == ("240.00", "710.00", "0.00")
    with pytest.raises(ValueError):
        pec("AUDI", line, amo_regime="mars")
