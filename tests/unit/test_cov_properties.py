"""Property: for any valid quote, every line adds up exactly and no amount is negative."""
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tiers_payant.coverage import History, QuoteLine, compute_pec, is_child, line_problems, shape_problems
from tiers_payant.tariff import AMO_REGIMES, CONTRACT_TYPES, LEVELS, TARIFF, CoverageRules

ON = date(2025, 6, 15)
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("4000"), places=2)
dates = st.one_of(st.none(), st.dates(min_value=date(2015, 1, 1), max_value=ON))


@st.composite
def quotes(draw):
    domain = draw(st.sampled_from(["OPTI", "AUDI"]))
    birth = draw(st.dates(min_value=date(1930, 1, 1), max_value=ON - timedelta(days=1)))
    band = "child" if is_child(domain, birth, ON) else "adult"
    codes = sorted(c for c, i in TARIFF.items() if i.domain == domain and i.age_band in (band, "any"))
    lines, taken = [], set()  # one equipment: one frame, one lens per eye, one aid per ear
    for _ in range(draw(st.integers(1, 5))):
        item = TARIFF[draw(st.sampled_from(codes))]
        side = None if item.kind == "frame" else draw(st.sampled_from(["right", "left"]))
        if side not in taken:
            taken.add(side)
            lines.append(QuoteLine(item.code, item.cls, side, draw(prices), 1))
    return domain, birth, lines


@settings(max_examples=400, deadline=None)
@given(quotes(), st.sampled_from(LEVELS), st.sampled_from(CONTRACT_TYPES), st.booleans(), st.booleans(),
       dates, dates, dates, st.sampled_from(AMO_REGIMES))
def test_amounts_add_up_and_are_never_negative(quote, level, contract, include_amo, check, g, hl, hr, regime):
    domain, birth, lines = quote
    assert line_problems(domain, lines, birth_date=birth, on=ON) == [] == shape_problems(domain, lines)
    rules = CoverageRules(responsable_caps_include_amo=include_amo)
    responsable = contract == "responsable"
    r = compute_pec(domain, lines, level=level, responsable=responsable, birth_date=birth, on=ON,
                    history=History(g, hl, hr), rules=rules, check_renewal=check, contract_type=contract,
                    amo_regime=regime)
    assert len(r.lines) == len(lines)
    for line, res in zip(lines, r.lines):
        total = (line.price * line.quantity).quantize(Decimal("0.01"))
        assert res.amo + res.amc + res.patient == total
        assert min(res.amo, res.amc, res.patient) >= 0
        assert all(x == x.quantize(Decimal("0.01")) for x in (res.amo, res.amc, res.patient))
        if res.status == "refused":
            assert (res.amo, res.amc, res.reason is not None) == (0, 0, True)
        elif TARIFF[line.code].regulated and contract != "non_responsable":
            assert res.patient == 0  # 100% Santé
    assert r.amo + r.amc + r.patient == sum((ln.price * ln.quantity for ln in lines), Decimal(0))
    statuses = {x.status for x in r.lines}
    assert r.decision == {frozenset({"accepted"}): "accepted", frozenset({"refused"}): "refused"}.get(
        frozenset(statuses), "partial")
    if responsable and domain == "OPTI":
        optics_b = [x for x, ln in zip(r.lines, lines) if TARIFF[ln.code].cls == "B"]
        assert sum((x.amc for x in optics_b), Decimal(0)) <= 800
        frames = [x for x, ln in zip(r.lines, lines) if ln.code == "OPT-B-FRAME"]
        assert sum((x.amc for x in frames), Decimal(0)) <= 100
