"""The product's own tariff table and coverage rules for optics (OPTI) and audio (AUDI).

No current official LPP code list was found (see docs/DOMAIN.md), so the product ships
this small documented list. Figures from DOMAIN.md: frame classe A cap 30 EUR, BR 9 EUR;
frame classe B BR 0.05 EUR; contrat responsable optics caps 420 / 700 / 800 EUR, frame
within it 100 EUR; audio classe I cap 950 EUR (1,400 EUR under 20), BR 400 EUR; classe II
BR 400 EUR, total cap 1,700 EUR per ear including AMO; AMO pays 60% of BR.

ASSUMPTIONS (not confirmed figures, all configurable through `CoverageRules` or the table):
- Classe A lens caps / BR: simple 40 / 20, complex 80 / 40, very complex 120 / 60 EUR.
- Classe B lens BR: 0.05 EUR for adults; children's codes 12 / 25 / 45 EUR.
- Audio classe I under 20: BR 1,400 EUR (AMO 840); classe II under 20: BR 1,400 EUR,
  and the 1,700 EUR total cap applies to children too.
- Guarantee levels (AMC allowance for classe B equipment / per classe II hearing aid):
  optics ECO 150, CONFORT 400, PREMIUM 800 (the highest responsable cap, so a responsable
  PREMIUM contract pays up to its responsable cap); audio ECO 300, CONFORT 800,
  PREMIUM 1,460 (= 1,700 - adult AMO 240).
- The responsable caps (equipment and frame) bound the AMC's payment only, AMO excluded,
  as the real caps bound the complementary's reimbursement (`responsable_caps_include_amo`
  = False). For a classe B frame (AMO 0.03 EUR) the difference is 3 cents.
- Renewal: optics every 2 years for adults, 1 year for children (16 and under); audio
  every 4 years per ear. Not modelled: the 0.25 dioptre change, the 6-month rule for young
  children, the responsable *minimum* payments, intermediate caps of mixed complexity.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

AMO_RATE = Decimal("0.60")
LEVELS = ("ECO", "CONFORT", "PREMIUM")
REGULATED_CLASSES = ("A", "I")  # 100% Santé: regulated prices, zero patient cost
CLASSES = {"OPTI": ("A", "B"), "AUDI": ("I", "II")}
COMPLEXITIES = ("simple", "complex", "very_complex")  # ordered from least to most complex


@dataclass(frozen=True)
class TariffItem:
    code: str
    domain: str  # "OPTI" / "AUDI"
    cls: str  # "A" / "B" for optics, "I" / "II" for audio
    kind: str  # "frame" / "lens" / "hearing_aid"
    base_eur: Decimal  # base de remboursement (BR), per unit
    price_cap_eur: Decimal | None  # classe A / I: price cap; classe II: total cap incl. AMO
    age_band: str  # "adult" / "child" / "any"
    complexity: str | None  # lenses only
    label: str = ""

    @property
    def regulated(self) -> bool:
        """True for 100% Santé items, whose price is capped by law."""
        return self.cls in REGULATED_CLASSES


def _item(code: str, cls: str, kind: str, base: str, cap: str | None, age: str = "any",
          complexity: str | None = None, label: str = "") -> TariffItem:
    domain = "OPTI" if code.startswith("OPT-") else "AUDI"
    if not label:
        label = " ".join(filter(None, [kind.replace("_", " ").capitalize(), "classe " + cls,
                                       complexity and complexity.replace("_", " "),
                                       None if age == "any" else age]))
    return TariffItem(code, domain, cls, kind, Decimal(base), Decimal(cap) if cap else None,
                      age, complexity, label)


_ITEMS = [
    _item("OPT-A-FRAME", "A", "frame", "9.00", "30", label="Frame, 100% Santé"),
    _item("OPT-B-FRAME", "B", "frame", "0.05", None, label="Frame, free price"),
    _item("OPT-A-LENS-SIMPLE", "A", "lens", "20.00", "40", complexity="simple"),
    _item("OPT-A-LENS-COMPLEX", "A", "lens", "40.00", "80", complexity="complex"),
    _item("OPT-A-LENS-VERY-COMPLEX", "A", "lens", "60.00", "120", complexity="very_complex"),
    _item("OPT-B-LENS-SIMPLE", "B", "lens", "0.05", None, "adult", "simple"),
    _item("OPT-B-LENS-COMPLEX", "B", "lens", "0.05", None, "adult", "complex"),
    _item("OPT-B-LENS-VERY-COMPLEX", "B", "lens", "0.05", None, "adult", "very_complex"),
    _item("OPT-B-LENS-SIMPLE-CHILD", "B", "lens", "12.00", None, "child", "simple"),
    _item("OPT-B-LENS-COMPLEX-CHILD", "B", "lens", "25.00", None, "child", "complex"),
    _item("OPT-B-LENS-VERY-COMPLEX-CHILD", "B", "lens", "45.00", None, "child", "very_complex"),
    _item("AUD-I-ADULT", "I", "hearing_aid", "400", "950", "adult", label="Hearing aid, 100% Santé, 20 and over"),
    _item("AUD-I-CHILD", "I", "hearing_aid", "1400", "1400", "child", label="Hearing aid, 100% Santé, under 20"),
    _item("AUD-II-ADULT", "II", "hearing_aid", "400", "1700", "adult", label="Hearing aid, free price, 20 and over"),
    _item("AUD-II-CHILD", "II", "hearing_aid", "1400", "1700", "child", label="Hearing aid, free price, under 20"),
]
TARIFF: dict[str, TariffItem] = {i.code: i for i in _ITEMS}


def _d(pairs: dict[str, str | int]) -> tuple[tuple[str, Decimal], ...]:
    return tuple((k, Decimal(v)) for k, v in pairs.items())


@dataclass(frozen=True)
class CoverageRules:
    """Every figure of the PEC computation; the defaults are the documented ones above."""

    amo_rate: Decimal = AMO_RATE
    # contrat responsable, optics: AMC cap of the whole equipment by its most complex lens
    responsable_equipment_caps: tuple[tuple[str, Decimal], ...] = field(
        default=_d({"simple": 420, "complex": 700, "very_complex": 800}))
    responsable_frame_cap: Decimal = Decimal(100)
    responsable_caps_include_amo: bool = False
    optics_allowance: tuple[tuple[str, Decimal], ...] = field(
        default=_d({"ECO": 150, "CONFORT": 400, "PREMIUM": 800}))  # classe B equipment
    audio_allowance: tuple[tuple[str, Decimal], ...] = field(
        default=_d({"ECO": 300, "CONFORT": 800, "PREMIUM": 1460}))  # per classe II aid
    optics_child_max_age: int = 16  # a child for optics: 16 and under
    audio_child_under_age: int = 20  # a child for audio: under 20
    optics_renewal_years_adult: int = 2
    optics_renewal_years_child: int = 1
    audio_renewal_years: int = 4  # per ear

    def equipment_cap(self, complexity: str) -> Decimal:
        return dict(self.responsable_equipment_caps)[complexity]

    def allowance(self, domain: str, level: str) -> Decimal:
        table = dict(self.optics_allowance if domain == "OPTI" else self.audio_allowance)
        if level not in table:
            raise ValueError(f"unknown guarantee level {level!r}")
        return table[level]


DEFAULT_RULES = CoverageRules()


def tariff_table() -> list[dict[str, Any]]:
    """For the human documentation page and the sandbox catalogue."""
    return [{"code": i.code, "domain": i.domain, "class": i.cls, "kind": i.kind,
             "base_eur": str(i.base_eur), "price_cap_eur": str(i.price_cap_eur) if i.price_cap_eur else None,
             "age_band": i.age_band, "complexity": i.complexity, "label": i.label} for i in _ITEMS]
