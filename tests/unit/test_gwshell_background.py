"""The leader's work: cache refresh, paced drain with verdicts, the prober and the breaker."""
from __future__ import annotations

import json
import threading
import uuid
from decimal import Decimal

import pytest

from gateway.online.breaker import config_of
from gateway.background.tasks import Background
from gateway.online.breaker_store import SharedBreaker
from gateway.offline.platform_snapshot import CachedPlatform
from gateway.app import open_journal
from gateway.offline.journal import Journal, OfflineEntry
from tests.support.gateway_fakes import JWKS, POLICY, ScriptedPlatform, refused, settings

pytestmark = pytest.mark.usefixtures("each_journal")  # every test on both journal stores

class Waits(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout=None) -> bool:
        self.waits.append(timeout)
        return self.is_set()

def make(tmp_path, script, **kw):
    s = settings(tmp_path, **kw)
    bg = Background(s, SharedBreaker(s.breaker_path, config_of(s)), CachedPlatform(s.cache_path),
                    open_journal(s))
    platform = ScriptedPlatform(script)
    for client in {id(c): c for c in (bg.client, *bg.drainer.clients)}.values():
        client.session.mount("http://", platform)
    return bg, platform

def platform_script(verdicts=None):
    def script(r):
        path = r.path_url
        if path == "/oauth/token":
            return 200, {"access_token": "svc", "expires_in": 900}
        if path == "/v1/keys":
            return 200, JWKS
        if path.startswith("/v1/revocations"):
            return 200, {"version": 3, "cards": ["S-9"], "accounts": ["opt-bad"], "restored_accounts": []}
        if path == "/v1/standin-policy":
            return 200, {"policies": [POLICY.to_json()]}
        if path == "/v1/advices":
            advices = json.loads(r.body)["advices"]
            return 200, {"results": [{"advice_id": a["advice_id"], **verdicts[i % len(verdicts)]}
                                     for i, a in enumerate(advices)]}
        return 404, {}
    return script

def record(journal: Journal, amount: str) -> str:
    return journal.record(OfflineEntry(uuid.uuid4().hex, "pec", 1.0, "123456789", "S-1", "b-x", "OPTI",
                                       Decimal(amount), "timeout", {"request": {"k": 1}}, "opt-1"))

def test_refresh_fills_every_cache(tmp_path):
    bg, platform = make(tmp_path, platform_script())
    assert bg.refresh_once() and bg.platform_ok
    assert bg.cached.loaded() and bg.cached.revocations().cards == frozenset({"S-9"})
    assert bg.cached.policy(POLICY.amc) == POLICY and bg.cached.keys("token")
    assert all(r.headers.get("Authorization") == "Bearer svc" for r in platform.sent if "revocations" in r.url)

def test_drain_records_each_verdict_and_paces_the_batches(tmp_path):
    verdicts = [{"verdict": "confirmed", "reason": None, "platform_amc_eur": "100.00", "duplicate": False},
                {"verdict": "adjusted", "reason": "AMOUNT_ADJUSTED", "platform_amc_eur": "60.00", "duplicate": False},
                {"verdict": "rejected", "reason": "CONTRACT_TERMINATED", "platform_amc_eur": "0.00", "duplicate": True}]
    bg, platform = make(tmp_path, platform_script(verdicts), drain_batch=3, drain_rate_per_s=10.0,
                        drain_pacing="fixed")
    for _ in range(3):
        record(bg.journal, "100.00")
    stop = Waits()
    assert bg.drain_once(stop) == 3
    st = bg.journal.status()
    assert (st["pending"], st["confirmed"], st["adjusted"], st["rejected"]) == (0, 1, 1, 1)
    assert st["exposure_eur"] == "140.00"  # 40 reduced + 100 rejected
    assert stop.waits and stop.waits[-1] > 0.2  # 3 advices at 10/s: about 0.3 s before the next batch
    sent = json.loads(platform.sent[-1].body)["advices"]
    assert {a["amc_eur"] for a in sent} == {"100.00"} and sent[0]["request"] == {"k": 1}
    assert bg.drain_once(stop) == 0

def test_a_failed_send_loses_nothing_and_a_pending_copy_is_left_for_later(tmp_path):
    bg, platform = make(tmp_path, lambda r: refused(), drain_lease_s=0.0, drain_backoff_base_s=0.0)
    ref = record(bg.journal, "10.00")
    assert bg.drain_once(Waits()) == 1 and bg.journal.status()["pending"] == 1
    assert bg.health.failed("drain", "x", 0) is True  # the failure was recorded as another error
    bg.drainer.paused_until = 0.0
    platform.script = platform_script([{"verdict": "pending", "reason": None, "platform_amc_eur": None}])
    assert bg.drain_once(Waits()) == 1
    entry = bg.journal.get(ref)
    assert entry["state"] == "pending" and entry["pending_answers"] == 1

def test_the_prober_opens_on_transport_failures_and_closes_on_the_return(tmp_path):
    bg, platform = make(tmp_path, lambda r: refused(), probe_failures=2, breaker_open_s=0.0,
                        breaker_half_open_probes=2)
    failures = bg.probe_once(bg.client, 0)
    assert failures == 1 and bg.breaker.state() == "closed"
    failures = bg.probe_once(bg.client, failures)
    assert bg.breaker.state() == "open"
    platform.script = lambda r: (200, {"status": "ok"})
    failures = bg.probe_once(bg.client, failures)
    assert failures == 0 and bg.breaker.state() == "half_open"
    bg.probe_once(bg.client, failures)
    assert bg.breaker.state() == "closed"
