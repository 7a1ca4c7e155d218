"""Live platform and gateway processes through an outage: offline answers, restart, recovery."""
from __future__ import annotations

import time

import pytest
import requests

from tests.support.gateway_live import caches_loaded, catalogue, eligibility, optician, pec, status, wait_until
from tests.support.procs import restart_platform, start_gateway, start_platform

pytestmark = pytest.mark.integration


def test_outage_offline_answers_restart_and_reconciliation(tmp_path):
    platform = start_platform(tmp_path)
    cases = catalogue(platform, 60)  # signed with this platform's own keys
    gateways = [start_gateway(tmp_path, platform.url)]
    try:
        acc, token = optician(platform)
        h = {"Authorization": "Bearer " + token}
        gw = gateways[0].url
        assert wait_until(lambda: caches_loaded(gw), 20)
        online = requests.post(gw + "/v1/eligibility", json=eligibility(cases["opti-a"][0]), headers=h, timeout=5)
        assert online.json()["mode"] == "online" and online.json()["decision"] == "eligible"

        platform.stop()  # the outage: nothing listens on the platform's port any more
        cut = time.monotonic()
        first = requests.post(gw + "/v1/eligibility", json=eligibility(cases["opti-a"][1]), headers=h, timeout=10)
        took = time.monotonic() - cut
        body = first.json()
        assert body["mode"] == "offline" and body["provisional"] is True and body["decision"] == "eligible"
        assert body["journal_reference"].startswith("J-") and body["offline_cause"] in ("unreachable", "breaker_open")
        assert took < 2.0, f"first offline answer after {took:.2f}s"

        for kind, reason in (("card-revoked", "CARD_REVOKED"), ("card-expired", "CARD_EXPIRED")):
            d = requests.post(gw + "/v1/eligibility", json=eligibility(cases[kind][0]), headers=h, timeout=5).json()
            assert (d["mode"], d["decision"], d["reason"]) == ("offline", "not_eligible", reason)
        accepted = requests.post(gw + "/v1/pec", json=pec(cases["opti-a"][2], acc), headers=h, timeout=5).json()
        assert accepted["decision"] == "accepted" and accepted["provisional"] and accepted["pec_number"].startswith("J-")

        # A gateway restarted during the outage answers from the persisted caches.
        gateways[0].stop()
        gateways.append(start_gateway(tmp_path, platform.url, port=gateways[0].extra["port"]))
        again = requests.post(gw + "/v1/eligibility", json=eligibility(cases["opti-a"][3]), headers=h, timeout=10)
        assert again.json()["mode"] == "offline" and again.json()["decision"] == "eligible"
        found = requests.get(gw + f"/v1/pec/{accepted['pec_number']}", headers=h, timeout=5).json()
        assert found["status"] == "provisional" and found["amc"] == accepted["amc"]
        recorded = status(gw)["journal"]["recorded"]
        assert recorded == 3

        platform = restart_platform(tmp_path, platform)
        back = time.monotonic()
        st = wait_until(lambda: (lambda s: s if s["journal"]["pending"] == 0 and s["breaker"]["state"] == "closed"
                                 else None)(status(gw)), 30)
        assert st, status(gw)
        assert time.monotonic() - back < 30
        rec = st["reconciliation"]
        assert rec["confirmed"] + rec["adjusted"] + rec["rejected"] == recorded
        assert requests.post(gw + "/v1/eligibility", json=eligibility(cases["opti-b"][0]), headers=h,
                             timeout=5).json()["mode"] == "online"
        settled = requests.get(gw + f"/v1/pec/{accepted['pec_number']}", headers=h, timeout=5).json()
        assert settled["reconciliation"]["state"] == "drained"
    finally:
        for g in gateways:
            g.stop()
        platform.stop()


def test_naive_mode_fails_during_the_outage(tmp_path):
    platform = start_platform(tmp_path)
    cases = catalogue(platform, 60)  # signed with this platform's own keys
    gateway = start_gateway(tmp_path, platform.url, resilience="naive")
    try:
        _, token = optician(platform)
        h = {"Authorization": "Bearer " + token}
        ok = requests.post(gateway.url + "/v1/eligibility", json=eligibility(cases["opti-a"][0]), headers=h, timeout=5)
        assert ok.status_code == 200 and ok.json()["mode"] == "online"
        platform.stop()
        failed = requests.post(gateway.url + "/v1/eligibility", json=eligibility(cases["opti-a"][1]), headers=h,
                               timeout=40)
        assert failed.status_code in (502, 504) and failed.json()["code"] in ("UPSTREAM_ERROR", "UPSTREAM_TIMEOUT")
        assert status(gateway.url)["journal"]["recorded"] == 0
    finally:
        gateway.stop()
        platform.stop()
