"""The deterministic synthetic population (DESIGN.md section 3). Pure.

Contract i is a pure function of (seed, i, size, amc_count, reference_date): its random
choices come from a blake2b stream keyed by (seed, i), so nothing per contract is stored
and memory does not grow with `size`. Identifiers are bijections of i, so they map back
to i in O(1) with no table: the member number (affine map over 10^10, plus a Luhn digit),
the card serial (affine + xorshift over 2^48), the revoked set (an arithmetic progression
modulo `size`). Dates are relative to `reference_date`, so the sandbox always looks current;
give every process of one run the same reference date.
"""
from __future__ import annotations

import hashlib
import struct
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime
from itertools import accumulate
from math import gcd
from typing import Iterator

from simulator.accounts import luhn_check_digit, luhn_ok
from simulator.names import (AMC_NAMES, BIRTH_COUNTRIES, FEMALE_FIRST_NAMES, LAST_NAMES,
                             MALE_FIRST_NAMES, OVERSEAS_DEPARTMENTS)
from tiers_payant.model import Card, CardBeneficiary
from tiers_payant.nir import make_nir

# Mix of contracts (approximate shares; the categories below are mutually exclusive).
TERMINATED_RATE = 0.03  # terminated after the card was issued: card still valid, the offline risk
SUSPENDED_RATE = 0.01
CARD_EXPIRED_RATE = 0.01  # active contract, but the member shows last year's card
CARD_NOT_YET_VALID_RATE = 0.005  # card starts 1-30 days after the reference date
REVOKED_RATE = 0.001  # exactly round(size * rate) cards, independent of the categories above
RESPONSABLE_RATE = 0.95
CSS_RATE = 0.04  # ASSUMPTION: share of responsable contracts that are a CSS (complémentaire santé solidaire)
DOMAIN_RATES = (("OPTI", 0.95), ("AUDI", 0.90), ("PHAR", 1.0), ("DENT", 0.70))
LEVEL_WEIGHTS = (("ECO", 40), ("CONFORT", 40), ("PREMIUM", 20))  # one level for every domain
CONVENTIONS = ("TP", "TPS")  # types de convention (the simulator's own codes)
# Households: main insured adult, maybe a spouse, 0-4 children; at most 5 beneficiaries.
SPOUSE_RATE = 0.5
CHILDREN_WEIGHTS = ((0, 55), (1, 18), (2, 17), (3, 7), (4, 3))  # about 2.3 beneficiaries per contract
TWINS_RATE = 0.03  # households with twins: same birth date and place, ranks 1 and 2
BIRTHPLACE_WEIGHTS = (("metro", 900), ("overseas", 30), ("2A", 5), ("2B", 5), ("abroad", 60))
# Consumption history, which makes some renewals not due (adult optics: every 2 years).
GLASSES_RATE = 0.30  # glasses bought 6 to 30 months before the reference date
HEARING_RATE_60_PLUS = 0.05  # aged 60+: hearing aids 1 to 5 years ago...
HEARING_BOTH_EARS = 0.7  # ...for both ears, else for one ear only
# AMC j holds a share of contracts proportional to 1/(j + 4): at 84 AMCs the largest has
# about 8% and the smallest 0.4%, a few large insurers and a long tail. Integer weights
# keep the choice identical on every platform.
_AMC_WEIGHT = 1_000_000

_MEMBER_SPAN = 10**10
_SERIAL_BITS = 48
_SERIAL_MASK = (1 << _SERIAL_BITS) - 1


@dataclass(frozen=True)
class Amc:
    index: int
    number: str  # 9 digits, unique
    name: str
    convention: str  # type de convention
    routing: str  # critère secondaire de routage, 2 digits
    kid: str  # "amc-" + number: the id of its card-signing key


@dataclass(frozen=True)
class Beneficiary:
    nir: str
    last_name: str
    first_name: str
    birth_date: date
    birth_rank: int  # rang de naissance: 1, or 2 for the second of twins
    sex: int  # 1 male, 2 female (as in the NIR)
    last_glasses: date | None
    last_hearing_left: date | None
    last_hearing_right: date | None


@dataclass(frozen=True)
class Contract:
    index: int
    amc: Amc
    member: str  # numéro d'adhérent: 10 digits + Luhn digit
    valid_from: date
    valid_to: date
    status: str  # "active", "terminated", "suspended"
    terminated_on: date | None
    responsable: bool
    guarantees: tuple[tuple[str, str], ...]  # (domain, "ECO" | "CONFORT" | "PREMIUM"), sorted
    domains: tuple[str, ...]  # open to tiers payant
    beneficiaries: tuple[Beneficiary, ...]
    card_serial: str
    card_valid_from: date
    card_valid_to: date
    card_revoked: bool
    contract_type: str = "responsable"  # "responsable" / "non_responsable" / "css"


def card_of(contract: Contract) -> Card:
    """The claims the platform signs into this contract's digital card."""
    return Card(
        amc=contract.amc.number, convention=contract.amc.convention, routing=contract.amc.routing,
        member=contract.member, valid_from=contract.card_valid_from, valid_to=contract.card_valid_to,
        beneficiaries=tuple(CardBeneficiary(b.last_name, b.first_name, b.birth_date, b.birth_rank, b.nir)
                            for b in contract.beneficiaries),
        domains=contract.domains, serial=contract.card_serial, responsable=contract.responsable,
        guarantees=contract.guarantees, contract_type=contract.contract_type,
    )


class Dice:
    """Uniform draws from a blake2b stream keyed by (seed, i).

    Plain integer arithmetic on hash output, so a population is identical on every Python
    version and platform (random.Random promises that for random() alone). Each draw takes
    one 64-bit word w and returns (w * n) >> 64, whose bias is below n / 2^64.
    """

    __slots__ = ("_key", "_block", "_words")

    def __init__(self, key: bytes) -> None:
        self._key, self._block, self._words = key, 0, []

    def below(self, n: int) -> int:
        """A uniform integer in [0, n), for 1 <= n <= 2^64."""
        if not self._words:
            digest = hashlib.blake2b(self._key + b"#%d" % self._block, digest_size=64).digest()
            self._words, self._block = list(_WORDS.unpack(digest)), self._block + 1
        return (self._words.pop() * n) >> 64

    def chance(self, p: float) -> bool:
        return self.below(1 << 32) < p * (1 << 32)

    def choice(self, seq: tuple):
        return seq[self.below(len(seq))]

    def weighted(self, table: "_Weights"):
        return table.values[bisect_right(table.cumulative, self.below(table.cumulative[-1]))]


@dataclass(frozen=True)
class _Weights:
    values: tuple
    cumulative: tuple[int, ...]

    @classmethod
    def of(cls, pairs: tuple[tuple[object, int], ...]) -> "_Weights":
        return cls(tuple(v for v, _ in pairs), tuple(accumulate(w for _, w in pairs)))


_WORDS = struct.Struct("<8Q")
_LEVELS, _CHILDREN, _BIRTHPLACES = (_Weights.of(t) for t in (LEVEL_WEIGHTS, CHILDREN_WEIGHTS, BIRTHPLACE_WEIGHTS))


def _days(dice: Dice, ref: date, low: int, high: int) -> date:
    """A date from `low` to `high` days (inclusive) before ref."""
    return date.fromordinal(ref.toordinal() - low - dice.below(high - low + 1))


def _period(dice: Dice, ref: date) -> tuple[date, date, str, date | None, date, date]:
    """(valid_from, valid_to, status, terminated_on, card_valid_from, card_valid_to).

    The contract and its card cover the calendar year of `ref`. When `ref` falls on the
    first two days of a year a terminated contract could not end strictly between the
    card's start and `ref`, so such cards (and contracts) start 30 days before `ref`.
    """
    start, end = date(ref.year, 1, 1), date(ref.year, 12, 31)
    card_from, card_to, status, terminated_on = start, end, "active", None
    u = dice.below(1 << 32) / (1 << 32)
    if u < TERMINATED_RATE:
        status = "terminated"
        if (ref - start).days < 2:
            start = card_from = date.fromordinal(ref.toordinal() - 30)
        span = (ref - card_from).days  # >= 2: terminated_on in [card_from + 1, ref - 1]
        terminated_on = date.fromordinal(card_from.toordinal() + 1 + dice.below(span - 1))
    elif (u := u - TERMINATED_RATE) < SUSPENDED_RATE:
        status = "suspended"
    elif (u := u - SUSPENDED_RATE) < CARD_EXPIRED_RATE:
        card_from, card_to = date(ref.year - 1, 1, 1), date(ref.year - 1, 12, 31)
    elif u - CARD_EXPIRED_RATE < CARD_NOT_YET_VALID_RATE:
        card_from = date.fromordinal(ref.toordinal() + 1 + dice.below(30))
        card_to = date(card_from.year, 12, 31)
    return start, end, status, terminated_on, card_from, card_to


def _birthplace(dice: Dice) -> tuple[str, str]:
    """(department, commune) as the NIR spells them."""
    kind = dice.weighted(_BIRTHPLACES)
    if kind == "metro":
        dept = 1 + dice.below(94)  # 01..95 without 20 (Corsica is 2A/2B since 1976)
        return f"{dept + (dept >= 20):02d}", f"{1 + dice.below(500):03d}"
    if kind == "overseas":
        return dice.choice(OVERSEAS_DEPARTMENTS), f"{1 + dice.below(30):02d}"
    if kind == "abroad":
        return "99", dice.choice(BIRTH_COUNTRIES)
    return kind, f"{1 + dice.below(300):03d}"


def _person(dice: Dice, ref: date, sex: int, age: int, last_name: str,
            twin_of: Beneficiary | None = None) -> Beneficiary:
    names = MALE_FIRST_NAMES if sex == 1 else FEMALE_FIRST_NAMES
    first_name = dice.choice(names)
    if twin_of is None:
        birth = _days(dice, ref, age * 365 + age // 4 + 1, age * 365 + age // 4 + 364)
        dept, commune = _birthplace(dice)
        order, rank = 1 + dice.below(999), 1
    else:  # same birth date and place, the next order number, rank 2
        birth, rank = twin_of.birth_date, 2
        dept, commune = twin_of.nir[5:7], twin_of.nir[7:10]
        if dept in ("97", "98"):
            dept, commune = twin_of.nir[5:8], twin_of.nir[8:10]
        order = int(twin_of.nir[10:13]) % 999 + 1
        while first_name == twin_of.first_name:
            first_name = dice.choice(names)
    glasses = _days(dice, ref, 183, 913) if dice.chance(GLASSES_RATE) else None
    left = right = None
    if age >= 60 and dice.chance(HEARING_RATE_60_PLUS):
        fitted = _days(dice, ref, 365, 1826)
        ears = "both" if dice.chance(HEARING_BOTH_EARS) else dice.choice(("left", "right"))
        left = fitted if ears in ("both", "left") else None
        right = fitted if ears in ("both", "right") else None
    nir = make_nir(sex, birth.year, birth.month, dept, commune, order)
    return Beneficiary(nir, last_name, first_name, birth, rank, sex, glasses, left, right)


def _household(dice: Dice, ref: date) -> tuple[Beneficiary, ...]:
    """Main insured adult first, then maybe a spouse, then children (twins last)."""
    spouse = dice.chance(SPOUSE_RATE)
    children = dice.weighted(_CHILDREN)
    twins = dice.chance(TWINS_RATE)
    children = min(max(children, 2) if twins else children, 4 - spouse)
    age = 22 + dice.below(39) if children else 18 + dice.below(73)  # parents 22-60, others 18-90
    family_name, sex = dice.choice(LAST_NAMES), 1 + dice.below(2)
    people = [_person(dice, ref, sex, age, family_name)]
    if spouse:
        spouse_sex = 3 - sex if dice.chance(0.9) else sex
        spouse_name = family_name if dice.chance(0.7) else dice.choice(LAST_NAMES)
        people.append(_person(dice, ref, spouse_sex, max(18, age - 5 + dice.below(11)), spouse_name))
    for c in range(children):
        child_sex = 1 + dice.below(2)
        if twins and c == children - 1:
            people.append(_person(dice, ref, child_sex, 0, family_name, twin_of=people[-1]))
        else:
            people.append(_person(dice, ref, child_sex, dice.below(min(25, age - 20) + 1), family_name))
    return tuple(people)


def _h(seed: int, label: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{label}:{seed}".encode(), digest_size=16).digest(), "big")


def _coprime(start: int, modulus: int) -> int:
    """The first number >= start (>= 1) coprime to modulus: a valid multiplier for a bijection."""
    m = max(start % modulus, 1)
    while gcd(m, modulus) != 1:
        m += 1
    return m


def _make_amc(seed: int, j: int) -> Amc:
    # Affine bijections keep numbers and names unique without a retry loop.
    number = 10**8 + (_coprime(_h(seed, "amc-mult"), 9 * 10**8) * j + _h(seed, "amc-add")) % (9 * 10**8)
    slot = (_coprime(_h(seed, "amc-name"), len(AMC_NAMES)) * j + _h(seed, "amc-slot")) % len(AMC_NAMES)
    name = AMC_NAMES[slot] + (f" {j // len(AMC_NAMES) + 1}" if j >= len(AMC_NAMES) else "")
    extra = Dice(f"amc:{seed}:{j}".encode())
    return Amc(j, str(number), name, extra.choice(CONVENTIONS), f"{1 + extra.below(99):02d}",
               f"amc-{number}")


class Population:
    """`size` contracts over `amc_count` AMCs; construction is O(amc_count), never O(size).

    `reference_date` is required (the core never reads the clock); it is a parameter with
    a None default only so that it may be given by position or by name.
    """

    def __init__(self, seed: int = 42, size: int = 200_000, amc_count: int = 84,
                 reference_date: date | None = None) -> None:
        if reference_date is None:
            raise ValueError("reference_date is required")
        if not 1 <= size <= _MEMBER_SPAN or amc_count < 1:
            raise ValueError("size must be in 1..10^10 and amc_count >= 1")
        if isinstance(reference_date, datetime):
            reference_date = reference_date.date()  # a datetime would not compare with dates
        if not isinstance(reference_date, date):
            raise TypeError("reference_date must be a date")
        self.seed, self.size, self.amc_count, self.reference_date = seed, size, amc_count, reference_date
        self._member_mult = _coprime(_h(seed, "member-mult"), _MEMBER_SPAN)
        self._member_inv = pow(self._member_mult, -1, _MEMBER_SPAN)
        self._member_add = _h(seed, "member-add") % _MEMBER_SPAN
        # Odd multipliers are invertible modulo 2^48.
        self._serial_mult = (_h(seed, "serial-a") & _SERIAL_MASK | 1, _h(seed, "serial-c") & _SERIAL_MASK | 1)
        self._serial_inv = tuple(pow(m, -1, 1 << _SERIAL_BITS) for m in self._serial_mult)
        self._serial_add = _h(seed, "serial-b") & _SERIAL_MASK
        self._revoked_count = round(size * REVOKED_RATE)
        self._revoked_stride = _coprime(_h(seed, "revoked-stride"), size)
        self._revoked_inv = pow(self._revoked_stride, -1, size)
        self._revoked_offset = _h(seed, "revoked-offset") % size
        self.amcs = tuple(_make_amc(seed, j) for j in range(amc_count))
        self._amc_by_number = {a.number: a for a in self.amcs}
        self._amc_weights = _Weights.of(tuple((a, _AMC_WEIGHT // (a.index + 4)) for a in self.amcs))

    def __len__(self) -> int:
        return self.size

    def amc_by_number(self, number: str) -> Amc | None:
        return self._amc_by_number.get(number)

    # --- identifiers: bijections of i -------------------------------------------------
    def member_of(self, i: int) -> str:
        body = f"{(self._member_mult * i + self._member_add) % _MEMBER_SPAN:010d}"
        return body + luhn_check_digit(body)

    def index_of_member(self, member: str) -> int | None:
        """i such that contract(i).member == member, or None (malformed, bad Luhn digit, i >= size)."""
        if not isinstance(member, str) or len(member) != 11 or not luhn_ok(member):
            return None
        i = (int(member[:10]) - self._member_add) * self._member_inv % _MEMBER_SPAN
        return i if i < self.size else None

    def serial_of(self, i: int) -> str:
        x = (self._serial_mult[0] * i + self._serial_add) & _SERIAL_MASK
        x ^= x >> (_SERIAL_BITS // 2)  # mixes high bits into low ones; its own inverse on 48 bits
        return f"C{(x * self._serial_mult[1]) & _SERIAL_MASK:012X}"

    def index_of_serial(self, serial: str) -> int | None:
        """i such that contract(i).card_serial == serial, or None."""
        if not isinstance(serial, str) or len(serial) != 13 or serial[0] != "C":
            return None
        try:
            x = int(serial[1:], 16)
        except ValueError:
            return None
        x = x * self._serial_inv[1] & _SERIAL_MASK
        x ^= x >> (_SERIAL_BITS // 2)
        i = (x - self._serial_add) * self._serial_inv[0] & _SERIAL_MASK
        return i if i < self.size and self.serial_of(i) == serial else None  # one spelling only

    # --- revocations: {offset + j * stride mod size, j < K} ----------------------------
    def is_revoked(self, i: int) -> bool:
        return (i - self._revoked_offset) * self._revoked_inv % self.size < self._revoked_count

    def revoked_indices(self) -> Iterator[int]:
        for j in range(self._revoked_count):
            yield (self._revoked_offset + j * self._revoked_stride) % self.size

    # --- contracts ----------------------------------------------------------------------
    def contract(self, i: int) -> Contract:
        if not isinstance(i, int) or isinstance(i, bool):
            raise TypeError("contract index must be an int")
        if not 0 <= i < self.size:
            raise IndexError(f"contract index {i} out of range 0..{self.size - 1}")
        dice = Dice(f"{self.seed}:{i}".encode())
        ref = self.reference_date
        amc = dice.weighted(self._amc_weights)
        valid_from, valid_to, status, terminated_on, card_from, card_to = _period(dice, ref)
        responsable = dice.chance(RESPONSABLE_RATE)
        domains = tuple(d for d, rate in DOMAIN_RATES if dice.chance(rate))
        level = dice.weighted(_LEVELS)
        household = _household(dice, ref)
        # drawn last, so that every earlier draw (and every figure derived from it) is unchanged
        kind = "non_responsable" if not responsable else "css" if dice.chance(CSS_RATE) else "responsable"
        return Contract(
            index=i, amc=amc, member=self.member_of(i),
            valid_from=valid_from, valid_to=valid_to, status=status,
            terminated_on=terminated_on, responsable=responsable,
            guarantees=tuple(sorted((d, level) for d in domains)), domains=domains,
            beneficiaries=household, card_serial=self.serial_of(i),
            card_valid_from=card_from, card_valid_to=card_to,
            card_revoked=self.is_revoked(i), contract_type=kind,
        )
