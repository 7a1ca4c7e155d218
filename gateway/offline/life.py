"""The PEC's life when the platform cannot be asked: cotation, cancellation, invoicing.

- A cotation is priced from the card alone, as an offline PEC is, and recorded nowhere:
  `provisional: true`, `pec_number` null, no velocity counted (it commits nothing).
- A cancellation is journaled (operation "cancel") before it is answered, and the drain
  advises it; the platform judges it. An offline PEC ("J-...") is always cancelled this
  way, online or not: the platform knows it only by the advice that created it, so the
  cancellation names that advice and is sent after it. One cancellation per agreement:
  its reference is derived from (account, agreement), so a repeat finds the first.
- An invoice records consumption, so it needs the platform's word:
  * against a platform agreement while the platform is down: PLATFORM_UNAVAILABLE (503,
    retry later): the gateway does not know what the platform agreed;
  * against an offline agreement the platform has judged: agreed (confirmed or adjusted),
    it is invoiced online under the platform's number, which the journal kept from the
    verdict; refused, or cancelled, PEC_NOT_OPEN;
  * against an offline agreement not judged yet: PEC_PROVISIONAL (409), unless the
    stand-in policy for invoices is on (GW_OFFLINE_INVOICES): then the invoice is checked
    against the offline agreement (amounts at most those agreed plus the tolerance, the
    delivery within its validity) and against the AMC's offline limit for one decision,
    journaled (operation "invoice", one per agreement) and advised after the agreement;
    the platform judges it as an online invoice at its time. It adds no exposure of its
    own: the euros at risk are the agreement's, already counted.
"""
from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal
from typing import Any

from gateway.offline.journal import PLATFORM_PEC, SEALED, JournalError, OfflineEntry
from tiers_payant.idempotency import fingerprint
from tiers_payant.model import eur, money, paris_day
from tiers_payant.parsing import parse_model
from tiers_payant.pec_request import check_pec_request, line_json
from tiers_payant.problems import FieldError, Problem
from tiers_payant.schemas import CancelIn, InvoiceIn, PecRequest
from tiers_payant.secrets_at_rest import seal
from tiers_payant.tokens import bearer


def cancel_ids(client_id: str, pec_number: str, operation: str = "cancel") -> tuple[str, str]:
    """(journal reference, advice id) of the one cancellation (or offline invoice) of this
    agreement by this account."""
    digest = hashlib.sha256(f"{client_id}\x1f{operation}\x1f{pec_number}".encode()).hexdigest()
    return "J-" + digest[:16], digest[32:64]


def sealed_proof(desk, advice_id: str, request: dict, authorization: str | None) -> dict:
    """The professional's token, the platform's proof, sealed like a PEC's (AES-GCM under the
    journal key, dropped at the verdict): a bearer credential is never at rest in clear."""
    return {SEALED: seal(desk.journal_key, {"request": request, "token": bearer(authorization)}, advice_id)}


class OfflineLife:
    def __init__(self, desk) -> None:
        self.desk = desk

    def quote(self, raw: bytes, authorization: str | None, cause: str) -> dict[str, Any]:
        d = self.desk
        p = d.principal(authorization)
        req = parse_model(PecRequest, raw)
        now = d.clock()
        on = req.date or paris_day(now)
        lines = check_pec_request(req, p, on)
        _, result, _, refused, base, _ = d.priced(req, lines, cause, now, on, None)
        if refused is not None:
            return d._logged("quote", refused, cause)
        return d._logged("quote", {
            "decision": result.decision, "reason": result.reason,
            "reasons": sorted({ln.reason for ln in result.lines if ln.reason}), "pec_number": None,
            "lines": [line_json(ln) for ln in result.lines], "amo": eur(result.amo), "amc": eur(result.amc),
            "patient": eur(result.patient), "expires_on": None, "journal_reference": None, **base}, cause)

    def cancel(self, pec_number: str, raw: bytes, authorization: str | None, cause: str | None) -> dict[str, Any]:
        """`cause` None: an offline PEC cancelled while the platform is up (the original cause stands)."""
        d = self.desk
        p = d.principal(authorization)
        body = parse_model(CancelIn, raw or b"{}")
        ref, advice_id = cancel_ids(p.client_id, pec_number)
        amc, serial, domain = "", "", ""
        if pec_number.startswith("J-"):
            original = self._journal(lambda: d.journal.get(pec_number))
            if original is None or original["client_id"] != p.client_id or original["operation"] != "pec":
                raise Problem("NOT_FOUND", "no PEC with this number for this account")
            if self.invoice_stands(p.client_id, pec_number):
                raise Problem("PEC_NOT_OPEN", "the agreement was invoiced offline: it can no longer be cancelled")
            request = {"pec_advice_id": original["advice_id"], "reason": body.reason}
            amc, serial, domain, cause = original["amc"], original["card_serial"], original["domain"], \
                cause or original["cause"]
        else:
            request = {"pec_number": pec_number, "reason": body.reason}
        answer = {"pec_number": pec_number, "state": "cancelled", "status": "closed", "mode": "offline",
                  "provisional": True, "journal_reference": ref, "offline_cause": cause,
                  "request_id": uuid.uuid4().hex}
        now = d.clock()
        entry = OfflineEntry(advice_id, "cancel", now, amc, serial, "pec:" + pec_number, domain, Decimal(0),
                             cause or "unreachable", {"request": request, "answer": answer,
                                                      "pec_reference": pec_number,
                                                      **sealed_proof(d, advice_id, request, authorization)},
                             p.client_id)
        self._journal(lambda: d.journal.record(entry, ref))
        return d._logged("cancel", answer, entry.cause)

    def cancellation(self, client_id: str, pec_number: str) -> dict[str, Any] | None:
        """The journaled cancellation of this agreement, with the platform's verdict once drained."""
        entry = self._journal(lambda: self.desk.journal.get(cancel_ids(client_id, pec_number)[0]))
        if entry is None:
            return None
        return {"journal_reference": entry["reference"], "state": entry["state"], "verdict": entry["verdict"],
                "reason": entry["verdict_reason"]}

    def invoice(self, pec_number: str, raw: bytes, authorization: str | None,
                cause: str | None) -> dict[str, Any] | str:
        """An invoice against an offline agreement ("J-..."): the platform's number to invoice
        online (a str) once the platform agreed, or the stand-in's journaled answer (a dict);
        otherwise the Problem that refuses it. `cause` None: the platform may be up."""
        d = self.desk
        p = d.principal(authorization)
        body = parse_model(InvoiceIn, raw)
        original = self._journal(lambda: d.journal.get(pec_number))
        if original is None or original["client_id"] != p.client_id or original["operation"] != "pec":
            raise Problem("NOT_FOUND", "no PEC with this number for this account")
        if self.cancellation(p.client_id, pec_number) is not None:
            raise Problem("PEC_NOT_OPEN", "the agreement was cancelled: it can no longer be invoiced")
        ref, advice_id = cancel_ids(p.client_id, pec_number, "invoice")
        known = self._journal(lambda: d.journal.get(ref))
        if known is not None and known["verdict"] != "rejected":  # one per agreement: a repeat gets the first answer
            if known["payload"].get("fingerprint") != fingerprint(raw):
                raise Problem("PEC_NOT_OPEN", f"the agreement was already invoiced offline ({ref})")
            return known["payload"]["answer"]
        if original["state"] == "drained":
            number = original["payload"].get(PLATFORM_PEC)
            if original["verdict"] == "rejected" or not number:
                raise Problem("PEC_NOT_OPEN", "the platform refused this offline agreement"
                              f" ({original['verdict_reason'] or 'rejected'}): there is nothing to invoice")
            return number
        if not d.s.offline_invoices:
            raise self.invoice_refused(pec_number)
        return self._standin_invoice(p, pec_number, original, body, raw, authorization, ref, advice_id, cause)

    def _standin_invoice(self, p, pec_number: str, original: dict, body: InvoiceIn, raw: bytes,
                         authorization: str | None, ref: str, advice_id: str, cause: str | None) -> dict[str, Any]:
        d = self.desk
        now = d.clock()
        agreed = original["payload"]["answer"]
        today, on = paris_day(now), paris_day(original["at"])
        delivered = body.delivered_on or today
        if delivered > today:
            raise Problem("VALIDATION_FAILED", "the delivery is dated in the future",
                          [FieldError("/delivered_on", "after today")])
        if not on.isoformat() <= delivered.isoformat() <= agreed["expires_on"]:
            raise Problem("INVOICE_OUTSIDE_VALIDITY", f"delivered on {delivered}, the agreement runs from {on} to "
                          f"{agreed['expires_on']}", [FieldError("/delivered_on", "outside")])
        tolerance = money(d.s.invoice_tolerance_eur)
        above = [FieldError(f"/{k}", f"{eur(getattr(body, k))} is above the agreed {agreed[k]}"
                            f" (tolerance {eur(tolerance)})", "INVOICE_ABOVE_AGREEMENT")
                 for k in ("amo", "amc") if money(getattr(body, k)) > money(agreed[k]) + tolerance]
        if above:
            raise Problem("INVOICE_ABOVE_AGREEMENT", "the invoice asks more than the agreement", above)
        policy = d.cached.policy(original["amc"])
        ceiling = policy.ceiling(original["domain"]) if policy else None
        if ceiling is None or money(body.amc) > ceiling:  # the AMC's limit for one offline decision
            raise Problem("PEC_PROVISIONAL", "this invoice is above what the AMC allows offline: invoice the"
                          " agreement once it is reconciled (GET it for its verdict)")
        invoice = {"invoice_number": body.invoice_number, "delivered_on": delivered.isoformat(),
                   "amo": eur(body.amo), "amc": eur(body.amc)}
        cause = cause or original["cause"]
        answer = {"pec_number": pec_number, "state": "invoiced", "status": "closed", "invoice": invoice,
                  "mode": "offline", "provisional": True, "journal_reference": ref, "offline_cause": cause,
                  "request_id": uuid.uuid4().hex}
        request = {"pec_advice_id": original["advice_id"], "invoice": invoice}
        entry = OfflineEntry(advice_id, "invoice", now, original["amc"], original["card_serial"], "pec:" + pec_number,
                             original["domain"], Decimal(0), cause,
                             {"request": request, "answer": answer, "pec_reference": pec_number,
                              "fingerprint": fingerprint(raw), **sealed_proof(d, advice_id, request, authorization)},
                             p.client_id)
        self._journal(lambda: d.journal.record(entry, ref))
        return d._logged("invoice", answer, cause)

    def invoiced(self, client_id: str, pec_number: str) -> dict[str, Any] | None:
        """The offline invoice of this agreement, with the platform's verdict once drained."""
        entry = self._journal(lambda: self.desk.journal.get(cancel_ids(client_id, pec_number, "invoice")[0]))
        if entry is None:
            return None
        return {"journal_reference": entry["reference"], "state": entry["state"], "verdict": entry["verdict"],
                "reason": entry["verdict_reason"], **entry["payload"]["answer"]["invoice"]}

    def invoice_stands(self, client_id: str, pec_number: str) -> bool:
        """An offline invoice of this agreement that the platform has not refused."""
        invoiced = self.invoiced(client_id, pec_number)
        return invoiced is not None and invoiced["verdict"] != "rejected"

    @staticmethod
    def invoice_refused(pec_number: str) -> Problem:
        if pec_number.startswith("J-"):
            return Problem("PEC_PROVISIONAL", "this offline agreement is not reconciled yet: invoice it once the "
                           "platform has judged it (GET it for its verdict)")
        return Problem("PLATFORM_UNAVAILABLE", "an invoice needs the platform, which cannot be reached; retry later")

    @staticmethod
    def _journal(fn):  # type: ignore[no-untyped-def]
        try:
            return fn()
        except JournalError:
            raise Problem("PLATFORM_UNAVAILABLE", "the journal cannot record this now; retry later") from None

