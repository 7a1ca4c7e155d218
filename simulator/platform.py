"""The platform's use cases: rights check, PEC, status, advices.

A thin layer between the HTTP blueprint and the pure core (population, rights, coverage):
it looks facts up (population, store), calls the core and records what must be recorded.
"""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from tiers_payant.cards import verify_card
from tiers_payant.coverage import History, QuoteLine, compute_pec, line_problems
from tiers_payant.model import PEC_DOMAINS, eur, money, paris_day
from tiers_payant.pec_request import check_pec_request, line_json, quote_lines
from tiers_payant.privacy import beneficiary_key
from tiers_payant.problems import Problem
from tiers_payant.schemas import AdviceIn, EligibilityRequest, PecRequest
from tiers_payant.tokens import Principal

from .keys import private_key
from .population import Population
from .rights import Rights, decide_rights
from .settings import Settings
from .store import Store


@dataclass
class Platform:
    settings: Settings
    population: Population
    store: Store

    def today(self, now: float) -> date:
        return self.settings.reference_date or paris_day(now)

    def public_key(self, kid: str):
        if not kid.startswith("amc-") or self.population.amc_by_number(kid[4:]) is None:
            return None
        return private_key(self.settings.seed, kid).public_key()

    def bkey(self, nir: str, birth_date: date, birth_rank: int) -> str:
        return beneficiary_key(self.settings.log_key, nir, birth_date, birth_rank)

    # ---- rights ----
    def rights(self, req: EligibilityRequest, on: date, at: float | None = None) -> Rights:
        card, error = verify_card(req.card, self.public_key)
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
    def _history(self, rights: Rights) -> History:
        b = rights.beneficiary
        stored = self.store.consumption(self.bkey(b.nir, b.birth_date, b.birth_rank))

        def latest(derived: date | None, item: str) -> date | None:
            d = date.fromisoformat(stored[item]) if item in stored else None
            return max(filter(None, (derived, d)), default=None)
        return History(latest(b.last_glasses, "glasses"), latest(b.last_hearing_left, "hearing_left"),
                       latest(b.last_hearing_right, "hearing_right"))

    def judge_pec(self, req: PecRequest, lines: list[QuoteLine], on: date, at: float | None = None):
        r = self.rights(req, on, at)
        if not r.eligible:
            return r, None
        c, b = r.contract, r.beneficiary
        result = compute_pec(req.domain, lines, level=dict(c.guarantees).get(req.domain, "ECO"),
                             responsable=c.responsable, birth_date=b.birth_date, on=on, history=self._history(r))
        return r, result

    def pec(self, req: PecRequest, principal: Principal, idem_key: str | None, now: float, raw: bytes) -> dict:
        on = req.date or self.today(now)
        lines = check_pec_request(req, principal, on)
        body_hash = hashlib.sha256(raw).hexdigest()
        if idem_key:
            found = self.store.query("SELECT answer, body_hash FROM pecs WHERE client_id=? AND idem_key=?",
                                     (principal.client_id, idem_key))
            if found:
                if found[0]["body_hash"] != body_hash:
                    raise Problem("IDEMPOTENCY_CONFLICT", "this Idempotency-Key was used with another body")
                return json.loads(found[0]["answer"])
        r, result = self.judge_pec(req, lines, on)
        answer = self._answer(req, r, result, on)
        if result is not None and result.decision != "refused":
            self._record_pec(answer, req, r, result, principal.client_id, idem_key, body_hash, now, on)
        return answer

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

    def _record_pec(self, answer, req, r, result, client_id, idem_key, body_hash, now, on) -> None:
        b = r.beneficiary
        key = self.bkey(b.nir, b.birth_date, b.birth_rank)
        items = set()
        for q, l in zip(req.lines, result.lines):
            if l.status == "accepted":
                items.add("glasses" if req.domain == "OPTI" else f"hearing_{q.ear}")
        with self.store.tx() as db:
            db.execute("INSERT INTO pecs (pec_number, client_id, idem_key, body_hash, amc, created_at, expires_on, answer)"
                       " VALUES (?,?,?,?,?,?,?,?)", (answer["pec_number"], client_id, idem_key, body_hash,
                                                     r.contract.amc.number, now, answer["expires_on"], json.dumps(answer)))
            db.executemany("INSERT INTO consumption (beneficiary_key, item, on_date, source) VALUES (?,?,?,?)",
                           [(key, item, on.isoformat(), answer["pec_number"]) for item in sorted(items)])

    def pec_status(self, pec_number: str, principal: Principal) -> dict:
        rows = self.store.query("SELECT answer, client_id FROM pecs WHERE pec_number=?", (pec_number,))
        if not rows or rows[0]["client_id"] != principal.client_id:
            raise Problem("NOT_FOUND", "no PEC with this number for this account")
        answer = json.loads(rows[0]["answer"])
        expired = answer["expires_on"] and date.fromisoformat(answer["expires_on"]) < self.today(time.time())
        return {"pec_number": pec_number, "status": "expired" if expired else "valid", "decision": answer["decision"],
                "amo": answer["amo"], "amc": answer["amc"], "patient": answer["patient"],
                "expires_on": answer["expires_on"], "lines": answer["lines"]}

    # ---- advices: offline decisions replayed by a gateway ----
    def judge_advice(self, a: AdviceIn, now: float) -> dict:
        on = self.today(a.at)  # judged as if it had come online at its time
        model = PecRequest if a.operation == "pec" else EligibilityRequest
        try:
            req = model.model_validate(a.request, strict=False)
        except Exception:
            return {"verdict": "rejected", "reason": "VALIDATION_FAILED", "platform_amc_eur": "0.00"}
        if a.operation == "eligibility":
            r = self.rights(req, req.date or on, a.at)
            return {"verdict": "confirmed" if r.eligible else "rejected", "reason": r.reason, "platform_amc_eur": "0.00"}
        lines = quote_lines(req)
        if req.domain not in PEC_DOMAINS or line_problems(req.domain, lines, birth_date=req.beneficiary.birth_date,
                                                          on=req.date or on):
            return {"verdict": "rejected", "reason": "VALIDATION_FAILED", "platform_amc_eur": "0.00"}
        r, result = self.judge_pec(req, lines, req.date or on, a.at)
        if result is None or result.decision == "refused":
            reason = r.reason if result is None else result.reason
            return {"verdict": "rejected", "reason": reason, "platform_amc_eur": "0.00"}
        answer = self._answer(req, r, result, req.date or on)
        self._record_pec(answer, req, r, result, a.client_id, None, a.advice_id, now, req.date or on)
        verdict = "confirmed" if money(result.amc) >= money(a.amc_eur) else "adjusted"
        return {"verdict": verdict, "reason": result.reason if verdict == "confirmed" else (result.reason or "AMOUNT_ADJUSTED"),
                "platform_amc_eur": eur(result.amc), "pec_number": answer["pec_number"]}

    def advices(self, advices: list[AdviceIn], now: float) -> list[dict]:
        out = []
        for a in advices:
            # Claim the advice id first: of two concurrent copies only one is judged.
            with self.store.tx() as db:
                claimed = db.execute("INSERT OR IGNORE INTO advices (advice_id, received_at, verdict) VALUES (?,?,?)",
                                     (a.advice_id, now, "pending")).rowcount == 1
                if not claimed:
                    db.execute("UPDATE advices SET copies = copies + 1 WHERE advice_id=?", (a.advice_id,))
            if not claimed:  # a replay after a crash: answer as before, never judge twice
                row = self.store.query("SELECT verdict, reason, platform_amc_eur FROM advices WHERE advice_id=?",
                                       (a.advice_id,))[0]
                out.append({"advice_id": a.advice_id, "verdict": row["verdict"], "reason": row["reason"],
                            "platform_amc_eur": row["platform_amc_eur"], "duplicate": True})
                continue
            try:
                v = self.judge_advice(a, now)
            except BaseException:
                with self.store.tx() as db:  # let a later copy be judged
                    db.execute("DELETE FROM advices WHERE advice_id=? AND verdict='pending'", (a.advice_id,))
                raise
            with self.store.tx() as db:
                db.execute("UPDATE advices SET verdict=?, reason=?, platform_amc_eur=? WHERE advice_id=?",
                           (v["verdict"], v["reason"], v["platform_amc_eur"], a.advice_id))
            out.append({"advice_id": a.advice_id, **v, "duplicate": False})
        return out
