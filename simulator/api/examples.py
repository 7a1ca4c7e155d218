"""Request examples for the OpenAPI documents, taken from the sandbox catalogue.

Built from the population the document describes, so an example pasted from the served
`/openapi.json` gets the answer its summary announces on a fresh sandbox (for PECs: once;
`POST /v1/sandbox/reset` on the control port makes it answer so again).
"""
from __future__ import annotations

from datetime import date

from ..accounts import account
from ..catalogue import cases_of, outcome
from ..population import Population

SHOWN = ("opti-a", "audi-i", "card-revoked", "renewal-not-due")  # valid requests only: schemathesis sends them as such


def _professional(seed: int, profession: str) -> dict:
    for k in range(50):
        a = account(seed, k)
        if a.profession == profession:
            return {"rpps": a.rpps, "profession": a.profession}
    raise LookupError(profession)


_made: dict = {}  # the last examples, with the day and keys they were made for


def catalogue_examples(pop: Population, keys, seed: int, today: date) -> dict[str, dict]:
    """Cards signed with the platform's current keys: rebuilt after a rotation."""
    entries = keys.entries()
    if _made.get("for") == (today, entries):
        return _made["examples"]
    out: dict[str, dict] = {"eligibility": {}, "pec": {}}
    for name in SHOWN:
        case = next(cases_of(pop, keys, today, name, 1), None)
        if case is None:
            continue
        base = {"card": case["card"], "beneficiary": case["beneficiary"], "domain": case["domain"]}
        prof = _professional(seed, "28" if case["domain"] == "OPTI" else "26")
        out["eligibility"][name] = {"summary": f"case {name}: {outcome(case['expect'])}", "value": base}
        out["pec"][name] = {"summary": f"case {name}: {outcome(case['expect_pec'])} on a fresh sandbox",
                            "value": {**base, "professional": prof, "lines": case["quote"]["lines"]}}
    _made.update({"for": (today, entries), "examples": out})
    return out
