"""Offline, the gateway is not blind to enumeration, and the platform sees the day whole.

An account probing identities while the platform is cut is refused offline past its
limits (OFFLINE_ACCOUNT_LIMIT); after the return its declined lookups reach the platform's
detection with the drain, which suspends it as of the time it probed.
"""
from __future__ import annotations

import copy

import pytest
import requests

from tests.support.gateway_live import caches_loaded, eligibility, optician, status, wait_until
from tests.support.procs import ADMIN_TOKEN, cards, restart_platform, start_gateway, start_platform

pytestmark = pytest.mark.integration


def test_an_account_probing_offline_is_refused_offline_and_suspended_after_the_drain(tmp_path):
    platform = start_platform(tmp_path, env={"SIM_DETECT_MAX_DISTINCT_PROBED": "5"})
    gw = start_gateway(tmp_path, platform.url, env={"GW_OFFLINE_ACCOUNT_MAX_FAILED_PROOFS": "8"})
    try:
        acc, token = optician(platform)
        h = {"Authorization": "Bearer " + token}
        assert wait_until(lambda: caches_loaded(gw.url), 20)
        case = next(c for c in cards(platform, 40) if c["case"] == "opti-a")
        platform.stop()
        reasons = []
        for day in range(1, 13):  # the right card, guessed birth dates: each a failed identity proof
            body = eligibility(case)
            body["beneficiary"] = copy.deepcopy(body["beneficiary"])
            body["beneficiary"]["birth_date"] = f"1901-01-{day:02d}"
            r = requests.post(gw.url + "/v1/eligibility", json=body, headers=h, timeout=5)
            assert r.status_code == 200, r.text
            reasons.append(r.json()["reason"])
        assert reasons[:8] == ["BENEFICIARY_NOT_ON_CARD"] * 8
        assert reasons[8:] == ["OFFLINE_ACCOUNT_LIMIT"] * 4
        honest = requests.post(gw.url + "/v1/eligibility", json=eligibility(case), headers=h, timeout=5).json()
        assert honest["reason"] == "OFFLINE_ACCOUNT_LIMIT"  # the account, not the request, is refused offline
        assert status(gw.url)["offline_lookups"]["unsent"] == 13

        platform = restart_platform(tmp_path, platform, env={"SIM_DETECT_MAX_DISTINCT_PROBED": "5"})
        assert wait_until(lambda: status(gw.url)["offline_lookups"].get("unsent") == 0, 30), status(gw.url)
        account = requests.get(platform.extra["control"] + f"/v1/accounts/{acc['client_id']}",
                               headers={"Authorization": "Bearer " + ADMIN_TOKEN}, timeout=5).json()
        assert account["suspended"] is True and account["lookups"] >= 13
    finally:
        gw.stop()
        platform.stop()
