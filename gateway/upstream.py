"""The gateway's calls to the platform: pooled HTTP, timeouts, deadline, retries, breaker.

One `Upstream` per worker process; its `requests.Session` (an HTTPAdapter pool) is made
lazily per process, since sockets must not cross a fork. `call` is one gateway request:
a tenacity loop (`failures.retry_policy`) whose attempts all carry the same
Idempotency-Key, each attempt asking the shared breaker first and recording its outcome
after, in a `finally`. `naive` is the control group: one call, one long timeout.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Callable

import requests
from requests.adapters import HTTPAdapter
from tenacity import Retrying

from gateway.breaker import BreakerConfig
from gateway.breaker_shared import SharedBreaker
from gateway.failures import TransientUpstream, breaker_outcome, classify, parse_retry_after, retry_policy
from gateway.metrics import UPSTREAM_LATENCY
from gateway.settings import Settings


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str
    retry_after: str | None = None


class BreakerOpen(Exception):
    """The breaker let no call through: answer offline at once."""


def transport_error(exc: requests.RequestException) -> str:
    """Sort a requests exception into failures.TRANSPORT_ERRORS (+ "refused")."""
    if isinstance(exc, requests.Timeout):  # ConnectTimeout included
        return "timeout"
    text = str(exc).lower()
    if isinstance(exc, requests.ConnectionError):
        if "refused" in text:
            return "refused"  # nothing listens: the platform is down, no statistics needed
        return "reset" if ("reset" in text or "aborted" in text or "disconnected" in text) else "connect"
    return "protocol"  # chunked/content decoding, truncated body


class Upstream:
    def __init__(self, settings: Settings, breaker: SharedBreaker | None, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] | None = None,
                 adapter_factory: Callable[[], HTTPAdapter] | None = None) -> None:
        self.s, self.breaker, self.clock, self.sleep = settings, breaker, clock, sleep
        self.cfg: BreakerConfig = settings.breaker_config
        self._adapter_factory = adapter_factory or (lambda: HTTPAdapter(
            pool_connections=4, pool_maxsize=settings.pool_size, max_retries=0))
        self._session: requests.Session | None = None
        self._pid = 0
        self._lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        if self._session is None or self._pid != os.getpid():
            with self._lock:
                if self._session is None or self._pid != os.getpid():
                    session = requests.Session()
                    session.trust_env = False  # no proxies from the environment between us and the platform
                    session.mount("http://", self._adapter_factory())
                    session.mount("https://", self._adapter_factory())
                    self._session, self._pid = session, os.getpid()
        return self._session

    def _send(self, method: str, path: str, headers: dict, body: bytes | None, timeout) -> Reply:
        # Straight to the session's pooled adapter: Session.request would merge cookies,
        # environment proxies and hooks on every call, about half the gateway's own time.
        prep = requests.PreparedRequest()
        prep.prepare(method=method, url=self.s.platform_url + path, headers=headers, data=body)
        r = self.session.get_adapter(prep.url).send(prep, timeout=timeout)
        return Reply(r.status_code, r.content, r.headers.get("Content-Type", "application/json"),
                     r.headers.get("Retry-After"))

    # -- full resilience -----------------------------------------------------------------
    def call(self, method: str, path: str, headers: dict, body: bytes | None = None,
             operation: str = "other") -> Reply:
        """A final answer (2xx / 4xx other than 408, 429), or raises BreakerOpen or
        TransientUpstream (its `reply` attribute holds the platform's last answer, if any)."""
        started = self.clock()
        policy = retry_policy(self.s.max_attempts, self.s.deadline_s, self.s.backoff_base_s, self.s.backoff_max_s,
                              clock=self.clock, started_at=started, sleep=self.sleep)
        failed: list[TransientUpstream] = []
        try:
            for attempt in Retrying(**policy):
                with attempt:
                    try:
                        reply = self._attempt(method, path, headers, body, operation, started)
                    except TransientUpstream as exc:
                        failed.append(exc)
                        raise
        except BreakerOpen:
            if failed:  # the platform was asked and failed; the breaker only stopped the retries
                raise failed[-1] from None
            raise
        return reply

    def _attempt(self, method: str, path: str, headers: dict, body: bytes | None, operation: str,
                 started: float) -> Reply:
        if self.breaker is not None and not self._may_call():
            raise BreakerOpen()
        remaining = self.s.deadline_s - (self.clock() - started)
        t0 = self.clock()
        outcome, reply, error = "failure", None, None
        try:
            try:
                reply = self._send(method, path, headers, body,
                                   (self.s.connect_timeout_s, max(0.01, min(self.s.read_timeout_s, remaining))))
            except requests.RequestException as exc:
                error = transport_error(exc)
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

    def _may_call(self) -> bool:
        """Live traffic asks the breaker only while it is closed: half-open probing is the
        background prober's job (short timeouts, no professional waiting on it). If no
        prober has closed it for a while (it died, or none runs), live calls probe too."""
        assert self.breaker is not None
        return self.breaker.allow(probe_after_s=self.cfg.open_s + 3.0)

    def platform_answers(self) -> bool:
        """For /readyz: a quick look, outside the breaker and the retries."""
        try:
            r = self.session.get(self.s.platform_url + "/healthz", timeout=(self.s.connect_timeout_s, 0.5))
        except requests.RequestException:
            return False
        return r.status_code < 500

    # -- naive: the control group ------------------------------------------------------
    def naive(self, method: str, path: str, headers: dict, body: bytes | None = None,
              operation: str = "other") -> Reply:
        """One call, one long timeout; raises requests exceptions as they come."""
        t0 = time.perf_counter()
        outcome = "crash"
        try:
            reply = self._send(method, path, headers, body, self.s.naive_timeout_s)
            outcome = str(reply.status)
            return reply
        except requests.RequestException as exc:
            outcome = transport_error(exc)
            raise
        finally:
            UPSTREAM_LATENCY.labels(operation, outcome).observe(time.perf_counter() - t0)


def _looks_like_json(body: bytes) -> bool:
    stripped = body.strip()
    return len(stripped) >= 2 and stripped[:1] in (b"{", b"[") and stripped[-1:] in (b"}", b"]")
