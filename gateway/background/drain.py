"""The drain: journal entries sent to the platform as advices, each verdict recorded.

Leases (journal.claim_batch) and the platform's idempotency on `advice_id` make it exactly
once: a crash re-sends at most a leased batch, which the platform recognises. It never
blocks on one bad batch:
- batches are bounded by count and by bytes (the platform refuses a body over 64 KiB);
- a permanent 4xx on a batch is bisected down to the advice that causes it, which is set
  aside as `failed` with its status and reason while the rest drains;
- a transient failure (5xx, transport, a `pending` answer) gives that batch back with a
  per-batch exponential back-off, and other entries keep draining;
- a 429 pauses the whole drain for its Retry-After: the platform asked us to slow down.

Pace (gateway.background.pacing): AIMD on the platform's answer time per advice and on the
live p95 of this worker's online calls; `drain_concurrency` batches are in flight at once
(the platform judges them on its several workers), each on a client of its own.
GW_DRAIN_PACING=fixed keeps the rate at GW_DRAIN_RATE_PER_S instead (the benchmark's
capacity run sets it very high).
"""
from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Callable

import requests

from gateway.background import pacing
from gateway.background.platform_client import PlatformAnswer, PlatformClient
from gateway.metrics import ADVICES, DRAIN_FAILURES
from gateway.offline.journal import VERDICTS, Journal, JournalError, Pending
from tiers_payant.failpoints import failpoint
from tiers_payant.httpkit import log_event
from tiers_payant.model import eur
from tiers_payant.secrets_at_rest import installation_key, unseal

log = logging.getLogger("gateway.background")
TRANSIENT_4XX = frozenset({401, 408, 409, 425, 429})  # worth sending again as they are


class Drainer:
    def __init__(self, settings, journal: Journal, client: PlatformClient, owner: str,
                 clock=time.time, rng: random.Random | None = None,
                 live_p95: Callable[[], float | None] | None = None,
                 extra_clients: list[PlatformClient] | None = None) -> None:
        self.s, self.journal, self.client, self.owner, self.clock = settings, journal, client, owner, clock
        self.rng = rng or random.Random()
        self.key = installation_key(settings.journal_key_path)
        self.paused_until = 0.0  # monotonic; set by a 429 or a transport failure
        self.last_error: str | None = None
        self.live_p95 = live_p95
        self.pace_cfg = pacing.config_of(settings)
        self.pace = pacing.start(self.pace_cfg)
        self.adaptive = getattr(settings, "drain_pacing", "aimd") == "aimd"
        concurrency = max(1, int(getattr(settings, "drain_concurrency", 1)))
        self.clients = [client, *(extra_clients if extra_clients is not None
                                  else [PlatformClient(settings) for _ in range(concurrency - 1)])][:concurrency]
        self._pool = ThreadPoolExecutor(len(self.clients), thread_name_prefix="gateway-drain") \
            if len(self.clients) > 1 else None

    @property
    def rate_per_s(self) -> float:
        return self.pace.rate_per_s if self.adaptive else self.s.drain_rate_per_s

    def drain_once(self, stop: threading.Event) -> int:
        """Send up to `drain_concurrency` batches at once; pace so that advices leave at
        most at the current rate. Returns how many advices were sent (answered or not)."""
        if time.monotonic() < self.paused_until:
            return 0
        started = time.monotonic()
        batches, claimed = [], set()
        # At a low rate a full batch would mean a long wait before the next one (and the next
        # pacing step): about two rounds a second at any rate.
        size = max(1, min(self.s.drain_batch, int(self.rate_per_s / 2 / len(self.clients)))) \
            if self.adaptive else self.s.drain_batch
        for _ in self.clients:
            batch = self.journal.claim_batch(size, self.s.drain_lease_s, self.clock(), self.owner,
                                             max_bytes=self.s.drain_batch_bytes)
            batch = [p for p in batch if p.advice_id not in claimed]  # a lease shorter than a claim
            if not batch:
                break
            claimed.update(p.advice_id for p in batch)
            batches.append(batch)
        if not batches:
            if self.adaptive and self.live_p95 is not None:
                self.pace = pacing.idle(self.pace, self.live_p95())
            return 0
        failpoint("drain_leased")  # crash tests: killed with a batch leased, nothing sent yet
        self.last_error = None
        if len(batches) == 1 or self._pool is None:
            outcomes = [self._timed(batches[0], self.clients[0])] + \
                [self._timed(b, self.clients[0]) for b in batches[1:]]
        else:
            outcomes = list(self._pool.map(self._timed, batches, self.clients[:len(batches)]))
        sent = sum(len(b) for b in batches)
        self._repace(outcomes, sent, time.monotonic() - started)
        stop.wait(max(0.0, sent / self.rate_per_s - (time.monotonic() - started)))
        return sent

    def _timed(self, batch: list[Pending], client: PlatformClient) -> tuple[bool, int, float]:
        t0 = time.monotonic()
        answered = self._send(batch, client)
        return answered, len(batch), time.monotonic() - t0

    def _repace(self, outcomes: list[tuple[bool, int, float]], sent: int, elapsed_s: float) -> None:
        if not self.adaptive:
            return
        was_healthy = self.pace.healthy
        if not all(ok for ok, _, _ in outcomes):
            self.pace = pacing.strained(self.pace, self.pace_cfg, time.monotonic())
        else:
            n = sum(k for _, k, _ in outcomes)
            seconds = max(t for _, _, t in outcomes) * len(outcomes)  # the batches ran side by side
            live = self.live_p95() if self.live_p95 is not None else None
            self.pace = pacing.answered(self.pace, self.pace_cfg, n, seconds, sent / max(elapsed_s, 1e-6), live,
                                        time.monotonic())
        if self.pace.healthy != was_healthy:  # once per turn, not per batch
            log_event(log, "drain_pace", logging.INFO, rate_per_s=round(self.pace.rate_per_s, 1),
                      healthy=self.pace.healthy)

    def _send(self, batch: list[Pending], client: PlatformClient | None = None) -> bool:
        """True when the platform answered (verdicts or a permanent refusal), False on strain."""
        client = client or self.client
        try:
            results = client.post_json("/v1/advices", {"advices": [advice(p, self.key) for p in batch]})["results"]
        except PlatformAnswer as exc:
            return self._refused(batch, exc, client)
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            self._transient(batch, f"{type(exc).__name__} from POST /v1/advices", pause=True)
            return False
        failpoint("drain_answered")  # crash tests: the platform judged, the verdicts not yet recorded
        recorded = sum(self._verdict(r) for r in results)
        answered = {r.get("advice_id") for r in results if r.get("verdict") in VERDICTS}
        unanswered = [p for p in batch if p.advice_id not in answered]
        if unanswered:  # "pending" (another copy is being judged) or missing: ask again later
            self._pending(unanswered)
        log_event(log, "drained", batch=len(batch), recorded=recorded)
        return True

    def _refused(self, batch: list[Pending], exc: PlatformAnswer, client: PlatformClient | None = None) -> bool:
        if exc.status == 429:
            self._transient(batch, str(exc), pause=True, retry_after=exc.retry_after)
            return False
        if exc.status >= 500 or exc.status in TRANSIENT_4XX:
            self._transient(batch, str(exc))
            return False
        if len(batch) > 1:  # a permanent refusal: find the advice that causes it
            log_event(log, "drain_batch_refused", logging.WARNING, error=str(exc), batch=len(batch),
                      action="bisect")
            half = len(batch) // 2
            self._send(batch[:half], client)
            self._send(batch[half:], client)
            return True
        p = batch[0]
        self.journal.set_aside(p.advice_id, exc.status, str(exc), self.clock())
        DRAIN_FAILURES.labels("set_aside").inc()
        log_event(log, "advice_set_aside", logging.ERROR, reference=p.reference, status=exc.status,
                  code=exc.code, error=str(exc))
        return True

    def _transient(self, batch: list[Pending], error: str, pause: bool = False,
                   retry_after: str | None = None) -> None:
        attempts = max(p.attempts for p in batch)
        delay = self._backoff(attempts)
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        self.journal.release([p.advice_id for p in batch], self.clock() + delay)
        if pause:
            self.paused_until = time.monotonic() + delay
        self.last_error = error
        DRAIN_FAILURES.labels("transient").inc()
        log_event(log, "drain_send_failed", logging.WARNING, error=error, batch=len(batch), attempts=attempts,
                  retry_in_s=round(delay, 2))

    def _pending(self, batch: list[Pending]) -> None:
        delay = self._backoff(max(p.attempts for p in batch))
        self.journal.release([p.advice_id for p in batch], self.clock() + delay, pending_answer=True)
        DRAIN_FAILURES.labels("pending").inc(len(batch))
        for p in batch:
            if p.attempts >= self.s.drain_pending_warn_after:
                log_event(log, "advice_still_pending", logging.WARNING, reference=p.reference, attempts=p.attempts)

    def _backoff(self, attempts: int) -> float:
        """Full-jitter exponential back-off (half to all of base * 2^(attempts-1), capped)."""
        ceiling = min(self.s.drain_backoff_max_s, self.s.drain_backoff_base_s * 2 ** max(0, attempts - 1))
        return ceiling * (0.5 + 0.5 * self.rng.random())

    def _verdict(self, r: dict) -> bool:
        if r.get("verdict") not in VERDICTS:
            return False
        amount = r.get("platform_amc_eur")
        try:
            ok = self.journal.record_verdict(r["advice_id"], r["verdict"], r.get("reason"),
                                             Decimal(amount) if amount is not None else None, self.clock(),
                                             pec_number=r.get("pec_number") if r["verdict"] != "rejected" else None)
        except (JournalError, ValueError, ArithmeticError) as exc:
            log_event(log, "verdict_not_recorded", logging.WARNING, error=str(exc)[:200])
            return False
        if ok:
            ADVICES.labels(r["verdict"]).inc()
        return ok


def advice(p: Pending, key: bytes | None = None) -> dict:
    e = p.entry
    sensitive = unseal(key, e.payload["sealed"], p.advice_id) if "sealed" in e.payload else e.payload
    out = {"advice_id": p.advice_id, "operation": e.operation, "at": e.at, "cause": e.cause,
           "reference": p.reference, "amc_eur": eur(e.amc_eur), "request": sensitive["request"],
           "client_id": e.client_id}
    if sensitive.get("token"):  # the professional's own proof: the platform checks it, not our word
        out["token"] = sensitive["token"]
    if e.payload.get("idempotency_key"):
        out["idempotency_key"] = e.payload["idempotency_key"]
    return out
