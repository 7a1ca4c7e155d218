"""Background work of one gateway, run by the leader worker only (gateway.background.leader).

Three duties:
- probe: every `probe_interval_s`, GET /healthz with a short timeout. Consecutive
  transport failures force the breaker open (a blackhole is known in well under a second,
  instead of after the statistics fill up with 1 s timeouts); while the breaker is open
  the probes are its half-open calls, so it closes within moments of the platform's return
  without a professional's request ever waiting on a probe.
- refresh: every `refresh_interval_s` while the breaker is closed, fetch the JWKS, the
  revocation list (incrementally, by version) and the stand-in policies into the caches.
- drain: while the breaker is closed and a snapshot was loaded once, send journal entries as
  advices (gateway.background.drain), which backs off by itself on any failure. With a
  journal shared by replicas (PostgreSQL) the drain also needs `drain_lock`, held by one
  replica of the deployment (gateway.background.leader_pg); probe and refresh stay per
  replica, because the breaker and the caches they feed are per replica.

Every duty survives its own faults: an exception in one (a full disk under the cache, a
journal that cannot be read, a bug) is logged with its traceback once per kind of error,
recorded in the shared health file (/readyz, /v1/status), and the loop goes on. The prober
thread is stopped and joined on every exit path.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time

import requests

from gateway.background.drain import Drainer
from gateway.background.health import Health
from gateway.background.platform_client import LoginRefused, PlatformAnswer, PlatformClient
from gateway.metrics import BACKGROUND_ERRORS, CACHE_REFRESHES
from gateway.offline.journal import Journal
from gateway.offline.lookup_log import LookupLog, within_bytes
from gateway.offline.platform_snapshot import CachedPlatform
from gateway.online.breaker_store import SharedBreaker
from tiers_payant.httpkit import log_event
from tiers_payant.secrets_at_rest import installation_key

log = logging.getLogger("gateway.background")
FULL_REFRESH_EVERY = 20  # an occasional full revocation list repairs any missed increment
EXPECTED = (requests.RequestException, PlatformAnswer, ValueError, KeyError, TypeError)


class Background:
    def __init__(self, settings, breaker: SharedBreaker, cached: CachedPlatform, journal: Journal,
                 live_p95=None, drain_lock=None) -> None:  # type: ignore[no-untyped-def]
        self.s, self.breaker, self.cached, self.journal = settings, breaker, cached, journal
        self.drain_lock = drain_lock  # None: this host's leader is the only drainer (SQLite)
        self.client = PlatformClient(settings)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.platform_ok = False
        self.health = Health(cached.disk)
        self.drainer = Drainer(settings, journal, self.client, self.owner, live_p95=live_p95)
        self.lookups = LookupLog(settings.lookup_log_path, installation_key(settings.journal_key_path))
        self._lookups_after = 0.0
        self._refreshes = 0
        self._tracebacks: set[tuple[str, str]] = set()

    def run(self, stop: threading.Event) -> None:
        """The leader's work; returns when `stop` is set."""
        halt = threading.Event()  # ours: set on every way out, so the prober never outlives us
        prober = threading.Thread(target=self.probe_loop, args=(halt,), name="gateway-prober", daemon=True)
        prober.start()
        next_refresh = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= next_refresh:
                    if self.breaker.state() == "closed":
                        self.guarded("refresh", self.refresh_once)
                    next_refresh = time.monotonic() + self.s.refresh_interval_s
                sent = 0  # a refresh that failed (a 5xx, say) does not stop the drain: it backs off itself
                if self.cached.loaded() and self.breaker.state() == "closed" and self.may_drain():
                    sent = self.guarded("drain", lambda: self.drain_once(stop)) or 0
                    if not sent:  # advices first; then the offline declines, for the platform's detection
                        self.guarded("lookups", self.send_lookups)
                if not sent:
                    stop.wait(0.2)
        finally:
            halt.set()
            prober.join(5.0)
            if self.drain_lock is not None:
                self.drain_lock.release()

    @property
    def drains(self) -> bool:
        """Whether this process is the deployment's drainer now."""
        return self.drain_lock is None or self.drain_lock.is_leader

    def may_drain(self) -> bool:
        return self.drain_lock is None or bool(self.guarded("drain_lock", self.drain_lock.try_acquire))

    def guarded(self, task: str, fn):  # type: ignore[no-untyped-def]
        """Run one duty; an unexpected exception is logged (traceback once per kind), counted,
        recorded in the health file, and swallowed: the loop must go on."""
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - the point is to survive anything
            BACKGROUND_ERRORS.labels(task).inc()
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
            self.health.failed(task, error, time.time())
            kind = (task, type(exc).__name__)
            if kind not in self._tracebacks:
                self._tracebacks.add(kind)
                log.exception("background %s failed: %s", task, error)
            else:
                log_event(log, "background_failed", logging.WARNING, task=task, error=error)
            return None

    # -- probe -------------------------------------------------------------------------
    def probe_loop(self, halt: threading.Event) -> None:
        client, failures = PlatformClient(self.s), 0
        while not halt.wait(self.s.probe_interval_s):
            result = self.guarded("probe", lambda: self.probe_once(client, failures))
            failures = failures if result is None else result

    def probe_once(self, client: "PlatformClient", failures: int) -> int:
        """While the breaker is not closed, each probe that sees the platform answer is a
        half-open call at once (no waiting out `breaker_open_s`), so the breaker closes
        `breaker_half_open_probes` probe intervals after the platform's return; a probe
        that fails re-opens it."""
        ok, transport = client.healthz(self.s.probe_timeout_s)
        if self.breaker.state() != "closed":
            if ok and self.breaker.allow(early=True):  # allowed: must be recorded
                self.breaker.record("success")
            elif not ok:
                self.breaker.force_open()
        failures = failures + 1 if transport else 0
        if failures >= self.s.probe_failures:
            self.breaker.force_open()
        return failures

    # -- refresh -----------------------------------------------------------------------
    def refresh_once(self) -> bool:
        ok = all([self._refresh("jwks", self._jwks), self._refresh("revocations", self._revocations),
                  self._refresh("standin_policy", self._policies)])
        if ok != self.platform_ok:
            log_event(log, "platform_refresh", logging.INFO if ok else logging.WARNING, ok=ok)
        self.platform_ok = ok
        self._refreshes += 1
        if ok:
            self.health.ok("refresh", time.time())
        return ok

    def _refresh(self, name: str, fetch) -> bool:
        now = time.time()
        try:
            value = fetch()
        except LoginRefused as exc:
            CACHE_REFRESHES.labels(name, "failed").inc()
            if self.health.failed("login", str(exc), now):  # loud, once per distinct cause
                log_event(log, "service_login_failed", logging.ERROR, client_id=self.s.client_id, error=str(exc),
                          hint="check GW_CLIENT_ID / GW_CLIENT_SECRET against the platform's service account")
            self.health.failed("refresh", f"{name}: {exc}", now)
            return False
        except EXPECTED as exc:
            CACHE_REFRESHES.labels(name, "failed").inc()
            error = f"{name}: {exc}" if isinstance(exc, PlatformAnswer) else f"{name}: {type(exc).__name__}"
            if self.health.failed("refresh", error, now):
                log_event(log, "cache_refresh_failed", logging.WARNING, cache=name, error=error)
            return False
        if name != "jwks":  # the JWKS needs no login; the other two prove it works
            self.health.ok("login", now)
        self.cached.save(name, value, now)  # an OSError here is the guarded loop's to report
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
        credentials = {} if since == 0 or known is None else dict(known[0].get("credentials") or {})
        for c in doc.get("credentials") or ():  # a reset raises the floor; it never goes down
            credentials[c["client_id"]] = max(int(c["version"]), credentials.get(c["client_id"], 0))
        if since == 0 or known is None:
            cards, accounts = set(doc["cards"]), set(doc["accounts"])
        else:
            # Cards are never un-revoked; re-enabled accounts come as `restored_accounts`.
            cards = set(known[0]["cards"]) | set(doc["cards"])
            accounts = (set(known[0]["accounts"]) - set(doc.get("restored_accounts") or ())) | set(doc["accounts"])
        return {"version": int(doc["version"]), "cards": sorted(cards), "accounts": sorted(accounts),
                "credentials": credentials}

    def _policies(self) -> dict:
        doc = self.client.get_json("/v1/standin-policy")
        if not isinstance(doc.get("policies"), list):
            raise ValueError("no policies")
        return doc

    # -- offline lookups ---------------------------------------------------------------
    def send_lookups(self, limit: int = 200) -> int:
        """Declined offline lookups to the platform's detection (accepted ones went as advices)."""
        if time.monotonic() < self._lookups_after:
            return 0
        batch = within_bytes(self.lookups.unsent(limit), self.s.drain_batch_bytes)  # under the body limit
        if not batch:
            self._lookups_after = time.monotonic() + 1.0
            return 0
        try:
            results = self.client.post_json("/v1/offline-lookups", {"lookups": batch})["results"]
        except EXPECTED as exc:
            self._lookups_after = time.monotonic() + 5.0
            if self.health.failed("lookups", f"{exc}" if isinstance(exc, PlatformAnswer) else type(exc).__name__,
                                  time.time()):
                log_event(log, "lookups_send_failed", logging.WARNING, error=str(exc)[:200], batch=len(batch))
            return 0
        self.lookups.mark_sent([r["id"] for r in results], time.time())  # refused ones are not worth re-sending
        self.health.ok("lookups", time.time())
        return len(batch)

    # -- drain -------------------------------------------------------------------------
    def drain_once(self, stop: threading.Event) -> int:
        sent = self.drainer.drain_once(stop)
        now = time.time()
        if self.drainer.last_error:
            self.health.failed("drain", self.drainer.last_error, now)
        elif sent:
            self.health.ok("drain", now)
        return sent
