"""The platform's use cases: rights check, PEC, status, advices.

A thin layer between the HTTP blueprint and the pure core (population, rights, coverage):
it looks facts up (population, store), calls the core and records what must be recorded.
"""
from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from tiers_payant.cards import verify_card
from tiers_payant.coverage import History, QuoteLine, compute_pec
from tiers_payant.model import eur, money, paris_day
from tiers_payant.pec_request import (check_pec_request, line_json, prescription, quote_lines, renewal_facts,
                                      request_problem)
from tiers_payant.privacy import beneficiary_key
from tiers_payant.failpoints import failpoint
from tiers_payant.idempotency import IN_PROGRESS_WAIT_S, fingerprint, in_progress, reused
from tiers_payant.problems import FieldError, Problem
from tiers_payant.schemas import AdviceIn, EligibilityRequest, PecRequest
from tiers_payant.tokens import Principal, token_identity, verify_token

from .keys import Keyring
from .pec_advices import judge_cancel, judge_invoice
from .pec_life import held, reserve
from .population import Population, card_of
from .rights import Rights, decide_rights
from .settings import Settings
from .store import Store


ADVICE_CLOCK_SKEW_S = 300.0  # a gateway's clock may run this far ahead of ours
TOKEN_LEEWAY_S = 60.0  # a token's iat may be this far after the decision (clocks differ)
ADVICES_PER_TX = 16  # advices judged per write transaction (see Platform.advices)


@dataclass
class Platform:
    settings: Settings
    population: Population
    store: Store
    keys: Keyring

    def today(self, now: float) -> date:
        return self.settings.reference_date or paris_day(now)

    def public_key(self, kid: str):
        return self.keys.public_key(kid, time.time())

    def amc_known(self, number: str) -> bool:
        return self.population.amc_by_number(number) is not None

    def bkey(self, nir: str, birth_date: date, birth_rank: int) -> str:
        return beneficiary_key(self.settings.log_key, nir, birth_date, birth_rank)

    # ---- rights ----
    def rights(self, req: EligibilityRequest, on: date, at: float | None = None, card=None) -> Rights:
        """`card`: already known (an advice names the card by serial), else verified from req.card."""
        card, error = (card, None) if card is not None else verify_card(req.card, self.public_key, self.amc_known)
        contract = None
        revoked = False
        if card is not None:
            index = self.population.index_of_member(card.member)
            contract = self.population.contract(index) if index is not None else None
            revoked_at = self.store.card_revoked_at(card.serial)
            revoked = revoked_at is not None and (at is None or revoked_at <= at)
        b = req.beneficiary
        return decide_rights(card, error, contract, nir=b.nir, birth_date=b.birth_date, birth_rank=b.birth_rank,
                             domain=req.domain, on=on, card_revoked=revoked)

    def eligibility(self, req: EligibilityRequest, now: float) -> dict:
        on = req.date or self.today(now)
        r = self.rights(req, on)
        return {"decision": r.decision, "reason": r.reason, "mode": "online", "provisional": False,
                "coverage": r.coverage(req.domain) if r.eligible else None, "request_id": uuid.uuid4().hex}

    # ---- PEC ----
    def _history(self, rights: Rights, on: date) -> History:
        b = rights.beneficiary
        stored = held(self.store, self.bkey(b.nir, b.birth_date, b.birth_rank), on)  # consumed or reserved

        def latest(derived: date | None, item: str) -> date | None:
            d = date.fromisoformat(stored[item]) if item in stored else None
            return max(filter(None, (derived, d)), default=None)
        return History(latest(b.last_glasses, "glasses"), latest(b.last_hearing_left, "hearing_left"),
                       latest(b.last_hearing_right, "hearing_right"), latest(None, "frame"), latest(None, "lenses"))

    def judge_pec(self, req: PecRequest, lines: list[QuoteLine], on: date, at: float | None = None, card=None):
        r = self.rights(req, on, at, card)
        if not r.eligible:
            return r, None
        c, b = r.contract, r.beneficiary
        result = compute_pec(req.domain, lines, level=dict(c.guarantees).get(req.domain, "ECO"),
                             responsable=c.responsable, birth_date=b.birth_date, on=on, history=self._history(r, on),
                             contract_type=c.contract_type, amo_regime=req.amo_regime, territory=req.territory,
                             renewal=renewal_facts(req), prescription=prescription(req))
        return r, result

    def pec(self, req: PecRequest, principal: Principal, idem_key: str | None, now: float,
            raw: bytes) -> tuple[dict, bytes, bool]:
        """(answer, its JSON bytes, replayed). One write transaction holds the key check, the
        judgment, the record and the stored answer: of concurrent requests with one key the
        first decides and the others, waiting on the write lock, replay its bytes; of
        concurrent PECs for one beneficiary the second sees the first's consumption."""
        on = req.date or self.today(now)
        lines = check_pec_request(req, principal, on)
        fp = fingerprint(raw)
        try:
            with self.store.tx(wait_s=IN_PROGRESS_WAIT_S) as db:
                if idem_key:
                    known = db.execute("SELECT fingerprint, body FROM idempotency WHERE client_id=? AND idem_key=?",
                                       (principal.client_id, idem_key)).fetchone()
                    if known:
                        if known["fingerprint"] != fp:
                            raise reused()
                        return json.loads(known["body"]), bytes(known["body"]), True
                r, result = self.judge_pec(req, lines, on)
                answer = self._answer(req, r, result, on)
                body = json.dumps(answer).encode()
                if result is not None and result.decision != "refused":
                    self._record_pec(db, answer, req, r, result, principal.client_id, idem_key, fp, now, on)
                if idem_key:
                    self._remember(db, principal.client_id, idem_key, fp, body, now)
                return answer, body, False
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            if idem_key:
                raise in_progress() from None
            raise Problem("SERVICE_UNAVAILABLE", "the platform is busy; retry", headers={"Retry-After": "1"}) from None

    @staticmethod
    def _remember(db, client_id: str, idem_key: str, fp: str, body: bytes, now: float) -> None:
        db.execute("INSERT INTO idempotency (client_id, idem_key, fingerprint, operation, status, body, created_at)"
                   " VALUES (?,?,?,?,?,?,?)", (client_id, idem_key, fp, "pec", 200, body, now))

    def _answer(self, req: PecRequest, r: Rights, result, on: date) -> dict:
        base = {"mode": "online", "provisional": False, "request_id": uuid.uuid4().hex}
        if result is None:
            zero = eur(Decimal(0))
            return {"decision": "refused", "reason": r.reason, "reasons": [r.reason], "pec_number": None,
                    "lines": [], "amo": zero, "amc": zero, "patient": eur(sum((l.price * l.quantity for l in req.lines), Decimal(0))),
                    "expires_on": None, **base}
        lines = [line_json(ln) for ln in result.lines]
        accepted = result.decision != "refused"
        return {"decision": result.decision, "reason": result.reason,
                "reasons": sorted({l.reason for l in result.lines if l.reason}),
                "pec_number": ("PEC-" + uuid.uuid4().hex[:16].upper()) if accepted else None,
                "lines": lines, "amo": eur(result.amo), "amc": eur(result.amc), "patient": eur(result.patient),
                "expires_on": (on + timedelta(days=self.settings.pec_validity_days)).isoformat() if accepted else None,
                **base}

    def _record_pec(self, db, answer, req, r, result, client_id, idem_key, body_hash, now, on) -> None:
        b = r.beneficiary
        key = self.bkey(b.nir, b.birth_date, b.birth_rank)
        items = set()
        for q, l in zip(req.lines, result.lines):
            if l.status == "accepted":
                items.add(("lenses" if q.eye else "frame") if req.domain == "OPTI" else f"hearing_{q.ear}")
        db.execute("INSERT INTO pecs (pec_number, client_id, idem_key, body_hash, amc, created_at, expires_on, answer)"
                   " VALUES (?,?,?,?,?,?,?,?)", (answer["pec_number"], client_id, idem_key, body_hash,
                                                 r.contract.amc.number, now, answer["expires_on"], json.dumps(answer)))
        reserve(db, answer["pec_number"], key, sorted(items), on, answer["expires_on"], now)  # see pec_life

    # ---- advices: offline decisions replayed by a gateway ----
    def advice_principal(self, db, a: AdviceIn) -> tuple[Principal | None, str | None]:
        """The professional behind an advice, from its own token, never from the sender's word:
        (principal, None) when the token was issued by us to that professional and in force at
        the decision's time (signed, not expired then, issued before it, not superseded by a
        reset, account not suspended then); else (None, reason)."""
        if not a.token:
            return None, "ADVICE_CREDENTIAL_INVALID"
        try:
            p = verify_token(a.token, self.keys.token_keys(a.at), a.at)  # expiry judged at the decision's time
        except Problem:
            return None, "ADVICE_CREDENTIAL_INVALID"
        issued = float(token_identity(a.token).get("iat") or 0)
        if issued > a.at + TOKEN_LEEWAY_S or (a.client_id is not None and a.client_id != p.client_id):
            return None, "ADVICE_CREDENTIAL_INVALID"
        reset = db.execute("SELECT at FROM revocations WHERE kind='credential' AND value=?",
                           (f"{p.client_id}:{p.credential_version + 1}",)).fetchone()
        if reset is not None and reset["at"] <= a.at:
            return None, "ADVICE_CREDENTIAL_INVALID"
        account = db.execute("SELECT suspended_at FROM accounts WHERE client_id=?", (p.client_id,)).fetchone()
        if account is not None and account["suspended_at"] is not None and account["suspended_at"] <= a.at:
            return None, "ACCOUNT_SUSPENDED"
        return p, None

    def offline_lookups(self, lookups: list, now: float, observe) -> list[dict]:
        """Declined offline lookups a gateway replays for detection, each attributed to the
        account whose token it verifies (as advices), once per id, at its own time."""
        oldest = now - self.settings.advice_max_age_s
        out = []
        for item in lookups:
            if not (oldest <= item.at <= now + ADVICE_CLOCK_SKEW_S):
                out.append({"id": item.id, "accepted": False, "reason": "VALIDATION_FAILED"})
                continue
            try:
                p = verify_token(item.token, self.keys.token_keys(item.at), item.at)
            except Problem:
                out.append({"id": item.id, "accepted": False, "reason": "ADVICE_CREDENTIAL_INVALID"})
                continue
            with self.store.tx() as db:
                fresh = db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                                   ("offline-lookup:" + item.id, p.client_id)).rowcount == 1
            if fresh:
                observe(p.client_id, item)
            out.append({"id": item.id, "accepted": True, "reason": None, "duplicate": not fresh})
        return out

    def judge_advice(self, db, a: AdviceIn, now: float, p: Principal | None = None) -> dict:
        """Judged as if it had come online at its time, inside the caller's transaction, for
        the professional `p` its token names (advice_principal)."""
        if a.operation in ("cancel", "invoice"):  # the PEC's life offline (simulator.pec_life), for the token's account
            if p is None:
                p, refused = self.advice_principal(db, a)
                if p is None:
                    return {"verdict": "rejected", "reason": refused, "platform_amc_eur": "0.00"}
            if a.operation == "invoice":
                return judge_invoice(self, db, a, now, p.client_id,
                                     money(Decimal(self.settings.invoice_tolerance_eur)))
            return judge_cancel(self, db, a, now, p.client_id)
        on = self.today(a.at)
        model = PecRequest if a.operation == "pec" else EligibilityRequest
        request, card = self.advice_request(a.request)
        if request is None:
            return {"verdict": "rejected", "reason": "CARD_SIGNATURE_INVALID", "platform_amc_eur": "0.00"}
        try:
            req = model.model_validate(request, strict=False)
        except Exception:
            return {"verdict": "rejected", "reason": "VALIDATION_FAILED", "platform_amc_eur": "0.00"}
        if p is None:
            p, refused = self.advice_principal(db, a)
            if p is None:
                return {"verdict": "rejected", "reason": refused, "platform_amc_eur": "0.00"}
        a = a.model_copy(update={"client_id": p.client_id})
        if a.operation == "pec":
            try:  # the professional named in the PEC must be the token's, as online
                check_pec_request(req, p, req.date or on)
            except Problem as exc:  # FORBIDDEN: the PEC names another professional than the token
                reason = "ADVICE_CREDENTIAL_INVALID" if exc.code == "FORBIDDEN" else exc.code
                return {"verdict": "rejected", "reason": reason, "platform_amc_eur": "0.00"}
        if a.operation == "eligibility":
            r = self.rights(req, req.date or on, a.at, card)
            return {"verdict": "confirmed" if r.eligible else "rejected", "reason": r.reason, "platform_amc_eur": "0.00"}
        if a.idempotency_key:  # the gateway asked online with this key first: that decision, if any, stands
            known = db.execute("SELECT body FROM idempotency WHERE client_id=? AND idem_key=?",
                               (a.client_id, a.idempotency_key)).fetchone()
            if known:
                return self._verdict_of_online(json.loads(known["body"]), a)
        lines = quote_lines(req)
        problem = request_problem(req, lines, req.date or on)
        if problem is not None:
            return {"verdict": "rejected", "reason": problem.code, "platform_amc_eur": "0.00"}
        r, result = self.judge_pec(req, lines, req.date or on, a.at, card)
        answer = self._answer(req, r, result, req.date or on)
        if a.idempotency_key:  # a later online retry with the key replays this judgment
            self._remember(db, a.client_id, a.idempotency_key, fingerprint(json.dumps(a.request).encode()),
                           json.dumps(answer).encode(), now)
        if result is None or result.decision == "refused":
            reason = r.reason if result is None else result.reason
            return {"verdict": "rejected", "reason": reason, "platform_amc_eur": "0.00"}
        self._record_pec(db, answer, req, r, result, a.client_id, None, a.advice_id, now, req.date or on)
        return self._verdict(result.amc, result.reason, a, answer["pec_number"])

    def advice_request(self, request: dict) -> tuple[dict | None, object]:
        """An advice names its card by serial and AMC (`card_ref`), so the gateway's journal
        needs no copy of the card and of the family on it: the card is ours, rebuilt from
        the population. (request for the model, card), or (None, None) for a card we never
        issued; a request carrying the card itself is verified as online."""
        ref = request.get("card_ref")
        if ref is None:
            return request, None
        index = self.population.index_of_serial(ref.get("serial")) if isinstance(ref, dict) else None
        card = card_of(self.population.contract(index)) if index is not None else None
        if card is None or card.amc != ref.get("amc"):
            return None, None
        rest = {k: v for k, v in request.items() if k != "card_ref"}
        return {**rest, "card": "card-by-serial"}, card  # the model wants a string; the card is `card`

    def _verdict_of_online(self, answer: dict, a: AdviceIn) -> dict:
        if not answer.get("pec_number"):
            return {"verdict": "rejected", "reason": answer.get("reason"), "platform_amc_eur": "0.00"}
        return self._verdict(Decimal(answer["amc"]), answer.get("reason"), a, answer["pec_number"])

    @staticmethod
    def _verdict(amc: Decimal, reason: str | None, a: AdviceIn, pec_number: str) -> dict:
        verdict = "confirmed" if money(amc) >= money(a.amc_eur) else "adjusted"
        return {"verdict": verdict, "reason": reason if verdict == "confirmed" else (reason or "AMOUNT_ADJUSTED"),
                "platform_amc_eur": eur(amc), "pec_number": pec_number}

    def check_advice_times(self, advices: list[AdviceIn], now: float) -> None:
        """An advice's time must be finite and plausible: not in the future beyond clock skew,
        not older than the longest outage the platform accepts advices for."""
        oldest = now - self.settings.advice_max_age_s
        for i, a in enumerate(advices):
            if not (oldest <= a.at <= now + ADVICE_CLOCK_SKEW_S):
                raise Problem("VALIDATION_FAILED", "an advice's `at` is outside the accepted window", errors=[
                    FieldError(f"/advices/{i}/at", f"must be between {oldest:.0f} and {now + ADVICE_CLOCK_SKEW_S:.0f}"
                               f" (epoch seconds; at most {self.settings.advice_max_age_s / 86400:g} days old)")])

    def advices(self, advices: list[AdviceIn], now: float, observe=None) -> list[dict]:
        """Up to ADVICES_PER_TX advices per transaction: seen-check, judgment, PEC record and
        verdict commit together, so a crash at any instant leaves each advice judged once or
        not at all (a re-send is then judged afresh), and a concurrent copy waits on the write
        lock and finds the verdicts. Several per transaction because a commit per advice cost
        a tenth of the drain's capacity; not the whole batch, so a live PEC waits on the write
        lock for a few advices' judgment at most. `observe` sees each advice judged, after its
        commit."""
        self.check_advice_times(advices, now)
        out: list[dict] = []
        for start in range(0, len(advices), ADVICES_PER_TX):
            with self.store.tx() as db:
                chunk = [(a, *self._advice(db, a, now)) for a in advices[start:start + ADVICES_PER_TX]]
            for a, v, p in chunk:
                out.append(v)
                if observe is not None and p is not None:  # an offline lookup is the professional's lookup
                    observe(p.client_id, a, v)
        return out

    def _advice(self, db, a: AdviceIn, now: float) -> tuple[dict, object | None]:
        """(result, the professional it was judged for: None for a duplicate or a refused token)."""
        row = db.execute("SELECT verdict, reason, platform_amc_eur, pec_number FROM advices WHERE advice_id=?",
                         (a.advice_id,)).fetchone()
        if row is not None:  # a replay after a crash or a timeout: answer as before, never judge twice
            db.execute("UPDATE advices SET copies = copies + 1 WHERE advice_id=?", (a.advice_id,))
            return {"advice_id": a.advice_id, "verdict": row["verdict"], "reason": row["reason"],
                    "platform_amc_eur": row["platform_amc_eur"], "pec_number": row["pec_number"],
                    "duplicate": True}, None
        p, refused = self.advice_principal(db, a)
        v = (self.judge_advice(db, a, now, p) if p is not None
             else {"verdict": "rejected", "reason": refused, "platform_amc_eur": "0.00"})
        failpoint("advice_judged")  # crash tests: killed here, the whole transaction rolls back
        if v["verdict"] == "pending":  # its agreement's advice is not judged yet (pec_life.NOT_YET): later
            return {"advice_id": a.advice_id, "pec_number": None, **v, "duplicate": False}, None
        db.execute("INSERT INTO advices (advice_id, received_at, verdict, reason, platform_amc_eur, pec_number)"
                   " VALUES (?,?,?,?,?,?)", (a.advice_id, now, v["verdict"], v["reason"],
                                             v["platform_amc_eur"], v.get("pec_number")))
        return {"advice_id": a.advice_id, "pec_number": None, **v, "duplicate": False}, p
