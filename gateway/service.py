"""Use cases of the gateway: ask the platform, or stand in for it (DESIGN.md section 5).

Online, the body and the professional's bearer token go through unchanged and the
platform's answer (2xx, or a 4xx problem) comes back as it is: the gateway does not parse
a request it does not need to judge, which keeps its added latency small. When the
platform gives no final answer (transport failure, timeout, 5xx after the retries) or
the breaker is open, the offline desk answers. A 429 that outlives the retries is
relayed: the platform is up and throttling this account, which is no reason to stand in.
Naive mode forwards once with a long timeout and maps transport errors to 502/504.

Hedge (gateway.online.hedge): a rights check or a PEC whose answer has not begun within the
hedge budget is answered by the stand-in at once (cause `timeout`), while the platform's
answer, if it comes, is read off the professional's thread. One truth survives: a PEC's
advice carries the Idempotency-Key sent online, and the platform judges an advice whose
key it already decided as that decision. A PEC status is never hedged: only the platform
knows it; nor a cancel (it changes the PEC) or an invoice (no stand-in).
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Callable

from gateway.online.failures import TransientUpstream, offline_cause
from gateway.metrics import REQUESTS
from gateway.offline.desk import OfflineDesk
from gateway.offline.life import OfflineLife
from gateway.online.upstream import BreakerOpen, Hedged, HopError, Reply, Upstream
from tiers_payant.problems import Problem
from tiers_payant.tokens import bearer

_DECISION = re.compile(rb'"decision":\s*"([a-z_]+)"')


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    mode: str = "online"
    retry_after: str | None = None  # relayed with a platform's 429
    www_authenticate: str | None = None  # relayed with a platform's 401


class GatewayService:
    def __init__(self, resilience: str, upstream: Upstream, offline: OfflineDesk | None) -> None:
        self.resilience, self.upstream, self.offline = resilience, upstream, offline
        self.life = OfflineLife(offline) if offline is not None else None

    def eligibility(self, raw: bytes, authorization: str | None) -> Answer:
        return self._forward("eligibility", "POST", "/v1/eligibility", raw, authorization, None, True,
                             lambda cause: self._offline_json(
                                 "eligibility", self.offline.eligibility(raw, authorization, cause)))

    def pec(self, raw: bytes, authorization: str | None, idem_key: str | None) -> Answer:
        # One key per gateway request, made before the retry loop: every attempt sends it.
        key = idem_key or uuid.uuid4().hex
        if idem_key and self.offline is not None and self.resilience == "full":
            known = self.offline.replay_online_retry(raw, authorization, idem_key)
            if known is not None:  # this key was accepted offline: the same answer, not a second decision
                return self._offline_json("pec", known)
        return self._forward("pec", "POST", "/v1/pec", raw, authorization, key, True,
                             lambda cause: self._offline_json(
                                 "pec", self.offline.pec(raw, authorization, cause, idem_key, key)))

    def pec_status(self, pec_number: str, authorization: str | None) -> Answer:
        if self.offline is not None and pec_number.startswith("J-"):  # an offline PEC: the journal knows it
            return self._offline_json("pec_status", self.offline.pec_status(pec_number, authorization))

        def unavailable(cause: str) -> Answer:
            raise Problem("PLATFORM_UNAVAILABLE", f"the platform cannot be asked ({cause}); retry later")
        return self._forward("pec_status", "GET", f"/v1/pec/{pec_number}", None, authorization, None, False,
                             unavailable)

    # -- the PEC's life (gateway.offline.life says what happens offline) --------------
    def quote(self, raw: bytes, authorization: str | None) -> Answer:
        return self._forward("quote", "POST", "/v1/quotes", raw, authorization, None, True,
                             lambda cause: self._offline_json("quote", self.life.quote(raw, authorization, cause)))

    def cancel(self, pec_number: str, raw: bytes, authorization: str | None, idem_key: str | None) -> Answer:
        if self.life is not None and pec_number.startswith("J-"):  # the platform knows it only by its advice
            return self._offline_json("cancel", self.life.cancel(pec_number, raw, authorization, None))
        # Not hedged: a cancel changes the PEC; it waits for the platform's word or its failure.
        return self._forward("cancel", "POST", f"/v1/pec/{pec_number}/cancel", raw or b"{}", authorization,
                             idem_key or uuid.uuid4().hex, False,
                             lambda cause: self._offline_json("cancel", self.life.cancel(pec_number, raw,
                                                                                         authorization, cause)))

    def invoice(self, pec_number: str, raw: bytes, authorization: str | None, idem_key: str | None) -> Answer:
        if pec_number.startswith("J-"):  # an offline agreement: the journal says what may be done with it
            bearer(authorization)
            if self.life is None:
                raise OfflineLife.invoice_refused(pec_number)
            outcome = self.life.invoice(pec_number, raw, authorization, None)
            if isinstance(outcome, dict):
                return self._offline_json("invoice", outcome)
            pec_number = outcome  # reconciled and agreed: invoiced online under the platform's number

        def unavailable(cause: str) -> Answer:
            raise OfflineLife.invoice_refused(pec_number)
        return self._forward("invoice", "POST", f"/v1/pec/{pec_number}/invoice", raw, authorization,
                             idem_key or uuid.uuid4().hex, False, unavailable)

    # -- plumbing --------------------------------------------------------------------
    def _forward(self, op: str, method: str, path: str, raw: bytes | None, authorization: str | None,
                 idem_key: str | None, hedge: bool, offline: Callable[[str], Answer]) -> Answer:
        bearer(authorization)  # no token, no call: answered here, as the platform would
        headers = {"Authorization": authorization or "", "Content-Type": "application/json",
                   "Accept": "application/json"}
        if idem_key:
            headers["Idempotency-Key"] = idem_key
        if self.resilience == "naive":
            return self._relay(op, self._naive(op, method, path, headers, raw))
        try:
            return self._relay(op, self.upstream.call(method, path, headers, raw, operation=op, hedge=hedge))
        except BreakerOpen:
            cause = "breaker_open"
        except Hedged:
            cause = "timeout"
        except TransientUpstream as exc:
            reply = getattr(exc, "reply", None)
            if exc.status == 429 and reply is not None:
                return self._relay(op, reply)
            cause = offline_cause(exc.error, False)
        return offline(cause)

    def _naive(self, op: str, method: str, path: str, headers: dict, raw: bytes | None) -> Reply:
        try:
            return self.upstream.naive(method, path, headers, raw, operation=op)
        except HopError as exc:
            self._count(op, "online", "error")
            if exc.kind == "timeout":
                raise Problem("UPSTREAM_TIMEOUT", "the platform did not answer in time") from None
            raise Problem("UPSTREAM_ERROR", "the platform could not be reached") from None

    def _relay(self, op: str, reply: Reply) -> Answer:
        body = reply.body
        if 200 <= reply.status < 300 and b'"mode"' not in body:
            try:  # an answer without `mode` (a PEC status): say where it came from
                doc = json.loads(body)
                if isinstance(doc, dict):
                    body = json.dumps({**doc, "mode": "online", "provisional": False}).encode()
            except ValueError:
                pass
        match = _DECISION.search(body, 0, 400) if reply.status < 300 else None
        self._count(op, "online", match.group(1).decode() if match else ("ok" if reply.status < 300 else "error"))
        return Answer(reply.status, body, reply.content_type, "online", reply.retry_after,
                      reply.www_authenticate if reply.status == 401 else None)

    def _offline_json(self, op: str, answer: dict) -> Answer:
        self._count(op, "offline", str(answer.get("decision") or answer.get("status") or "ok"))
        return Answer(200, json.dumps(answer).encode(), "application/json", "offline")

    @staticmethod
    def _count(op: str, mode: str, decision: str) -> None:
        REQUESTS.labels(op, mode, decision).inc()
