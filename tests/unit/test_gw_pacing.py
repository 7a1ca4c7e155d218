"""The drain's AIMD pace: faster while the platform answers as fast as ever, slower when it slows."""
from __future__ import annotations

import time
import uuid
from decimal import Decimal

from gateway.background import pacing
from gateway.background.drain import Drainer
from gateway.background.platform_client import PlatformAnswer
from gateway.app import open_journal
from gateway.offline.journal import OfflineEntry
from tests.support.gateway_fakes import settings
from tests.unit.test_gwshell_background import Waits

CFG = pacing.PaceConfig(start_per_s=50, step_per_s=50, floor_per_s=5)


def test_healthy_batches_raise_the_rate_a_step_each_and_slow_ones_halve_it():
    p = pacing.start(CFG)
    for _ in range(4):
        p = pacing.answered(p, CFG, advices=30, seconds=0.030, achieved_per_s=10_000)
    assert p.rate_per_s == 250 and p.healthy
    p = pacing.answered(p, CFG, advices=30, seconds=0.090, achieved_per_s=10_000)  # 3x its baseline
    assert p.rate_per_s == 125 and not p.healthy


def test_a_rising_live_p95_halves_the_rate_even_when_the_platform_answers_the_drain_quickly():
    p = pacing.idle(pacing.start(CFG), 0.010)  # what professionals saw with nothing to drain
    p = pacing.answered(p, CFG, 30, 0.03, 10_000, live_p95_s=0.010)
    p = pacing.answered(p, CFG, 30, 0.03, 10_000, live_p95_s=0.010)
    assert p.rate_per_s == 150
    p = pacing.answered(p, CFG, 30, 0.03, 10_000, live_p95_s=0.020)
    assert p.rate_per_s == 75 and not p.healthy


def test_strain_halves_down_to_the_floor_and_the_ceiling_and_the_achieved_rate_bound_the_rise():
    p = pacing.start(CFG)
    for i in range(10):
        p = pacing.strained(p, CFG, now=10.0 * i)
    assert p.rate_per_s == CFG.floor_per_s
    q = pacing.strained(pacing.strained(pacing.start(CFG), CFG, now=0.0), CFG, now=1.0)
    assert q.rate_per_s == 25  # one halving per cooldown: the second reading was the same strain
    capped = pacing.PaceConfig(start_per_s=50, step_per_s=50, ceiling_per_s=120)
    q = pacing.start(capped)
    for _ in range(10):
        q = pacing.answered(q, capped, 30, 0.03, 10_000)
    assert q.rate_per_s == 120
    r = pacing.start(CFG)
    for _ in range(10):  # the platform, not the pace, is the limit: no run-away rate
        r = pacing.answered(r, CFG, 30, 0.03, achieved_per_s=100)
    assert r.rate_per_s == 150


class SlowablePlatform:
    """POST /v1/advices answered after `per_advice_s` each; 429 when told."""

    def __init__(self) -> None:
        self.per_advice_s, self.throttle = 0.0005, False

    def post_json(self, path: str, body: dict) -> dict:
        if self.throttle:
            raise PlatformAnswer("POST", path, 429, "RATE_LIMITED", "0")
        time.sleep(self.per_advice_s * len(body["advices"]))
        return {"results": [{"advice_id": a["advice_id"], "verdict": "confirmed", "reason": None,
                             "platform_amc_eur": "10.00"} for a in body["advices"]]}


def test_the_drain_slows_when_the_platform_slows_and_when_it_throttles(tmp_path):
    s = settings(tmp_path, drain_batch=10, drain_concurrency=1, drain_rate_per_s=50.0, drain_lease_s=0.0,
                 drain_backoff_base_s=0.0, drain_decrease_cooldown_s=0.0)
    journal = open_journal(s)
    for _ in range(10):
        journal.record(OfflineEntry(uuid.uuid4().hex, "pec", 1.0, "123456789", "S-1", "b-x", "OPTI",
                                    Decimal("10.00"), "timeout", {"request": {"k": 1}}, "opt-1"))
    platform = SlowablePlatform()
    drainer = Drainer(s, journal, platform, "test", extra_clients=[])

    def batches(n: int) -> list[float]:
        """`n` rounds, each draining the 10 entries again; the rate after each batch."""
        rates = []
        for _ in range(n):
            journal._run(lambda c: c.execute("UPDATE offline_entry SET state='pending'"), write=True)
            while drainer.drain_once(Waits()):
                rates.append(drainer.rate_per_s)
        return rates

    fast = batches(12)
    assert max(fast) > 50.0  # a quick platform: the drain speeds up
    platform.per_advice_s *= 20  # the platform slows down twentyfold
    slow = batches(8)
    assert slow[-1] <= max(fast) / 8 and slow[-1] == pacing.PaceConfig().floor_per_s
    platform.per_advice_s /= 20
    recovered = batches(12)
    assert recovered[-1] > slow[-1]
    platform.throttle = True
    before = drainer.rate_per_s
    journal._run(lambda c: c.execute("UPDATE offline_entry SET state='pending', lease_until=NULL"), write=True)
    assert drainer.drain_once(Waits()) >= 1
    assert drainer.rate_per_s == max(5.0, before / 2) and drainer.paused_until > 0
