"""The PEC's life when the platform cannot be asked: cotation, cancellation, invoicing.

- A cotation is priced from the card alone, as an offline PEC is, and recorded nowhere:
  `provisional: true`, `pec_number` null, no velocity counted (it commits nothing).
- A cancellation is journaled (operation "cancel") before it is answered, and the drain
  advises it; the platform judges it. An offline PEC ("J-...") is always cancelled this
  way, online or not: the platform knows it only by the advice that created it, so the
  cancellation names that advice and is sent after it. One cancellation per agreement:
  its reference is derived from (account, agreement), so a repeat finds the first.
- An invoice needs the platform (it records consumption): refused offline with
  PLATFORM_UNAVAILABLE (503, retry later), and against an offline agreement with
  PEC_PROVISIONAL at any time: invoice the platform's agreement once reconciled. No stand-in
  policy allows an offline invoice.
"""
from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal
from typing import Any

from gateway.offline.journal import JournalError, OfflineEntry
from tiers_payant.model import eur, paris_day
from tiers_payant.parsing import parse_model
from tiers_payant.pec_request import check_pec_request, line_json
from tiers_payant.problems import Problem
from tiers_payant.schemas import CancelIn, PecRequest
from tiers_payant.tokens import bearer


def cancel_ids(client_id: str, pec_number: str) -> tuple[str, str]:
    """(journal reference, advice id) of the one cancellation of this agreement by this account."""
    digest = hashlib.sha256(f"{client_id}\x1fcancel\x1f{pec_number}".encode()).hexdigest()
    return "J-" + digest[:16], digest[32:64]


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
                                                      "token": bearer(authorization)},  # the platform's proof
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

    @staticmethod
    def invoice_refused(pec_number: str) -> Problem:
        if pec_number.startswith("J-"):
            return Problem("PEC_PROVISIONAL", "an offline agreement cannot be invoiced: invoice the platform's "
                           "agreement once this one is reconciled (GET it for its verdict)")
        return Problem("PLATFORM_UNAVAILABLE", "an invoice needs the platform, which cannot be reached; retry later")

    @staticmethod
    def _journal(fn):  # type: ignore[no-untyped-def]
        try:
            return fn()
        except JournalError:
            raise Problem("PLATFORM_UNAVAILABLE", "the journal cannot record this now; retry later") from None

