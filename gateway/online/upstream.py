"""The gateway's calls to the platform: pooled HTTP, timeouts, deadline, retries, breaker.

One `Upstream` per worker process, over one `PlatformHop` (kept-alive http.client
connections; see gateway.online.hop for why not requests on this path). `call` is one gateway
request: a tenacity loop (`failures.retry_policy`) whose attempts all carry the same
Idempotency-Key, each attempt asking the shared breaker first and recording its outcome
after, in a `finally`. `naive` is the control group: one call, one long timeout.
"""
from __future__ import annotations

import time
from typing import Callable, Protocol

from tenacity import Retrying

from gateway.online.breaker import BreakerConfig, config_of
from gateway.online.breaker_store import SharedBreaker
from gateway.online.failures import TransientUpstream, breaker_outcome, classify, parse_retry_after, retry_policy
from gateway.online.hedge import HedgeBudget, LateAnswers
from gateway.online.hop import Hedged, HopError, PlatformHop, Reply
from gateway.metrics import UPSTREAM_LATENCY
from gateway.settings import Settings

__all__ = ["BreakerOpen", "Hedged", "HopError", "Reply", "Transport", "Upstream"]


class Transport(Protocol):
    def request(self, method: str, path: str, headers: dict, body: bytes | None,
                timeout: float | tuple[float, float]) -> Reply: ...


class BreakerOpen(Exception):
    """The breaker let no call through: answer offline at once."""


class Upstream:
    def __init__(self, settings: Settings, breaker: SharedBreaker | None, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] | None = None,
                 transport: Transport | None = None) -> None:
        self.s, self.breaker, self.clock, self.sleep = settings, breaker, clock, sleep
        self.cfg: BreakerConfig = config_of(settings)
        self.transport: Transport = transport or PlatformHop(settings.platform_url, settings.pool_size)
        self.hedge = HedgeBudget(settings.hedge_factor, settings.hedge_min_s, settings.hedge_max_s,
                                 settings.hedge_window) if settings.hedge else None
        self.late = LateAnswers(settings.hedge_late_threads)

    def _send(self, method: str, path: str, headers: dict, body: bytes | None, timeout,
              hedge_s: float | None = None) -> Reply:
        if hedge_s is None:
            return self.transport.request(method, path, headers, body, timeout)
        return self.transport.request(method, path, headers, body, timeout, hedge_s=hedge_s)

    # -- full resilience -----------------------------------------------------------------
    def call(self, method: str, path: str, headers: dict, body: bytes | None = None,
             operation: str = "other", hedge: bool = False) -> Reply:
        """A final answer (2xx / 4xx other than 408, 429), or raises BreakerOpen,
        TransientUpstream (its `reply` attribute holds the platform's last answer, if any) or,
        with `hedge`, Hedged: no answer within the hedge budget (gateway.online.hedge); the
        exchange then completes on the late-answer pool."""
        started = self.clock()
        hedge_s = self.hedge.budget_s() if hedge and self.hedge is not None else None
        policy = retry_policy(self.s.max_attempts, self.s.deadline_s, self.s.backoff_base_s, self.s.backoff_max_s,
                              clock=self.clock, started_at=started, sleep=self.sleep)
        failed: list[TransientUpstream] = []
        try:
            for attempt in Retrying(**policy):
                with attempt:
                    try:
                        reply = self._attempt(method, path, headers, body, operation, started, hedge_s)
                    except TransientUpstream as exc:
                        failed.append(exc)
                        raise
        except BreakerOpen:
            if failed:  # the platform was asked and failed; the breaker only stopped the retries
                raise failed[-1] from None
            raise
        if hedge_s is not None and len(failed) == 0:
            self.hedge.observe(self.clock() - started)  # type: ignore[union-attr]
        return reply

    def _attempt(self, method: str, path: str, headers: dict, body: bytes | None, operation: str,
                 started: float, hedge_s: float | None = None) -> Reply:
        left = None if hedge_s is None else hedge_s - (self.clock() - started)
        if left is not None and left <= 0:  # retries used up the budget: stand in now
            raise Hedged(None)
        if self.breaker is not None and not self._may_call():
            raise BreakerOpen()
        remaining = self.s.deadline_s - (self.clock() - started)
        t0 = self.clock()
        outcome, reply, error = "failure", None, None
        try:
            try:
                reply = self._send(method, path, headers, body,
                                   (self.s.connect_timeout_s, max(0.01, min(self.s.read_timeout_s, remaining))), left)
            except HopError as exc:
                error = exc.kind
            except Hedged as exc:
                error = "hedged"  # recorded below as a failure: the first evidence of a cut
                self.late.submit(lambda: self._late(exc, operation, t0))
                raise
            if reply is not None and 200 <= reply.status < 300 and not _looks_like_json(reply.body):
                error, reply = "protocol", None  # a truncated or empty 2xx is no answer
            kind = classify(reply.status if reply else None, None if error is None else "connect")
            outcome = breaker_outcome(kind, self.clock() - t0, self.cfg, reply.status if reply else None)
        finally:
            elapsed = self.clock() - t0
            if self.breaker is not None:
                self.breaker.record(outcome)
            UPSTREAM_LATENCY.labels(operation, error or (str(reply.status) if reply else "crash")).observe(elapsed)
        if error == "refused" and self.breaker is not None:
            self.breaker.force_open()
        if kind in ("transient", "fatal"):
            exc = TransientUpstream(kind, reply.status if reply else None,
                                    parse_retry_after(reply.retry_after) if reply else None,
                                    "timeout" if error == "timeout" else error)
            exc.reply = reply  # type: ignore[attr-defined]
            raise exc
        assert reply is not None
        return reply

    def _late(self, hedged: Hedged, operation: str, t0: float) -> None:
        """The rest of a hedged exchange, on the late-answer pool. Its failure was recorded
        at the hedge; an answer that does come is recorded as the success it is."""
        try:
            reply = hedged.late.finish()
        except HopError as exc:
            UPSTREAM_LATENCY.labels(operation, "late_" + exc.kind).observe(self.clock() - t0)
            return
        except Exception:  # noqa: BLE001 - a background completion must not kill its pool thread
            return
        UPSTREAM_LATENCY.labels(operation, f"late_{reply.status}").observe(self.clock() - t0)
        if self.breaker is not None and reply.status < 500 and reply.status != 408:
            self.breaker.record("success")

    def _may_call(self) -> bool:
        """Live traffic asks the breaker only while it is closed: half-open probing is the
        background prober's job (short timeouts, no professional waiting on it). If no
        prober has closed it for a while (it died, or none runs), live calls probe too."""
        assert self.breaker is not None
        return self.breaker.allow(probe_after_s=self.cfg.open_s + 3.0)

    def platform_answers(self) -> bool:
        """For /readyz: a quick look, outside the breaker and the retries."""
        try:
            return self._send("GET", "/healthz", {"Accept": "application/json"}, None,
                              (self.s.connect_timeout_s, 0.5)).status < 500
        except HopError:
            return False

    # -- naive: the control group ------------------------------------------------------
    def naive(self, method: str, path: str, headers: dict, body: bytes | None = None,
              operation: str = "other") -> Reply:
        """One call, one long timeout; raises HopError as it comes."""
        t0 = time.perf_counter()
        outcome = "crash"
        try:
            reply = self._send(method, path, headers, body, self.s.naive_timeout_s)
            outcome = str(reply.status)
            return reply
        except HopError as exc:
            outcome = exc.kind
            raise
        finally:
            UPSTREAM_LATENCY.labels(operation, outcome).observe(time.perf_counter() - t0)


def _looks_like_json(body: bytes) -> bool:
    stripped = body.strip()
    return len(stripped) >= 2 and stripped[:1] in (b"{", b"[") and stripped[-1:] in (b"}", b"]")
