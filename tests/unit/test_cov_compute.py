"""compute_pec: amounts per line for the cases DOMAIN.md states, and the caps' reading."""
from datetime import date
from decimal import Decimal as D

import pytest

from tiers_payant.coverage import History, QuoteLine, compute_pec
from tiers_payant.tariff import CoverageRules

ON = date(2025, 6, 15)
ADULT = date(1980, 3, 1)
CHILD = date(2015, 3, 1)  # 10 at ON
NONE = History()


def pec(domain, lines, level="PREMIUM", responsable=True, birth=ADULT, history=NONE, **kw):
    return compute_pec(domain, lines, level=level, responsable=responsable, birth_date=birth,
                       on=ON, history=history, **kw)


def amounts(r):
    return (str(r.amo), str(r.amc), str(r.patient))


def frame(cls, price):
    return QuoteLine(f"OPT-{cls}-FRAME", cls, None, D(price), 1)


def lens(code, side, price, cls="B"):
    return QuoteLine(code, cls, side, D(price), 1)


def test_audio_classe_i_adult_at_cap_is_free_for_the_patient():
    r = pec("AUDI", [QuoteLine("AUD-I-ADULT", "I", "right", D("950"), 1)], level="ECO")
    assert r.decision == "accepted" and r.reason is None
    assert amounts(r.lines[0]) == amounts(r) == ("240.00", "710.00", "0.00")


def test_audio_classe_i_child_cap_is_1400():
    r = pec("AUDI", [QuoteLine("AUD-I-CHILD", "I", "left", D("1400"), 1)], birth=CHILD)
    assert amounts(r) == ("840.00", "560.00", "0.00")


def test_audio_classe_i_above_cap_is_refused_in_full():
    r = pec("AUDI", [QuoteLine("AUD-I-ADULT", "I", "right", D("950.01"), 1)])
    assert (r.decision, r.reason) == ("refused", "AMOUNT_ABOVE_CEILING")
    assert r.lines[0].status == "refused"
    assert amounts(r) == ("0.00", "0.00", "950.01")


def test_optics_classe_a_frame_at_cap():
    r = pec("OPTI", [frame("A", "30")], level="ECO", responsable=False)
    assert amounts(r) == ("5.40", "24.60", "0.00")
    assert pec("OPTI", [frame("A", "30.01")]).reason == "AMOUNT_ABOVE_CEILING"


def test_classe_b_frame_cap_excludes_amo_by_default():
    """Reading chosen: the responsable 100 EUR frame cap bounds the AMC payment alone."""
    r = pec("OPTI", [frame("B", "150")])
    assert amounts(r) == ("0.03", "100.00", "49.97")


def test_classe_b_frame_cap_including_amo_when_configured():
    r = pec("OPTI", [frame("B", "150")], rules=CoverageRules(responsable_caps_include_amo=True))
    assert amounts(r) == ("0.03", "99.97", "50.00")


def test_non_responsable_contract_is_not_bound_by_the_frame_cap():
    r = pec("OPTI", [frame("B", "150")], responsable=False)
    assert amounts(r) == ("0.03", "149.97", "0.00")


def test_equipment_cap_is_spent_in_line_order():
    lines = [frame("B", "150"), lens("OPT-B-LENS-SIMPLE", "right", "200"), lens("OPT-B-LENS-SIMPLE", "left", "200")]
    r = pec("OPTI", lines)
    assert [str(x.amc) for x in r.lines] == ["100.00", "199.97", "120.03"]
    assert r.amc == D("420.00") and r.amo == D("0.09") and r.patient == D("129.91")


@pytest.mark.parametrize("complexity, cap", [("COMPLEX", "700.00"), ("VERY-COMPLEX", "800.00")])
def test_equipment_cap_of_a_pure_pair(complexity, cap):
    """Two lenses of one complexity: that type's maximum (the mixed pairs: test_cov_rules_v2)."""
    lines = [frame("B", "90"), lens(f"OPT-B-LENS-{complexity}", "right", "500"),
             lens(f"OPT-B-LENS-{complexity}", "left", "500")]
    assert pec("OPTI", lines).amc == D(cap)


def test_level_allowance_bounds_the_equipment():
    lines = [frame("B", "150"), lens("OPT-B-LENS-SIMPLE", "right", "200")]
    eco = pec("OPTI", lines, level="ECO")
    assert [str(x.amc) for x in eco.lines] == ["100.00", "50.00"]
    eco_free = pec("OPTI", lines, level="ECO", responsable=False)
    assert [str(x.amc) for x in eco_free.lines] == ["149.97", "0.03"]


def test_mixed_equipment_classe_a_lenses_classe_b_frame():
    lines = [frame("B", "180"), lens("OPT-A-LENS-SIMPLE", "right", "40", "A"),
             lens("OPT-A-LENS-SIMPLE", "left", "40", "A")]
    r = pec("OPTI", lines, level="CONFORT")
    assert [amounts(x) for x in r.lines] == [("0.03", "100.00", "79.97"),
                                             ("12.00", "28.00", "0.00"), ("12.00", "28.00", "0.00")]


def test_refused_lines_do_not_consume_the_budget():
    lines = [lens("OPT-A-LENS-SIMPLE", "right", "41", "A"), frame("B", "150")]
    r = pec("OPTI", lines)
    assert (r.decision, r.reason) == ("partial", "AMOUNT_ABOVE_CEILING")
    assert amounts(r.lines[0]) == ("0.00", "0.00", "41.00")
    assert r.lines[1].amc == D("100.00")


def test_audio_classe_ii_adult_responsable_total_cap():
    r = pec("AUDI", [QuoteLine("AUD-II-ADULT", "II", "right", D("2000"), 1)])
    assert amounts(r) == ("240.00", "1460.00", "300.00")
    assert amounts(pec("AUDI", [QuoteLine("AUD-II-ADULT", "II", "right", D("2000"), 1)], level="ECO")) == \
        ("240.00", "300.00", "1460.00")


def test_audio_classe_ii_child_cap_depends_on_responsable():
    line = [QuoteLine("AUD-II-CHILD", "II", "right", D("2000"), 1)]
    assert amounts(pec("AUDI", line, birth=CHILD)) == ("840.00", "860.00", "300.00")
    assert amounts(pec("AUDI", line, birth=CHILD, responsable=False)) == ("840.00", "1160.00", "0.00")


def test_audio_allowance_is_per_aid():
    lines = [QuoteLine("AUD-II-ADULT", "II", "right", D("1000"), 1), QuoteLine("AUD-II-ADULT", "II", "left", D("1000"), 1)]
    r = pec("AUDI", lines, level="CONFORT")
    assert [amounts(x) for x in r.lines] == [("240.00", "760.00", "0.00")] * 2


def test_a_quantity_of_two_frames_is_not_one_equipment():
    """Two frames once counted AMO 2 x 5.40; one equipment has one frame (QUOTE_SHAPE_INVALID)."""
    with pytest.raises(ValueError, match="at most one frame"):
        pec("OPTI", [QuoteLine("OPT-A-FRAME", "A", None, D("25"), 2)])


def test_amo_never_above_the_price():
    r = pec("AUDI", [QuoteLine("AUD-I-CHILD", "I", "right", D("500"), 1)], birth=CHILD)
    assert amounts(r) == ("500.00", "0.00", "0.00")


def test_prices_are_rounded_half_up_to_the_cent():
    r = pec("OPTI", [frame("B", "10.005")], responsable=False, level="ECO")
    assert amounts(r) == ("0.03", "9.98", "0.00")


@pytest.mark.parametrize("kwargs", [dict(level="GOLD"), dict(lines=[]), dict(domain="PHAR"),
                                    dict(lines=[QuoteLine("OPT-B-LENS-SIMPLE", "B", "right", D(10), 1)],
                                         birth=CHILD)])
def test_invalid_input_raises(kwargs):
    args = dict(domain="OPTI", lines=[frame("A", "30")]) | kwargs
    with pytest.raises(ValueError):
        pec(args.pop("domain"), args.pop("lines"), **args)
