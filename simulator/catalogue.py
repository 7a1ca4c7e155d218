"""The sandbox catalogue: test cases whose answers are known in advance.

Each case is a card, the beneficiary's proof of possession, a domain, a plausible quote and
the answer a fresh platform gives on `today` (`expect` for the rights check, `expect_pec`
for the PEC). Expectations come from the same pure functions that answer live requests.
Consumption recorded by accepted PECs changes later renewal answers: `expect_pec` holds
for a platform whose state directory is new.
"""
from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from itertools import count
from typing import Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tiers_payant.cards import sign_card
from tiers_payant.coverage import History, Prescription, QuoteLine, compute_pec
from tiers_payant.nir import nir_key

from .keys import Keyring, new_key
from .population import Beneficiary, Contract, Population, card_of
from .rights import decide_rights

ELIGIBLE = ("OPTI-A", "AUDI-I", "OPTI-B", "AUDI-II")
TARGETS = ("CARD_EXPIRED", "CARD_REVOKED", "CONTRACT_TERMINATED", "BENEFICIARY_NOT_ON_CARD", "NIR_INVALID",
           "RENEWAL_NOT_DUE", "DOMAIN_NOT_COVERED", "CARD_NOT_YET_VALID", "CONTRACT_SUSPENDED",
           "AMOUNT_ABOVE_CEILING", "CARD_SIGNATURE_INVALID", "UNKNOWN_AMC", "QUOTE_SHAPE_INVALID",
           "PRESCRIPTION_EXPIRED", "PRESCRIBER_NOT_ALLOWED")
PRESCRIPTION_AGE_YEARS = 6  # older than any optics prescription's validity (1, 5 or 3 years)
WRONG_PRESCRIBER = "ophthalmologist"  # may prescribe glasses, not hearing aids (an ENT or a trained GP may)
QUOTES = {  # (code, class, side, price, quantity): plausible equipment per case kind
    "OPTI-A": [("OPT-A-FRAME", "A", None, "30.00", 1), ("OPT-A-LENS-SIMPLE", "A", "right", "40.00", 1),
               ("OPT-A-LENS-SIMPLE", "A", "left", "40.00", 1)],
    "OPTI-B": [("OPT-B-FRAME", "B", None, "145.00", 1), ("OPT-B-LENS-COMPLEX", "B", "right", "210.00", 1),
               ("OPT-B-LENS-COMPLEX", "B", "left", "210.00", 1)],
    "AUDI-I": [("AUD-I-ADULT", "I", "right", "950.00", 1), ("AUD-I-ADULT", "I", "left", "950.00", 1)],
    "AUDI-II": [("AUD-II-ADULT", "II", "right", "1490.00", 1)],
    "AUDI-ABOVE": [("AUD-I-ADULT", "I", "right", "1190.00", 1)],
    "AUDI-ONE-EAR-TWICE": [("AUD-I-ADULT", "I", "right", "950.00", 1), ("AUD-I-ADULT", "I", "right", "950.00", 1)],
}


def age(b: Beneficiary, on: date) -> int:
    return on.year - b.birth_date.year - ((on.month, on.day) < (b.birth_date.month, b.birth_date.day))


def quote_json(kind: str) -> dict:
    lines = []
    for code, cls, side, price, qty in QUOTES[kind]:
        line = {"code": code, "class": cls, "price": price, "quantity": qty}
        if side:
            line["eye" if code.startswith("OPT") else "ear"] = side
        lines.append(line)
    return {"lines": lines}


def _lines(kind: str) -> list[QuoteLine]:
    return [QuoteLine(c, k, s, Decimal(p), q) for c, k, s, p, q in QUOTES[kind]]


class Catalogue:
    def __init__(self, population: Population, keys: Keyring, today: date) -> None:
        self.pop, self.keys, self.today = population, keys, today
        self.cursor = {t: 0 for t in ELIGIBLE + TARGETS}
        self.used: set[int] = set()  # one case per contract: a PEC accepted for one case changes another's renewal

    def card(self, c: Contract) -> str:
        kid, key = self.keys.card_signer(c.amc.number)  # the AMC's current key, from the state directory
        return sign_card(card_of(c), key, kid)

    def _contracts(self, target: str) -> Iterator[Contract]:
        if target == "CARD_REVOKED":
            revoked = sorted(self.pop.revoked_indices())
            while self.cursor[target] < len(revoked):
                self.cursor[target] += 1
                yield self.pop.contract(revoked[self.cursor[target] - 1])
            return
        for i in count(self.cursor[target]):
            if i >= self.pop.size:
                return
            self.cursor[target] = i + 1
            yield self.pop.contract(i)

    def _renewal_due(self, b: Beneficiary, domain: str) -> bool:
        last = [b.last_glasses] if domain == "OPTI" else [b.last_hearing_left, b.last_hearing_right]
        return all(d is None or (self.today - d).days > 4 * 366 for d in last)

    def _pick(self, c: Contract, target: str, domain: str) -> Beneficiary | None:
        for b in c.beneficiaries:
            if age(b, self.today) < 21:  # adult codes only, kept simple
                continue
            if target == "RENEWAL_NOT_DUE":
                if b.last_glasses is not None and (self.today - b.last_glasses).days < 700:
                    return b
            elif self._renewal_due(b, domain):
                return b
        return None

    def _fits(self, c: Contract, target: str, domain: str) -> bool:
        healthy = (c.status == "active" and not c.card_revoked and c.card_valid_from <= self.today <= c.card_valid_to)
        if target in ELIGIBLE or target in ("RENEWAL_NOT_DUE", "AMOUNT_ABOVE_CEILING", "BENEFICIARY_NOT_ON_CARD",
                                            "NIR_INVALID", "CARD_SIGNATURE_INVALID", "UNKNOWN_AMC",
                                            "QUOTE_SHAPE_INVALID", "PRESCRIPTION_EXPIRED",
                                            "PRESCRIBER_NOT_ALLOWED"):
            return healthy and domain in c.domains
        if target == "DOMAIN_NOT_COVERED":
            return healthy and domain not in c.domains
        if target == "CARD_EXPIRED":
            return c.card_valid_to < self.today and not c.card_revoked
        if target == "CARD_NOT_YET_VALID":
            return c.card_valid_from > self.today
        if target == "CARD_REVOKED":
            return c.card_valid_from <= self.today <= c.card_valid_to
        if target == "CONTRACT_TERMINATED":
            return (c.status == "terminated" and c.terminated_on <= self.today and not c.card_revoked
                    and c.card_valid_from <= self.today <= c.card_valid_to)
        if target == "CONTRACT_SUSPENDED":
            return (c.status == "suspended" and not c.card_revoked and domain in c.domains
                    and c.card_valid_from <= self.today <= c.card_valid_to)
        return False

    def case(self, target: str) -> dict | None:
        domain = {"AUDI-I": "AUDI", "AUDI-II": "AUDI", "AMOUNT_ABOVE_CEILING": "AUDI",
                  "QUOTE_SHAPE_INVALID": "AUDI", "PRESCRIBER_NOT_ALLOWED": "AUDI"}.get(target, "OPTI")
        for c in self._contracts(target):
            if c.index in self.used or not self._fits(c, target, domain):
                continue
            b = self._pick(c, target, domain)
            if b is None:
                continue
            self.used.add(c.index)
            return self._build(c, b, target, domain)
        return None

    def _build(self, c: Contract, b: Beneficiary, target: str, domain: str) -> dict:
        kind = target if target in ELIGIBLE else {"AMOUNT_ABOVE_CEILING": "AUDI-ABOVE",
                                                  "QUOTE_SHAPE_INVALID": "AUDI-ONE-EAR-TWICE",
                                                  "PRESCRIBER_NOT_ALLOWED": "AUDI-I"}.get(target, "OPTI-A")
        token = self.card(c)
        nir, rank = b.nir, b.birth_rank
        if target == "BENEFICIARY_NOT_ON_CARD":
            rank = b.birth_rank + 1
        elif target == "NIR_INVALID":
            nir = b.nir[:13] + f"{(nir_key(b.nir[:13]) % 97) + 1:02d}"
        elif target == "CARD_SIGNATURE_INVALID":
            token = _tamper(token)
        elif target == "UNKNOWN_AMC":
            rogue = replace(card_of(c), amc="000000000")
            token = sign_card(rogue, Ed25519PrivateKey.from_private_bytes(new_key()[1]), "amc-000000000-1")
        case = {"case": target.lower().replace("_", "-"), "card": token,
                "beneficiary": {"nir": nir, "birth_date": b.birth_date.isoformat(), "birth_rank": rank},
                "domain": domain, "quote": quote_json(kind)}
        prescribed, prescriber = None, None
        if target == "PRESCRIPTION_EXPIRED":
            prescribed = self.today.replace(year=self.today.year - PRESCRIPTION_AGE_YEARS, day=min(self.today.day, 28))
            case["quote"]["prescription_date"] = prescribed.isoformat()
        elif target == "PRESCRIBER_NOT_ALLOWED":  # a valid, recent prescription by the wrong specialist
            prescribed, prescriber = date.fromordinal(self.today.toordinal() - 30), WRONG_PRESCRIBER
            case["quote"].update(prescription_date=prescribed.isoformat(), prescriber=prescriber)
        if target == "NIR_INVALID":
            case["expect"] = {"status": 422, "code": "NIR_INVALID"}
            case["expect_pec"] = dict(case["expect"])
            return case
        reason_override = {"CARD_SIGNATURE_INVALID": "CARD_SIGNATURE_INVALID", "UNKNOWN_AMC": "UNKNOWN_AMC"}
        if target in reason_override:
            case["expect"] = {"decision": "not_eligible", "reason": reason_override[target]}
            case["expect_pec"] = {"decision": "refused", "reason": reason_override[target]}
            return case
        card = card_of(c)
        r = decide_rights(card, None, c, nir=nir, birth_date=b.birth_date, birth_rank=rank, domain=domain,
                          on=self.today, card_revoked=c.card_revoked)
        case["expect"] = {"decision": r.decision, "reason": r.reason}
        if not r.eligible:
            case["expect_pec"] = {"decision": "refused", "reason": r.reason}
        elif target == "QUOTE_SHAPE_INVALID":  # refused before any rule: the lines are not one equipment
            case["expect_pec"] = {"status": 422, "code": "QUOTE_SHAPE_INVALID"}
        else:
            res = compute_pec(domain, _lines(kind), level=dict(c.guarantees)[domain], responsable=c.responsable,
                              contract_type=c.contract_type, birth_date=b.birth_date, on=self.today,
                              history=History(b.last_glasses, b.last_hearing_left, b.last_hearing_right),
                              prescription=Prescription(prescribed, prescriber) if prescribed else None)
            case["expect_pec"] = {"decision": res.decision, "reason": res.reason, "amc": str(res.amc)}
        return case


CASE_NAMES = tuple(t.lower().replace("_", "-") for t in ELIGIBLE + TARGETS)


def target_of(name: str) -> str | None:
    """`card-revoked` -> `CARD_REVOKED`, `opti-a` -> `OPTI-A`; None for an unknown name."""
    for t in ELIGIBLE + TARGETS:
        if t.lower().replace("_", "-") == name:
            return t
    return None


def cases_of(population: Population, keys: Keyring, today: date, name: str, n: int) -> Iterator[dict]:
    """Up to `n` cases of one kind (each on its own contract)."""
    cat, target = Catalogue(population, keys, today), target_of(name)
    if target is None:
        raise ValueError(f"unknown case {name!r}; known: {', '.join(CASE_NAMES)}")
    for _ in range(n):
        case = cat.case(target)
        if case is None:
            return
        yield case


def outcome(expect: dict) -> str:
    if "status" in expect:
        return f"{expect['status']} {expect['code']}"
    return expect["decision"] + (f" {expect['reason']}" if expect.get("reason") else "")


def case_table(population: Population, today: date) -> list[dict]:
    """One row per case kind: its name and the answers a fresh platform gives (from a real case,
    signed with throwaway keys: the table shows answers, not cards)."""
    keys, rows = Keyring.in_memory([a.number for a in population.amcs]), []
    for name in CASE_NAMES:
        case = next(cases_of(population, keys, today, name, 1), None)
        rows.append({"case": name, "domain": case["domain"] if case else None,
                     "eligibility": outcome(case["expect"]) if case else "no such contract in this population",
                     "pec": outcome(case["expect_pec"]) if case else ""})
    return rows


def _tamper(token: str) -> str:
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["domains"] = sorted(set(claims["domains"]) | {"OPTI", "AUDI", "DENT"})
    forged = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


def cases(population: Population, keys: Keyring, today: date, n: int) -> Iterator[dict]:
    """Most cases eligible; every decline reason and problem appears within 100 cases."""
    cat = Catalogue(population, keys, today)
    plan = [ELIGIBLE[k % 4] if k % 5 in (0, 2, 4) else TARGETS[(k // 5 * 2 + k % 5 // 2) % len(TARGETS)]
            for k in range(n)]
    for target in plan:
        case = cat.case(target) or cat.case(ELIGIBLE[0])
        if case is not None:
            yield case
