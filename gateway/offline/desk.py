"""The offline stand-in's shell: authenticate, check, compute, decide, journal, answer.

Used when the platform was not asked (`cause`: unreachable, timeout, breaker_open). The
decision itself is `standin.decide_offline` (pure); this module gathers its inputs from
the cached JWKS / revocations / policies and the journal, and writes every acceptance to
the journal *before* the answer leaves. Choices:
- every offline answer is `provisional: true`: the platform has the last word;
- amounts come from `compute_pec` with the card's guarantee level and no history
  (`check_renewal=False`): renewal is the platform's to judge at reconciliation;
- velocity counts only offline PECs (an eligibility check commits no money);
- a PEC sent with an Idempotency-Key gets a reference derived from (account, key), so a
  retried call finds its first answer in the journal instead of a second acceptance.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any, Callable

from gateway.offline.account_watch import AccountLimits, account_refusal, classify, refused_for_proofs
from gateway.offline.lookup_log import LookupLog
from gateway.offline.platform_snapshot import CachedPlatform
from gateway.offline.journal import (PLATFORM_PEC, Journal, JournalError, OfflineEntry, VelocityExceeded, VelocityLimit,
                             new_reference)
from gateway.offline.life import OfflineLife
from gateway.offline.pec_checks import offline_request, price_offline, refused_answer
from tiers_payant.pec_request import check_pec_request, line_json
from gateway.offline.decide import OfflineCounts, decide_offline
from tiers_payant.cards import verify_card
from tiers_payant.httpkit import log_event
from tiers_payant.idempotency import fingerprint, reused
from tiers_payant.secrets_at_rest import installation_key, seal
from tiers_payant.model import eur, paris_day
from tiers_payant.parsing import parse_model
from tiers_payant.privacy import beneficiary_key
from tiers_payant.problems import Problem
from tiers_payant.schemas import EligibilityRequest, PecRequest
from tiers_payant.tokens import Principal, bearer, verify_token

log = logging.getLogger("gateway.offline.desk")


class OfflineDesk:
    def __init__(self, settings, cached: CachedPlatform, journal: Journal,
                 clock: Callable[[], float] = time.time, lookups: LookupLog | None = None) -> None:
        self.s, self.cached, self.journal, self.clock = settings, cached, journal, clock
        self.lookups = lookups
        self.journal_key = installation_key(settings.journal_key_path)
        self.account_limits = AccountLimits(settings.offline_account_window_s, settings.offline_account_max_failed_proofs,
                                            settings.offline_account_max_distinct)

    def principal(self, authorization: str | None) -> Principal:
        token = bearer(authorization)
        keys = self.cached.keys("token")
        if keys is None:
            raise Problem("PLATFORM_UNAVAILABLE", "the platform cannot be reached and its keys were never cached")
        p = verify_token(token, keys, self.clock())
        revocations = self.cached.revocations()
        if revocations is not None and p.client_id in revocations.accounts:
            raise Problem("ACCOUNT_SUSPENDED", "this account is suspended")
        if revocations is not None and p.credential_version < revocations.credential_floor(p.client_id):
            raise Problem("UNAUTHORIZED", "this token was issued before the account's credentials were reset;"
                                          " log in again", headers={"WWW-Authenticate": 'Bearer realm="tiers-payant",'
                                                                                      ' error="invalid_token"'})
        return p

    # -- eligibility -----------------------------------------------------------------
    def eligibility(self, raw: bytes, authorization: str | None, cause: str) -> dict[str, Any]:
        p = self.principal(authorization)
        req = parse_model(EligibilityRequest, raw)
        now = self.clock()
        return self._watched(p, req, "eligibility", authorization, now, cause,
                             lambda: self._eligibility(p, req, raw, authorization, cause, now))

    def _eligibility(self, p: Principal, req: EligibilityRequest, raw: bytes, authorization: str | None,
                     cause: str, now: float) -> dict[str, Any]:
        on = req.date or paris_day(now)
        card, error = verify_card(req.card, self.cached.card_key, self.cached.amc_known)
        policy = self.cached.policy(card.amc) if card else None
        d = decide_offline(card, error, offline_request(req), policy, self.cached.revocations(),
                           OfflineCounts(0, Decimal(0)), now, today=on)
        base = {"mode": "offline", "provisional": True, "request_id": uuid.uuid4().hex, "offline_cause": cause}
        if not d.accepted or card is None:
            return self._logged("eligibility", {"decision": "not_eligible", "reason": d.reason, "coverage": None,
                                                "journal_reference": None, **base}, cause)
        ref = new_reference()
        answer = {"decision": "eligible", "reason": None, "journal_reference": ref, **base,
                  "coverage": {"domain": req.domain, "level": card.guarantee(req.domain),
                               "valid_to": card.valid_to.isoformat(), "responsable": card.responsable}}
        entry = OfflineEntry(uuid.uuid4().hex, "eligibility", now, card.amc, card.serial, self._bkey(req),
                             req.domain, Decimal(0), cause, {"answer": answer}, p.client_id)
        entry = self._sealed(entry, raw, card, authorization)
        return self._journaled(entry, ref, answer, {"decision": "not_eligible", "coverage": None, **base})

    # -- PEC -------------------------------------------------------------------------
    def pec(self, raw: bytes, authorization: str | None, cause: str, idem_key: str | None,
            upstream_key: str | None = None) -> dict[str, Any]:
        """`idem_key` is the professional's Idempotency-Key; `upstream_key` the one the
        gateway sent online for this request (the same, or one it made): the advice carries
        it, so a PEC the platform decided online before the cut is not decided twice."""
        p = self.principal(authorization)
        req = parse_model(PecRequest, raw)
        now = self.clock()
        lines = check_pec_request(req, p, req.date or paris_day(now))
        return self._watched(p, req, "pec", authorization, now, cause,
                             lambda: self._pec(p, req, lines, raw, authorization, cause, idem_key, upstream_key, now))

    def _pec(self, p: Principal, req: PecRequest, lines, raw: bytes, authorization: str | None, cause: str,
             idem_key: str | None, upstream_key: str | None, now: float) -> dict[str, Any]:
        on = req.date or paris_day(now)
        ref, advice_id = self._ids(p.client_id, idem_key)
        body_sha = fingerprint(raw)
        if idem_key:
            replay = self._replay(ref, p.client_id, body_sha)
            if replay is not None:
                return replay
        bkey = self._bkey(req)
        card, result, policy, refused, base, total = self.priced(req, lines, cause, now, on, bkey)
        if refused is not None:
            if idem_key:  # a copy with the same key gets this very answer, not a decision of its own
                refused = self._keep_first(ref, p.client_id, body_sha, refused, now)
            return self._logged("pec", refused, cause)
        answer = {"decision": result.decision, "reason": result.reason,
                  "reasons": sorted({ln.reason for ln in result.lines if ln.reason}), "pec_number": ref,
                  "lines": [line_json(ln) for ln in result.lines], "amo": eur(result.amo), "amc": eur(result.amc),
                  "patient": eur(result.patient),
                  "expires_on": (on + timedelta(days=self.s.pec_validity_days)).isoformat(),
                  "journal_reference": ref, **base}
        entry = OfflineEntry(advice_id, "pec", now, card.amc, card.serial, bkey, req.domain, result.amc, cause,
                             {"answer": answer, "fingerprint": body_sha, "idempotency_key": upstream_key or idem_key},
                             p.client_id)
        entry = self._sealed(entry, raw, card, authorization)
        limit = VelocityLimit(now - policy.period_days * 86_400, policy.cumulative_count,
                              policy.cumulative_ceiling_eur) if policy else None
        return self._journaled(entry, ref, answer, refused_answer("PLATFORM_UNAVAILABLE", ["PLATFORM_UNAVAILABLE"],
                                                            None, total, base), limit)

    def priced(self, req: PecRequest, lines, cause: str, now: float, on, bkey: str | None):
        """The card's checks and the stand-in's amounts; `refused` is the answer (not yet logged)
        when declined. `bkey` None: a cotation, which commits nothing, so no velocity counts."""
        card, error = verify_card(req.card, self.cached.card_key, self.cached.amc_known)
        result = price_offline(req, card, lines, on)
        policy = self.cached.policy(card.amc) if card else None
        counts = self._counts(bkey, now - policy.period_days * 86_400) if policy and bkey else \
            OfflineCounts(0, Decimal(0))
        d = decide_offline(card, error, offline_request(req, lines), policy, self.cached.revocations(), counts, now,
                           amc_amount_eur=result.amc if result else Decimal(0), regulated_only=True, today=on)
        base = {"mode": "offline", "provisional": True, "request_id": uuid.uuid4().hex, "offline_cause": cause}
        total = sum((ln.price * ln.quantity for ln in lines), Decimal(0))
        refused = None
        if not d.accepted or result is None or result.decision == "refused" or card is None:
            reason = d.reason or (result.reason if result else "OFFLINE_DEFAULT_DECLINE")
            reasons = list(d.reasons) if not d.accepted else [reason]
            shown = result if d.accepted else None  # lines priced for a card that was declined would mislead
            refused = refused_answer(reason, reasons, shown, total, base)
        return card, result, policy, refused, base, total

    def pec_status(self, reference: str, authorization: str | None) -> dict[str, Any]:
        p = self.principal(authorization)
        entry = self.journal.get(reference)
        if entry is None or entry["client_id"] != p.client_id or entry["operation"] != "pec":
            raise Problem("NOT_FOUND", "no PEC with this number for this account")
        a = entry["payload"]["answer"]
        status = {None: "provisional", "confirmed": "valid"}.get(entry["verdict"], entry["verdict"])
        life = OfflineLife(self)
        cancelled, invoiced = life.cancellation(p.client_id, reference), life.invoiced(p.client_id, reference)
        state = "cancelled" if cancelled else "rejected" if entry["verdict"] == "rejected" else \
            "invoiced" if invoiced and invoiced["verdict"] != "rejected" else "accepted"
        return {"pec_number": reference, "state": state, "invoice": invoiced,
                "cancellation": cancelled, "history": [], "status": status, "decision": a["decision"], "amo": a["amo"],
                "amc": a["amc"], "patient": a["patient"], "expires_on": a["expires_on"], "lines": a["lines"],
                "mode": "offline", "provisional": entry["state"] == "pending", "journal_reference": reference,
                "reconciliation": {"state": entry["state"], "verdict": entry["verdict"],
                                   "reason": entry["verdict_reason"], "platform_amc_eur": entry["platform_amc_eur"],
                                   "pec_number": entry["payload"].get(PLATFORM_PEC)}}

    def _sealed(self, entry: OfflineEntry, raw: bytes, card, authorization: str | None) -> OfflineEntry:
        """What reconciliation needs and no more, sealed (AES-GCM, key apart from the journal):
        the request with the card named by serial and AMC instead of the card itself (the
        platform knows its cards; the family on it is not ours to keep), the served
        beneficiary only, and the professional's token (the platform checks it). The journal
        drops the seal once the platform's verdict is recorded."""
        request = {k: v for k, v in json.loads(raw).items() if k != "card"}
        request["card_ref"] = {"serial": card.serial, "amc": card.amc}
        sealed = seal(self.journal_key, {"request": request, "token": bearer(authorization)}, entry.advice_id)
        return replace(entry, payload={**entry.payload, "sealed": sealed})

    # -- offline detection -----------------------------------------------------------
    def _watched(self, p: Principal, req: EligibilityRequest, op: str, authorization: str | None, now: float,
                 cause: str, decide: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The account's offline limits first (account_watch), then the decision; every
        offline lookup is noted, the declined ones to be replayed to the platform's detection."""
        if self.lookups is None:
            return decide()
        bkey = self._bkey(req)
        refusal = activity = None
        try:
            activity = self.lookups.activity(p.client_id, now - self.account_limits.window_s)
            refusal = account_refusal(activity, self.account_limits)
        except (sqlite3.Error, OSError) as exc:  # the watch fails open, loudly: the journal still bounds money
            log_event(log, "lookup_log_failed", logging.WARNING, error=str(exc)[:200])
        if refusal is not None:
            log_event(log, "offline_account_refused", logging.WARNING, client=p.client_id, reason=refusal)
            answer = self._account_refused(op, refusal, cause)
            # An account past its failed-proof limit that keeps asking is still probing: the
            # platform's detection counts each refused attempt as a failed proof (else the
            # replay shows it as harmless lookups and the prober escapes suspension). Past
            # the distinct-beneficiary limit only, it counts as a lookup of that person.
            ok, with_card = (False, True) if refused_for_proofs(activity, self.account_limits) else (True, True)
        else:
            answer = decide()
            ok, with_card = classify(answer.get("reason") if not answer.get("journal_reference") else None)
        try:
            self.lookups.record(p.client_id, bkey, ok, with_card, op, replay=not answer.get("journal_reference"),
                                token=bearer(authorization), at=now)
        except (sqlite3.Error, OSError) as exc:
            log_event(log, "lookup_log_failed", logging.WARNING, error=str(exc)[:200])
        return answer

    def _account_refused(self, op: str, reason: str, cause: str) -> dict[str, Any]:
        base = {"mode": "offline", "provisional": True, "request_id": uuid.uuid4().hex, "offline_cause": cause,
                "journal_reference": None}
        if op == "eligibility":
            return self._logged(op, {"decision": "not_eligible", "reason": reason, "coverage": None, **base}, cause)
        return self._logged(op, refused_answer(reason, [reason], None, Decimal(0), base), cause)

    # -- helpers ---------------------------------------------------------------------
    def _journaled(self, entry: OfflineEntry, ref: str, answer: dict, declined: dict,
                   velocity: VelocityLimit | None = None) -> dict[str, Any]:
        """Write first, answer after: no journal, no acceptance."""
        try:
            answer["journal_reference"], known = self.journal.record_once(entry, ref, velocity)
            if known is not None:  # a concurrent request with this Idempotency-Key recorded first
                return self._replayed(known, entry.payload.get("fingerprint"))
        except VelocityExceeded:  # a concurrent acceptance for the same beneficiary got there first
            return self._logged(entry.operation, {**declined, "reason": "OFFLINE_VELOCITY_EXCEEDED",
                                                  "reasons": ["OFFLINE_VELOCITY_EXCEEDED"],
                                                  "journal_reference": None}, entry.cause)
        except (JournalError, ValueError) as exc:
            log_event(log, "journal_write_failed", logging.ERROR, error=str(exc)[:200])
            return self._logged(entry.operation, {**declined, "reason": "PLATFORM_UNAVAILABLE",
                                                  "journal_reference": None}, entry.cause)
        return self._logged(entry.operation, answer, entry.cause, entry.beneficiary_key)

    def _logged(self, op: str, answer: dict, cause: str, bkey: str | None = None) -> dict[str, Any]:
        log_event(log, "offline_answer", op=op, decision=answer.get("decision") or answer.get("state"),
                  reason=answer.get("reason"),
                  cause=cause, reference=answer.get("journal_reference"), beneficiary=bkey)
        return answer

    def _bkey(self, req: EligibilityRequest) -> str:
        b = req.beneficiary
        return beneficiary_key(self.s.log_key, b.nir.upper(), b.birth_date, b.birth_rank)

    def _ids(self, client_id: str, idem_key: str | None) -> tuple[str, str]:
        if not idem_key:
            return new_reference(), uuid.uuid4().hex
        digest = hashlib.sha256(f"{client_id}\x1f{idem_key}".encode()).hexdigest()
        return "J-" + digest[:16], digest[32:64]

    def _replay(self, ref: str, client_id: str, body_sha: str) -> dict[str, Any] | None:
        try:
            known = self.journal.get(ref) or self.journal.keyed_answer(ref)
        except JournalError:
            return None
        if known is None or known["client_id"] != client_id:
            return None
        return self._replayed(known.get("payload") or known, body_sha)

    def _keep_first(self, ref: str, client_id: str, body_sha: str, answer: dict, now: float) -> dict[str, Any]:
        try:
            kept = self.journal.remember_answer(ref, client_id, body_sha, answer, now)
        except JournalError:
            return answer  # a decline that could not be kept is still a decline
        return self._replayed(kept, body_sha)

    @staticmethod
    def _replayed(payload: dict[str, Any], body_sha: str | None) -> dict[str, Any]:
        if payload.get("fingerprint", payload.get("body_sha256")) != body_sha:
            raise reused()
        return payload["answer"]

    def replay_online_retry(self, raw: bytes, authorization: str | None, idem_key: str) -> dict[str, Any] | None:
        """Before a PEC with the professional's key goes online: if that key already has an
        offline acceptance here, the retry gets that answer again, not a second decision."""
        try:
            p = self.principal(authorization)
        except Problem:
            return None  # let the platform judge the token
        ref, _ = self._ids(p.client_id, idem_key)
        return self._replay(ref, p.client_id, fingerprint(raw))

    def _counts(self, bkey: str, since: float) -> OfflineCounts:
        """Offline PECs of this beneficiary since `since` (eligibility entries must not eat
        the PEC velocity budget). A read failure counts as the limit reached (the safe side)."""
        try:
            count, amount = self.journal.counts(bkey, since, operation="pec")
        except JournalError:
            return OfflineCounts(10**6, Decimal(10**9))
        return OfflineCounts(count, amount)
