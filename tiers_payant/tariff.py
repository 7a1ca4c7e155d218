"""The product's own tariff table and coverage rules for optics (OPTI) and audio (AUDI).

No current official LPP code list was found, so the product ships this small documented
list. Every figure is either SOURCED (the public texts named beside it) or an ASSUMPTION
(configurable through `CoverageRules` or the table). docs/RULEBOOK.md explains each rule.
Sources, by the short names used below and in the rulebook:
- [R871-2/2019]: article R871-2 of the code de la sécurité sociale as amended by décret
  2019-21 (its consolidated history as published in a public git mirror of the codes);
- [D911-1]: article D911-1 (collective contracts), which raises R871-2's 3° a-f minimums;
- [press-2019]: press summaries of the 2019 decree (maxima 420 / 700 / 800 EUR; AMC frame
  share capped at 100 EUR, down from 150 EUR);
- [press-2015]: summaries of the 2015 reform (décret 2014-1374): "minimum from 50 to 200
  EUR", maxima 470 to 850 EUR, frame 150 EUR;
- [ameli/LPP]: ameli.fr, service-public.fr and the LPP pages of the 100 % Santé reform.

SOURCED:
- frame classe A cap 30 EUR, BR 9 EUR; frame classe B BR 0.05 EUR; classe B lens BR 0.05 EUR
  [ameli/LPP];
- contrat responsable optics, six equipment types (R871-2 3° a-f): maximum AMC payment for
  the whole equipment 420 (simple+simple) [R871-2/2019, press-2019], 700 (complex+complex)
  and 800 EUR (very complex+very complex) [press-2019]; the frame at most 100 EUR inside it
  [press-2019]; minimum 50 EUR for simple+simple [R871-2/2019]; the minimums and maxima
  count the AMC's payment, the patient's share (ticket modérateur) included, the AMO's
  excluded (R871-2: "incluant la participation des assurés");
- audio classe I cap 950 EUR (1,400 EUR under 20), BR 400 EUR; classe II BR 400 EUR, total
  cap 1,700 EUR per ear including AMO; AMO pays 60 % of BR (Alsace-Moselle local regime 90 %)
  [ameli/LPP];
- optics renewal: 2 years from 16, 1 year under 16, 6 months under 6; from 16, 1 year when
  the correction changes by at least 0.5 dioptre on one lens or 0.25 on each; no delay for
  listed medical conditions; lenses may be renewed alone;
- optics prescription validity: 1 year under 16, 5 years from 16 to 42, 3 years over 42;
  hearing aids prescribed by an ENT or a GP trained in otology, by a paediatric ENT under 6;
- CSS (complémentaire santé solidaire) pays classe A / I in full and, for classe B, up to
  the AMO's base (the ticket modérateur: BR - AMO).

ASSUMPTIONS (not confirmed figures, all configurable):
- R871-2 figures not read in the primary text here: maxima 560 (simple+complex), 610
  (simple+very complex), 750 (complex+very complex): each the 2015 figure less 50 EUR, as
  420 / 700 / 800 are [press-2015, press-2019]; minimums 125 (simple+complex and
  simple+very complex) and 200 (the three others): within [press-2015]'s "50 to 200" and
  grouped as [D911-1] groups them (b and d one figure, c, e and f another). D911-1's higher
  minimums for collective contracts (100 / 150 / 200) are not modelled.
- Classe A lens caps / BR: simple 40 / 20, complex 80 / 40, very complex 120 / 60 EUR.
- Classe B children's lens BR 12 / 25 / 45 EUR; optics child codes are for under 16 (the
  same boundary as renewal).
- Audio classe I under 20: BR 1,400 EUR (AMO 840); classe II under 20: BR 1,400 EUR, and
  the 1,700 EUR total cap applies to children too.
- Guarantee levels (AMC allowance for the optical equipment / per hearing aid): optics ECO
  150, CONFORT 400, PREMIUM 800; audio ECO 300, CONFORT 800, PREMIUM 1,460 (= 1,700 - 240).
  A non-responsable contract pays this table for every class (no 100 % Santé guarantee).
- The responsable caps and minimums count the classe B lines only; an equipment with one
  lens (or none) is of the pure type of that lens (simple if none).
- Renewal: the 6-month rule for under-6s applies to the whole equipment (the texts tie it
  to a frame no longer fitting the face); under 16 a change of correction renews the
  lenses without delay; a listed condition renews the lenses without delay; the frame
  always follows the age band. Audio: every 4 years per ear.
- Prescriptions: optics validity counted from the prescription date by the age on that
  date; audio prescriptions valid 1 year; the prescriber's qualification is as declared.
- Overseas departments (DROM: 971 Guadeloupe, 972 Martinique, 973 Guyane, 974 La Réunion,
  976 Mayotte): the LPP's overseas price lists raise its prices and bases there by a
  majoration coefficient per territory [ameli/LPP: the principle]; we found no figure, so
  the coefficient is ours: 1.20 for each (`overseas_coefficients`), applied to the audio
  items' BR and 100 % Santé caps (`overseas_domains`), not to the contract's 1,700 EUR
  classe II cap (an R871-2 figure, national). Where the equipment is delivered decides
  (the request's `territory`: the professional's establishment); absent: metropolitan.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
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


CONTRACT_TYPES = ("responsable", "non_responsable", "css")
AMO_REGIMES = ("general", "alsace_moselle")
AUDIO_PRESCRIBERS = ("ent", "ent_paediatric", "gp_otology")  # ORL, ORL pédiatrique, généraliste formé
METROPOLE = "metropole"
# INSEE codes of the overseas departments (DROM), the values of a request's `territory`
OVERSEAS = {"971": "Guadeloupe", "972": "Martinique", "973": "Guyane", "974": "La Réunion", "976": "Mayotte"}
TERRITORIES = (METROPOLE, *OVERSEAS)


def equipment_type(complexities: list[str]) -> str:
    """One of the six R871-2 types, "simple+complex" say: the least and most complex lens."""
    ordered = sorted(complexities or ["simple"], key=COMPLEXITIES.index)
    return f"{ordered[0]}+{ordered[-1]}"


@dataclass(frozen=True)
class CoverageRules:
    """Every figure of the PEC computation; the defaults are the documented ones above."""

    amo_rate: Decimal = AMO_RATE  # régime général
    amo_local_rates: tuple[tuple[str, Decimal], ...] = field(default=_d({"alsace_moselle": "0.90"}))
    # contrat responsable, optics: (minimum, maximum) AMC payment per equipment type, R871-2 3° a-f.
    # S = sourced, A = assumption (see the module's docstring for each source)
    responsable_equipment_limits: tuple[tuple[str, Decimal, Decimal], ...] = (
        ("simple+simple", Decimal(50), Decimal(420)),  # a: min S [R871-2/2019], max S [press-2019]
        ("simple+complex", Decimal(125), Decimal(560)),  # b: min A (50..200, D911-1 grouping), max A (610 - 50)
        ("simple+very_complex", Decimal(125), Decimal(610)),  # d: min A (as b), max A (660 - 50)
        ("complex+complex", Decimal(200), Decimal(700)),  # c: min A (the top of 50..200), max S [press-2019]
        ("complex+very_complex", Decimal(200), Decimal(750)),  # e: min A (as c), max A (800 - 50)
        ("very_complex+very_complex", Decimal(200), Decimal(800)))  # f: min A (as c), max S [press-2019]
    responsable_frame_cap: Decimal = Decimal(100)  # S [press-2019]: 150 before 2020
    responsable_caps_include_amo: bool = False  # S: R871-2 counts the AMC's payment incl. the patient's share
    optics_allowance: tuple[tuple[str, Decimal], ...] = field(
        default=_d({"ECO": 150, "CONFORT": 400, "PREMIUM": 800}))  # the optical equipment
    audio_allowance: tuple[tuple[str, Decimal], ...] = field(
        default=_d({"ECO": 300, "CONFORT": 800, "PREMIUM": 1460}))  # per hearing aid
    optics_child_under_age: int = 16  # optics: a child under 16, an adult from 16
    audio_child_under_age: int = 20  # audio: a child under 20
    # optics renewal, in months, by age band; the exceptions shorten the lenses' period
    optics_young_child_under_age: int = 6
    optics_renewal_months_young_child: int = 6
    optics_renewal_months_child: int = 12
    optics_renewal_months_adult: int = 24
    correction_change_one_eye: Decimal = Decimal("0.50")  # dioptres on one lens...
    correction_change_each_eye: Decimal = Decimal("0.25")  # ...or on each of the two
    correction_change_renewal_months_adult: int = 12
    correction_change_renewal_months_child: int = 0
    medical_condition_renewal_months: int = 0
    audio_renewal_years: int = 4  # per ear
    # prescription validity
    optics_prescription_years_child: int = 1  # under 16
    optics_prescription_years_adult: int = 5  # 16 to 42
    optics_prescription_years_senior: int = 3  # over 42
    optics_prescription_senior_over_age: int = 42
    audio_prescription_months: int = 12
    audio_paediatric_ent_under_age: int = 6
    # overseas departments: LPP majoration coefficient per territory (A: the figure is ours, see above)
    overseas_coefficients: tuple[tuple[str, Decimal], ...] = field(
        default=_d({"971": "1.20", "972": "1.20", "973": "1.20", "974": "1.20", "976": "1.20"}))
    overseas_domains: tuple[str, ...] = ("AUDI",)  # the items whose BR and 100 % Santé cap it raises

    def equipment_limits(self, kind: str) -> tuple[Decimal, Decimal]:
        for name, low, high in self.responsable_equipment_limits:
            if name == kind:
                return low, high
        raise ValueError(f"unknown equipment type {kind!r}")

    def equipment_cap(self, complexity: str) -> Decimal:
        """The maximum of the pure type: both lenses of this complexity."""
        return self.equipment_limits(f"{complexity}+{complexity}")[1]

    def amo_rate_for(self, regime: str | None) -> Decimal:
        if regime in (None, "general"):
            return self.amo_rate
        rates = dict(self.amo_local_rates)
        if regime not in rates:
            raise ValueError(f"unknown AMO regime {regime!r}")
        return rates[regime]

    def territory_coefficient(self, territory: str | None, domain: str) -> Decimal:
        """The LPP majoration for an item of `domain` delivered in `territory` (1 in metropolitan France)."""
        if territory in (None, METROPOLE):
            return Decimal(1)
        table = dict(self.overseas_coefficients)
        if territory not in table:
            raise ValueError(f"unknown territory {territory!r}")
        return table[territory] if domain in self.overseas_domains else Decimal(1)

    def base_and_cap(self, item: TariffItem, territory: str | None = None) -> tuple[Decimal, Decimal | None]:
        """(BR, 100 % Santé price cap or None) of `item` where it is delivered. A classe II aid's
        cap is the contract's total cap (R871-2, national): never raised."""
        k = self.territory_coefficient(territory, item.domain)
        base = (item.base_eur * k).quantize(Decimal("0.01"), ROUND_HALF_UP)
        cap = item.price_cap_eur
        if cap is not None and item.regulated:
            cap = (cap * k).quantize(Decimal("0.01"), ROUND_HALF_UP)
        return base, cap

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
