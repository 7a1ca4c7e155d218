"""Slow clients cannot starve either service (issue: hardened surfaces).

500 slowloris sockets held open against the platform's public port and 500 against the
gateway's, trickling all along: 20 honest rights checks to each still get their normal
answer, each within 2 s (a bound far above the ~10-30 ms they take; the point is
"answered", not "fast"), and the gateway's breaker stays closed, since its calls to the
platform do not fail. Without the front, 24-40 such sockets left the platform serving
none and 100 opened the gateway's breaker.
"""
from __future__ import annotations

import time

import pytest
import requests

from tests.support.gateway_live import caches_loaded, catalogue, eligibility, status, wait_until
from tests.support.procs import accounts, login, start_gateway, start_platform
from tests.support.slow_clients import SlowClients

pytestmark = pytest.mark.integration
SLOW, HONEST, BOUND_S = 500, 20, 2.0


def honest_checks(url: str, token: str, body: dict, slow: list[SlowClients]) -> list[float]:
    took = []
    for _ in range(HONEST):
        for s in slow:
            s.trickle()
        started = time.monotonic()
        r = requests.post(url + "/v1/eligibility", json=body, headers={"Authorization": "Bearer " + token}, timeout=10)
        took.append(time.monotonic() - started)
        assert r.status_code == 200 and r.json()["decision"] == "eligible", r.text[:300]
    return took


def test_500_slow_sockets_each_do_not_starve_platform_or_gateway(tmp_path):
    platform = start_platform(tmp_path, beneficiaries=2_000)
    gateway = start_gateway(tmp_path, platform.url)
    slow: list[SlowClients] = []
    try:
        opticians = [a for a in accounts(platform, 8) if a["profession"] == "28"]
        direct = login(platform.url, opticians[0]["client_id"], opticians[0]["client_secret"])
        via_gw = login(platform.url, opticians[1]["client_id"], opticians[1]["client_secret"])
        assert wait_until(lambda: caches_loaded(gateway.url), 30)
        body = eligibility(catalogue(platform, 20)["opti-a"][0])
        before = status(gateway.url)["breaker"]

        slow = [SlowClients(platform.extra["port"], SLOW), SlowClients(gateway.extra["port"], SLOW)]
        time.sleep(0.5)  # let both fronts take in every slow socket before measuring
        on_platform = honest_checks(platform.url, direct, body, slow)
        on_gateway = honest_checks(gateway.url, via_gw, body, slow)
        st = status(gateway.url)

        assert max(on_platform) < BOUND_S, on_platform
        assert max(on_gateway) < BOUND_S, on_gateway
        # Closed, and never opened meanwhile: no transition at all while the sockets were held.
        assert st["breaker"]["state"] == before["state"] == "closed", st["breaker"]
        assert st["breaker"]["transitions"] == before["transitions"], (before, st["breaker"])
        # The slow sockets were held open throughout (the header deadline is 10 s), not refused.
        assert [s.still_open() for s in slow] == [SLOW, SLOW]
    finally:
        for s in slow:
            s.close()
        gateway.stop()
        platform.stop()
