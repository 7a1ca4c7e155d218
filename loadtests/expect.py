"""Is this answer one the gateway may give for this sandbox case, in this phase? Pure.

A case from `python -m simulator cards` knows what a healthy platform answers (`expect`
for the rights check, `expect_pec` for the PEC). Which answers are acceptable depends on
the phase kind:

- healthy: the platform's own answer, online: same decision and reason (for a PEC also
  the AMC amount). An offline answer here is wrong: the gateway left the platform for nothing.
- outage / recovering: the platform's answer if it came online, or the offline stand-in's:
  * a valid card is accepted provisionally, with a journal reference (DESIGN §5.4: no
    unrecorded acceptance), or declined by a bounded-risk rule (OFFLINE_*, REVOCATIONS_STALE);
  * a card the card itself condemns (expired, revoked, forged, wrong beneficiary, domain
    not on the card...) is declined: accepting it offline is the failure that matters;
  * so is a request the request itself condemns (an expired prescription, a prescriber
    not allowed): the stand-in applies the same rules to the same request;
  * a card whose contract the platform alone knows is bad (terminated, suspended, renewal
    not due, price above ceiling) may be accepted offline: that is the bounded risk that
    reconciliation finds later; a decline is fine too.
  * a 429 RATE_LIMITED relayed from a throttling platform: the gateway's documented
    choice (a platform that answers "slow down" is up, no reason to stand in); the
    throttle scenario bounds how often shops see it.
  Both kinds accept the same answers; they differ in what the SLOs of the phase ask.
- Everywhere else: no answer, a 5xx, 401/403 is unexpected; a 429 while healthy too (our
  users stay far below the platform's per-account rate).

Consumption: an accepted PEC records the equipment, so the same PEC later (by this user,
another worker, or a run before on the same platform state) is refused RENEWAL_NOT_DUE.
That answer is accepted wherever an acceptance was expected.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

POSITIVE = ("eligible", "accepted", "partial")
NEGATIVE = {"eligibility": "not_eligible", "pec": "refused"}
OFFLINE_LIMITS = frozenset({"OFFLINE_LIMIT_EXCEEDED", "OFFLINE_VELOCITY_EXCEEDED", "REVOCATIONS_STALE",
                            "OFFLINE_DEFAULT_DECLINE"})
CARD_SIDE = frozenset({"CARD_SIGNATURE_INVALID", "CARD_EXPIRED", "CARD_NOT_YET_VALID", "CARD_REVOKED",
                       "UNKNOWN_AMC", "CARD_KEY_RETIRED", "BENEFICIARY_NOT_ON_CARD", "DOMAIN_NOT_COVERED", "NIR_INVALID"})
REQUEST_SIDE = frozenset({"PRESCRIPTION_EXPIRED", "PRESCRIBER_NOT_ALLOWED"})  # judged from the request alone
CONSUMED = "RENEWAL_NOT_DUE"


@dataclass(frozen=True)
class Answer:
    operation: str  # "eligibility" | "pec"
    status: int  # HTTP status; 0 when no answer came (refused, reset, timeout)
    body: Mapping[str, Any] | None  # the parsed JSON, None if there was none
    error: str = ""  # the transport error, when status is 0


def summarize(answer: Answer) -> tuple[str, str, str]:
    """(mode, decision, reason) as a `Sample` records them."""
    body = answer.body if isinstance(answer.body, Mapping) else {}
    mode = body.get("mode") if body.get("mode") in ("online", "offline") else "none"
    if answer.status == 200 and body.get("decision"):
        return mode, str(body["decision"]), str(body.get("reason") or "")
    if answer.status == 0:
        return "none", "error", answer.error[:80] or "no answer"
    return "none", "problem", str(body.get("code") or f"HTTP {answer.status}")


def _expected(case: Mapping[str, Any], operation: str) -> Mapping[str, Any]:
    return case["expect_pec"] if operation == "pec" else case["expect"]


def _online_ok(want: Mapping[str, Any], answer: Answer, body: Mapping[str, Any]) -> tuple[bool, str]:
    decision, reason = body.get("decision"), body.get("reason")
    reasons = {reason, *(body.get("reasons") or [])}
    if answer.operation == "pec" and want.get("decision") in POSITIVE and CONSUMED in reasons:
        return True, CONSUMED  # consumed by an earlier accepted PEC (see module doc)
    if decision != want.get("decision") or (reason or None) != (want.get("reason") or None):
        return False, f"expected {want.get('decision')}/{want.get('reason')}, got {decision}/{reason} online"
    if answer.operation == "pec" and want.get("amc") is not None and body.get("amc") != want["amc"]:
        return False, f"expected AMC amount {want['amc']}, got {body.get('amc')}"
    return True, reason or ""


def _offline_ok(want: Mapping[str, Any], answer: Answer, body: Mapping[str, Any]) -> tuple[bool, str]:
    decision, reason = body.get("decision"), body.get("reason") or ""
    wanted_reason = want.get("reason") or want.get("code")
    if decision in POSITIVE:
        if wanted_reason in CARD_SIDE:
            return False, f"accepted offline a card the card itself condemns ({wanted_reason})"
        if wanted_reason in REQUEST_SIDE:
            return False, f"accepted offline a request the request itself condemns ({wanted_reason})"
        if body.get("provisional") is not True:
            return False, "offline acceptance not marked provisional"
        if not body.get("journal_reference"):
            return False, "offline acceptance without a journal reference (unrecorded)"
        return True, reason
    if decision == NEGATIVE[answer.operation]:
        if want.get("decision") in POSITIVE and reason not in OFFLINE_LIMITS:
            return False, f"valid card declined offline with {reason or 'no reason'}"
        return True, reason
    return False, f"unknown decision {decision!r} offline"


def check(case: Mapping[str, Any], answer: Answer, phase_kind: str) -> tuple[bool, str]:
    """(acceptable, reason): the answer's reason code when acceptable, else why not."""
    want = _expected(case, answer.operation)
    body = answer.body if isinstance(answer.body, Mapping) else {}
    if answer.status == 0:
        return False, f"no answer: {answer.error or 'connection failed'}"[:120]
    if "status" in want and answer.status == want["status"]:
        ok = body.get("code") == want.get("code")
        return ok, want["code"] if ok else f"expected {want['code']}, got {body.get('code')}"
    if answer.status == 429 and body.get("code") == "RATE_LIMITED" and phase_kind != "healthy":
        return True, "RATE_LIMITED"
    if answer.status != 200:
        return False, f"HTTP {answer.status} {body.get('code') or ''}".strip()
    if "status" in want:  # a problem expected, a decision came: only its offline twin will do
        wanted = {"decision": NEGATIVE[answer.operation], "reason": want.get("code")}
        if body.get("decision") == wanted["decision"] and body.get("reason") == wanted["reason"]:
            return True, str(wanted["reason"])
        return False, f"expected {want.get('status')} {want.get('code')}, got {body.get('decision')}"
    mode = body.get("mode")
    if mode == "online":
        return _online_ok(want, answer, body)
    if mode == "offline":
        if phase_kind == "healthy":
            return False, "offline answer while the platform is healthy"
        return _offline_ok(want, answer, body)
    return False, f"answer without a mode ({mode!r})"


# ---- the PEC's life: cotation, cancellation, invoicing (users ask them around a PEC) ----
LIFE = ("quote", "cancel", "invoice")


def check_life(case: Mapping[str, Any], answer: Answer, phase_kind: str, pec_number: str = "") -> tuple[bool, str]:
    """A cotation is judged as the PEC it prices, except that offline it records nothing (no
    journal reference, no pec_number). A cancellation must cancel (offline: journaled). An
    invoice must close the agreement (offline, with the stand-in policy for invoices on:
    journaled); otherwise it is refused: PLATFORM_UNAVAILABLE for a platform agreement while
    the platform is down; for an offline agreement PEC_PROVISIONAL until it is reconciled,
    PEC_NOT_OPEN once the platform refused it."""
    body = answer.body if isinstance(answer.body, Mapping) else {}
    if answer.status == 0:
        return False, f"no answer: {answer.error or 'connection failed'}"[:120]
    if answer.status == 429 and body.get("code") == "RATE_LIMITED" and phase_kind != "healthy":
        return True, "RATE_LIMITED"
    if answer.operation == "quote":
        if body.get("mode") == "offline" and body.get("decision") in POSITIVE:
            ok = phase_kind != "healthy" and body.get("provisional") is True and not body.get("pec_number") \
                and not body.get("journal_reference")
            return ok, (body.get("reason") or "") if ok else "offline cotation not provisional, or recorded"
        if body.get("pec_number"):
            return False, "a cotation carried an agreement number"
        return check(case, Answer("pec", answer.status, answer.body, answer.error), phase_kind)
    code = str(body.get("code") or "")
    if answer.operation == "invoice" and pec_number.startswith("J-") and answer.status == 409:
        return code in ("PEC_PROVISIONAL", "PEC_NOT_OPEN"), code
    if answer.status == 503 and code == "PLATFORM_UNAVAILABLE" and phase_kind != "healthy":
        return True, code
    want = "cancelled" if answer.operation == "cancel" else "invoiced"
    if answer.status != 200 or body.get("state") != want:
        return False, f"expected {want}, got HTTP {answer.status} {code or body.get('state')}".strip()
    if body.get("mode") == "offline" and not (body.get("provisional") and body.get("journal_reference")):
        return False, f"offline {answer.operation} not journaled"
    return True, want
