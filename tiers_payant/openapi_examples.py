"""Answer examples for the OpenAPI documents, shaped as the sandbox answers its catalogue cases.

Request examples are built live from the sandbox catalogue (`simulator/api/examples.py`),
so they verify on the sandbox that serves them; these answer examples are fixed, and a
unit test validates every one against its documented schema.
"""
from __future__ import annotations


def _ex(summary: str, value: dict) -> dict:
    return {"summary": summary, "value": value}


ONLINE = {"mode": "online", "provisional": False, "request_id": "7c1e0f9a5b2d4c3e8f6a1b0c9d8e7f6a"}

ELIGIBILITY_ANSWERS = {
    "opti-a": _ex("case opti-a: eligible", {
        "decision": "eligible", "reason": None, "coverage": {"domain": "OPTI", "level": "CONFORT",
                                                             "valid_to": "2027-12-31", "responsable": True}, **ONLINE}),
    "card-revoked": _ex("case card-revoked: a business decline is a 200 with a reason", {
        "decision": "not_eligible", "reason": "CARD_REVOKED", "coverage": None, **ONLINE}),
    "offline": _ex("at the gateway, platform unreachable: the stand-in's provisional answer", {
        "decision": "eligible", "reason": None, "coverage": {"domain": "OPTI"}, "mode": "offline", "provisional": True,
        "request_id": "0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e", "journal_reference": "J-5D41402ABC4B2A76",
        "offline_cause": "unreachable"}),
}

_A_LINES = [{"code": "OPT-A-FRAME", "status": "accepted", "reason": None, "amo": "5.40", "amc": "24.60", "patient": "0.00"},
            {"code": "OPT-A-LENS-SIMPLE", "status": "accepted", "reason": None, "amo": "7.20", "amc": "32.80",
             "patient": "0.00"},
            {"code": "OPT-A-LENS-SIMPLE", "status": "accepted", "reason": None, "amo": "7.20", "amc": "32.80",
             "patient": "0.00"}]
PEC_ANSWERS = {
    "opti-a": _ex("case opti-a: 100% Santé classe A glasses, nothing left to pay", {
        "decision": "accepted", "reason": None, "reasons": [], "pec_number": "PEC-3F9A0C2B7D1E4A55", "lines": _A_LINES,
        "amo": "19.80", "amc": "90.20", "patient": "0.00", "expires_on": "2027-05-30", **ONLINE}),
    "renewal-not-due": _ex("case renewal-not-due: refused, every line with its reason", {
        "decision": "refused", "reason": "RENEWAL_NOT_DUE", "reasons": ["RENEWAL_NOT_DUE"], "pec_number": None,
        "lines": [{**ln, "status": "refused", "reason": "RENEWAL_NOT_DUE", "amo": "0.00", "amc": "0.00",
                   "patient": str(p)} for ln, p in zip(_A_LINES, ("30.00", "40.00", "40.00"))],
        "amo": "0.00", "amc": "0.00", "patient": "110.00", "expires_on": None, **ONLINE}),
}

PEC_STATUS_ANSWERS = {
    "valid": _ex("an agreement of this account, still valid", {
        "pec_number": "PEC-3F9A0C2B7D1E4A55", "status": "valid", "decision": "accepted", "amo": "19.80",
        "amc": "90.20", "patient": "0.00", "expires_on": "2027-05-30", "lines": _A_LINES}),
}

PROBLEM_EXAMPLE = {"type": "/problems/nir-invalid", "title": "The NIR is malformed or its key does not match",
                   "status": 422, "detail": "NIR key does not match (mistyped number?)", "code": "NIR_INVALID",
                   "errors": [{"path": "/beneficiary/nir", "message": "NIR key does not match (mistyped number?)",
                               "code": "NIR_INVALID"}]}
TOKEN_ANSWER = {"access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6InRva2VuLTEiLCJ0eXAiOiJKV1QifQ.e30.c2ln",
                "token_type": "Bearer", "expires_in": 900}
ADVICES_ANSWER = {"results": [{"advice_id": "5d41402abc4b2a76b9719d911017c592", "verdict": "confirmed", "reason": None,
                               "platform_amc_eur": "90.20", "pec_number": "PEC-3F9A0C2B7D1E4A55",
                               "duplicate": False}]}
REVOCATIONS_ANSWER = {"version": 312, "since": 0, "complete": True, "cards": ["S-000123-4"], "accounts": [],
                      "restored_accounts": [], "credentials": []}


def text(summary: str, value: str) -> dict:
    return {"example": {"summary": summary, "value": value}}


PROBLEM_PAGE = "<!doctype html><html lang=\"en\">…<h1><code>NIR_INVALID</code></h1><p>The NIR is malformed or its key does not match.</p>…"
PROBLEMS_PAGE = "<!doctype html><html lang=\"en\">…<h1>Reason and problem codes</h1><table>…</table>…"
METRICS = {
    "platform": ('# TYPE platform_requests_total counter\n'
                 'platform_requests_total{operation="eligibility",status="200"} 1520.0\n'
                 '# TYPE platform_fault_in_force gauge\nplatform_fault_in_force{mode="up"} 1.0\n'),
    "gateway": ('# TYPE gateway_journal_recorded_total counter\ngateway_journal_recorded_total 1045.0\n'
                '# TYPE gateway_journal_pending gauge\ngateway_journal_pending 0.0\n'),
}
HEALTH = {"status": "ok", "contracts": 86957, "beneficiaries_approx": 200000}
READY = {"ready": True, "caches_loaded": True, "resilience": "full"}
GATEWAY_STATUS = {"resilience": "full", "platform": "http://127.0.0.1:8081",
                  "breaker": {"state": "closed", "window_calls": 42, "window_failures": 0},
                  "journal": {"recorded": 1045, "pending": 0, "drained": 1045},
                  "reconciliation": {"confirmed": 1040, "adjusted": 3, "rejected": 2, "exposure_eur": "349.45"},
                  "caches": {"jwks": 1.2, "revocations": 1.2, "standin_policy": 1.2}}
DOCS_PAGE = "<!doctype html><html lang=\"en\">…<h1>Tiers-payant platform simulator</h1>…<h2>Sandbox catalogue</h2>…"

OFFLINE_LOOKUPS_ANSWER = {"results": [{"id": "7d865e959b2466918c9863afca942d0f", "accepted": True, "reason": None,
                                       "duplicate": False}]}
