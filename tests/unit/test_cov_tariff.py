"""The tariff table is consistent with itself and with DOMAIN.md's figures."""
from decimal import Decimal

import pytest

from tiers_payant.tariff import CLASSES, COMPLEXITIES, DEFAULT_RULES, TARIFF, CoverageRules, tariff_table


def test_table_entries_are_consistent():
    for code, item in TARIFF.items():
        assert item.code == code
        assert item.cls in CLASSES[item.domain]
        assert item.age_band in ("adult", "child", "any")
        assert (item.complexity in COMPLEXITIES) == (item.kind == "lens")
        assert item.kind in (("frame", "lens") if item.domain == "OPTI" else ("hearing_aid",))
        assert item.base_eur > 0
        # regulated items and classe II aids carry a cap; classe B optics does not
        assert (item.price_cap_eur is None) == (item.cls == "B")
        assert item.label


@pytest.mark.parametrize("code, base, cap, amo", [
    ("OPT-A-FRAME", "9.00", "30", "5.40"),
    ("OPT-B-FRAME", "0.05", None, "0.03"),
    ("AUD-I-ADULT", "400", "950", "240"),
    ("AUD-I-CHILD", "1400", "1400", "840"),
    ("AUD-II-ADULT", "400", "1700", "240"),
])
def test_domain_figures(code, base, cap, amo):
    item = TARIFF[code]
    assert item.base_eur == Decimal(base)
    assert item.price_cap_eur == (Decimal(cap) if cap else None)
    assert (DEFAULT_RULES.amo_rate * item.base_eur).quantize(Decimal("0.01")) == Decimal(amo)


def test_rules_defaults_and_override():
    assert [DEFAULT_RULES.equipment_cap(c) for c in COMPLEXITIES] == [420, 700, 800]
    assert DEFAULT_RULES.responsable_frame_cap == 100
    assert DEFAULT_RULES.allowance("OPTI", "ECO") == 150
    assert DEFAULT_RULES.allowance("AUDI", "PREMIUM") == 1700 - 240
    with pytest.raises(ValueError):
        DEFAULT_RULES.allowance("OPTI", "GOLD")
    custom = CoverageRules(audio_renewal_years=5)
    assert custom.audio_renewal_years == 5 and custom != DEFAULT_RULES
    hash(DEFAULT_RULES)  # frozen and hashable: usable as a cache key


def test_regulated_flag_and_docs_table():
    assert TARIFF["OPT-A-FRAME"].regulated and TARIFF["AUD-I-ADULT"].regulated
    assert not TARIFF["OPT-B-FRAME"].regulated and not TARIFF["AUD-II-CHILD"].regulated
    rows = tariff_table()
    assert {r["code"] for r in rows} == set(TARIFF)
    assert next(r for r in rows if r["code"] == "OPT-B-FRAME")["price_cap_eur"] is None
