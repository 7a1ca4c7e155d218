"""The PEC's life as a gateway advises it: cancellations and invoices made offline, judged at
reconciliation as if they had come online at their time, inside the advice's transaction.

Both name the platform's `pec_number`, or, for an agreement made offline, the advice that
created it (`pec_advice_id`). The drain sends advices oldest first, but several batches may
be in flight at once: one whose agreement's advice is not judged yet is answered NOT_YET
(`pending`), stored nowhere, and sent again after a back-off.
"""
from __future__ import annotations

from decimal import Decimal

from tiers_payant.problems import Problem
from tiers_payant.schemas import InvoiceIn

from .pec_life import cancel_agreement, invoice_agreement, settle_expiry

CANCELLED_BY_ADVICE = ("accepted", "cancelled", "expired")  # a cancel advice is confirmed in these states
# An offline cancellation or invoice whose agreement's advice the platform has not judged yet
# (the drain sends in order, but several batches may be in flight): not judged, not stored; the
# drain sends it again after a back-off.
NOT_YET = {"verdict": "pending", "reason": "AGREEMENT_NOT_JUDGED_YET", "platform_amc_eur": "0.00"}


def judge_cancel(platform, db, advice, now: float, client_id: str) -> dict:
    """A cancellation a gateway journaled offline, judged as if it had come online at its
    time, inside the caller's transaction (the advice's one), for the account `client_id`
    whose token the advice carries.

    It names the platform's `pec_number`, or, for an agreement made offline, the advice that
    created it (`pec_advice_id`), judged first (or this one is NOT_YET judged). A
    cancellation is confirmed when the agreement is freed (or was never agreed: the offline
    PEC was rejected, or expired meanwhile); rejected when already invoiced or unknown.
    """
    req = advice.request
    reason = str(req.get("reason") or "abandoned")[:32]
    verdict = {"verdict": "rejected", "reason": "NOT_FOUND", "platform_amc_eur": "0.00"}
    n = str(req.get("pec_number") or "")
    if not n:  # an offline agreement: the advice that created it knows its number
        original = db.execute("SELECT verdict, pec_number FROM advices WHERE advice_id=?",
                              (str(req.get("pec_advice_id") or ""),)).fetchone()
        if original is None:  # not judged yet (in another batch in flight): ask again later
            return NOT_YET
        if original["pec_number"] is None:  # never agreed (rejected): nothing to free
            return {"verdict": "confirmed", "reason": None, "platform_amc_eur": "0.00"}
        n = original["pec_number"]
    row = db.execute("SELECT p.answer, p.client_id, l.state, l.on_date, l.expires_on, l.invoice FROM pecs p"
                     " LEFT JOIN pec_life l ON l.pec_number = p.pec_number WHERE p.pec_number=?", (n,)).fetchone()
    if row is None or row["client_id"] != client_id:
        return verdict
    state = settle_expiry(db, n, row, platform.today(advice.at))
    if state not in CANCELLED_BY_ADVICE:
        return {**verdict, "reason": "PEC_NOT_OPEN", "pec_number": n}
    if state == "accepted":
        cancel_agreement(db, n, now, {"reason": reason, "advice_id": advice.advice_id})
    return {"verdict": "confirmed", "reason": None, "platform_amc_eur": "0.00", "pec_number": n}


def judge_invoice(platform, db, advice, now: float, client_id: str, tolerance: Decimal) -> dict:
    """An invoice the gateway's stand-in accepted offline against an offline agreement
    (GW_OFFLINE_INVOICES), judged as if it had come online at its time, inside the advice's
    transaction. It names the advice that created the agreement (`pec_advice_id`), judged
    first. Confirmed: the agreement is invoiced; rejected with the reason an online invoice
    would have got (PEC_NOT_OPEN, INVOICE_ABOVE_AGREEMENT, INVOICE_OUTSIDE_VALIDITY), or the
    agreement's own refusal when the platform never agreed to it."""
    req = advice.request
    rejected = {"verdict": "rejected", "reason": "NOT_FOUND", "platform_amc_eur": "0.00"}
    original = db.execute("SELECT verdict, reason, pec_number FROM advices WHERE advice_id=?",
                          (str(req.get("pec_advice_id") or ""),)).fetchone()
    if original is None:  # not judged yet (in another batch in flight): ask again later
        return NOT_YET
    if original["pec_number"] is None:  # the offline agreement was refused: nothing to invoice
        return {**rejected, "reason": original["reason"] or "PEC_NOT_OPEN"}
    n = original["pec_number"]
    row = db.execute("SELECT p.answer, p.client_id, l.state, l.on_date, l.expires_on, l.invoice FROM pecs p"
                     " LEFT JOIN pec_life l ON l.pec_number = p.pec_number WHERE p.pec_number=?", (n,)).fetchone()
    if row is None or row["client_id"] != client_id:
        return rejected
    try:
        body = InvoiceIn.model_validate(req.get("invoice") or {}, strict=False)
        today = platform.today(advice.at)
        invoice = invoice_agreement(db, n, row, body, body.delivered_on or today, today, tolerance, now,
                                    {"advice_id": advice.advice_id})
    except Problem as exc:
        return {**rejected, "reason": exc.code, "pec_number": n}
    except ValueError:  # pydantic's ValidationError: not an invoice we would take online either
        return {**rejected, "reason": "VALIDATION_FAILED", "pec_number": n}
    return {"verdict": "confirmed", "reason": None, "platform_amc_eur": invoice["amc"], "pec_number": n}
