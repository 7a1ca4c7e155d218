"""Background work of one gateway, run by the leader worker only (gateway.background.leader).

Three duties:
- probe: every `probe_interval_s`, GET /healthz with a short timeout. Consecutive
  transport failures force the breaker open (a blackhole is known in well under a second,
  instead of after the statistics fill up with 1 s timeouts); while the breaker is open
  the probes are its half-open calls, so it closes within moments of the platform's return
  without a professional's request ever waiting on a probe.
- refresh: every `refresh_interval_s` while the breaker is closed, fetch the JWKS, the
  revocation list (incrementally, by version) and the stand-in policies into the caches.
- drain: while the breaker is closed and the platform answered the last refresh, send
  journal entries as advices in batches, at most `drain_rate_per_s`; record each verdict.
  Leases (journal.claim_batch) and the platform's idempotency on `advice_id` make it
  exactly once: a crash re-sends at most a leased batch, which the platform recognises.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from decimal import Decimal

import requests

from gateway.online.breaker_store import SharedBreaker
from gateway.offline.platform_snapshot import CachedPlatform
from gateway.offline.journal import VERDICTS, Journal, JournalError
from gateway.metrics import ADVICES, CACHE_REFRESHES
from gateway.background.platform_client import PlatformClient
from tiers_payant.httpkit import log_event
from tiers_payant.model import eur

log = logging.getLogger("gateway.background.tasks")
FULL_REFRESH_EVERY = 20  # an occasional full revocation list repairs any missed increment


class Background:
    def __init__(self, settings, breaker: SharedBreaker, cached: CachedPlatform, journal: Journal) -> None:
        self.s, self.breaker, self.cached, self.journal = settings, breaker, cached, journal
        self.client = PlatformClient(settings)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.platform_ok = False
        self._refreshes = 0

    def run(self, stop: threading.Event) -> None:
        """The leader's work; returns when `stop` is set."""
        prober = threading.Thread(target=self.probe_loop, args=(stop,), name="gateway-prober", daemon=True)
        prober.start()
        next_refresh = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= next_refresh:
                    if self.breaker.state() == "closed":
                        self.refresh_once()
                    next_refresh = time.monotonic() + self.s.refresh_interval_s
                sent = self.drain_once(stop) if self.platform_ok and self.breaker.state() == "closed" else 0
                if not sent:
                    stop.wait(0.2)
        finally:
            prober.join(2.0)

    # -- probe -------------------------------------------------------------------------
    def probe_loop(self, stop: threading.Event) -> None:
        client, failures = PlatformClient(self.s), 0
        while not stop.wait(self.s.probe_interval_s):
            failures = self.probe_once(client, failures)

    def probe_once(self, client: "PlatformClient", failures: int) -> int:
        probing = self.breaker.state() != "closed" and self.breaker.allow()
        ok, transport = client.healthz(self.s.probe_timeout_s)
        if probing:  # allowed: must be recorded
            self.breaker.record("success" if ok else "failure")
        failures = failures + 1 if transport else 0
        if failures >= self.s.probe_failures:
            self.breaker.force_open()
        return failures

    # -- refresh -----------------------------------------------------------------------
    def refresh_once(self) -> bool:
        ok = all([self._refresh("jwks", self._jwks), self._refresh("revocations", self._revocations),
                  self._refresh("standin_policy", self._policies)])
        if ok != self.platform_ok:
            log_event(log, "platform_refresh", ok=ok)
        self.platform_ok = ok
        self._refreshes += 1
        return ok

    def _refresh(self, name: str, fetch) -> bool:
        try:
            value = fetch()
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            CACHE_REFRESHES.labels(name, "failed").inc()
            log_event(log, "cache_refresh_failed", logging.DEBUG, cache=name, error=type(exc).__name__)
            return False
        self.cached.save(name, value, time.time())
        CACHE_REFRESHES.labels(name, "ok").inc()
        return True

    def _jwks(self) -> dict:
        doc = self.client.get_json("/v1/keys", auth=False)
        if not isinstance(doc.get("keys"), list):
            raise ValueError("no keys")
        return doc

    def _revocations(self) -> dict:
        known = self.cached.disk.load("revocations")
        full = known is None or self._refreshes % FULL_REFRESH_EVERY == 0
        since = 0 if full else int(known[0].get("version", 0))
        doc = self.client.get_json(f"/v1/revocations?since={since}")
        if since == 0 or known is None:
            cards, accounts = set(doc["cards"]), set(doc["accounts"])
        else:
            # Cards are never un-revoked; re-enabled accounts come as `restored_accounts`.
            cards = set(known[0]["cards"]) | set(doc["cards"])
            accounts = (set(known[0]["accounts"]) - set(doc.get("restored_accounts") or ())) | set(doc["accounts"])
        return {"version": int(doc["version"]), "cards": sorted(cards), "accounts": sorted(accounts)}

    def _policies(self) -> dict:
        doc = self.client.get_json("/v1/standin-policy")
        if not isinstance(doc.get("policies"), list):
            raise ValueError("no policies")
        return doc

    # -- drain -------------------------------------------------------------------------
    def drain_once(self, stop: threading.Event) -> int:
        """Send one batch; pace so that advices leave at most at `drain_rate_per_s`."""
        started = time.monotonic()
        try:
            batch = self.journal.claim_batch(self.s.drain_batch, self.s.drain_lease_s, time.time(), self.owner)
        except JournalError as exc:
            log_event(log, "drain_claim_failed", logging.WARNING, error=str(exc)[:200])
            return 0
        if not batch:
            return 0
        advices = [{"advice_id": p.advice_id, "operation": p.entry.operation, "at": p.entry.at,
                    "cause": p.entry.cause, "reference": p.reference, "amc_eur": eur(p.entry.amc_eur),
                    "request": p.entry.payload["request"], "client_id": p.entry.client_id} for p in batch]
        try:
            results = self.client.post_json("/v1/advices", {"advices": advices})["results"]
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            # The leases expire and the batch is claimed again, same advice ids: no loss, no duplicate.
            log_event(log, "drain_send_failed", logging.WARNING, error=type(exc).__name__, batch=len(batch))
            self.platform_ok = False
            return 0
        done = sum(self._verdict(r) for r in results)
        log_event(log, "drained", batch=len(batch), recorded=done)
        stop.wait(max(0.0, len(batch) / self.s.drain_rate_per_s - (time.monotonic() - started)))
        return len(batch)

    def _verdict(self, r: dict) -> bool:
        if r.get("verdict") not in VERDICTS:
            return False  # e.g. "pending": another copy is being judged; the lease brings it back
        amount = r.get("platform_amc_eur")
        try:
            ok = self.journal.record_verdict(r["advice_id"], r["verdict"], r.get("reason"),
                                             Decimal(amount) if amount is not None else None, time.time())
        except (JournalError, ValueError) as exc:
            log_event(log, "verdict_not_recorded", logging.WARNING, error=str(exc)[:200])
            return False
        if ok:
            ADVICES.labels(r["verdict"]).inc()
        return ok
