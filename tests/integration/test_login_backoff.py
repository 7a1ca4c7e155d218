"""Token brute force: 200 wrong secrets for one client id, spread over 40 addresses.

The platform runs with a short maximum wait (SIM_LOGIN_MAX_DELAY_S) so the test is short;
every wait below is derived from the `Retry-After` the platform answers, never fixed.
Addresses 127.0.0.2... are the attacker's (the front passes the real peer on); the shop
logs in from 127.0.0.1, where it had logged in before the attack.
"""
from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlencode

import pytest
import requests

from tests.support.procs import ADMIN_TOKEN, accounts, start_platform

pytestmark = pytest.mark.integration
MAX_DELAY_S = 2.0


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    p = start_platform(tmp_path_factory.mktemp("logins"), beneficiaries=2_000, workers=1,
                       env={"SIM_LOGIN_MAX_DELAY_S": str(MAX_DELAY_S), "SIM_LOGIN_BASE_S": "0.5"})
    yield p
    p.stop()


def attempt(platform, client_id: str, secret: str, source: str = "127.0.0.1") -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", platform.extra["port"], timeout=10, source_address=(source, 0))
    try:
        conn.request("POST", "/oauth/token", urlencode({"grant_type": "client_credentials", "client_id": client_id,
                                                        "client_secret": secret}),
                     {"Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(r.read())
    finally:
        conn.close()


def alerts(platform) -> list[dict]:
    r = requests.get(platform.extra["control"] + "/v1/alerts", headers={"Authorization": "Bearer " + ADMIN_TOKEN},
                     timeout=5)
    r.raise_for_status()
    return r.json()["alerts"]


def test_200_wrong_secrets_then_429_alert_and_the_right_secret_after_the_delay(platform):
    acc = accounts(platform, 2)[0]
    cid, secret = acc["client_id"], acc["client_secret"]
    assert attempt(platform, cid, secret)[0] == 200  # the shop, from its own address, before the attack

    statuses = [attempt(platform, cid, f"guess-{i}", f"127.0.0.{2 + i % 40}")[0] for i in range(200)]
    assert set(statuses) <= {401, 429}
    assert statuses[:20] == [401] * 20  # each guess checked until the id's counter reaches its threshold
    assert statuses.count(429) >= 150, statuses  # then refused unchecked, save one check per expired wait

    # Further attempts are refused, with Retry-After; the right secret is not even checked.
    # (An attempt landing just as a wait expires is checked, fails, and starts the next wait.)
    code, headers, doc = attempt(platform, cid, secret, "127.0.0.99")
    if code == 401:
        code, headers, doc = attempt(platform, cid, secret, "127.0.0.99")
    assert code == 429 and doc["error"] == "temporarily_unavailable" and doc["code"] == "LOGIN_THROTTLED"
    retry_after = int(headers["retry-after"])
    assert 1 <= retry_after <= MAX_DELAY_S + 1

    listed = [a for a in alerts(platform) if a["kind"] == "login_failures" and a["client_id"] == cid]
    assert listed and listed[0]["detail"]["rule"] == "failed_logins_client", listed

    # The shop's own address, where it logged in before, is not held by the id-wide wait.
    assert attempt(platform, cid, secret)[0] == 200
    # From a new address, the right secret works once the announced delay has passed.
    time.sleep(retry_after)
    code, _, doc = attempt(platform, cid, secret, "127.0.0.98")
    assert code == 200 and doc["token_type"] == "Bearer", doc


def test_one_address_guessing_is_slowed_down_after_five_failures(platform):
    acc = accounts(platform, 2)[1]
    statuses = [attempt(platform, acc["client_id"], "wrong", "127.0.1.1")[0] for _ in range(8)]
    # Waits of 0.5, 1, 2 s after the 5th, 6th, 7th failure: one of the next three is inside one.
    assert statuses[:5] == [401] * 5 and 429 in statuses[5:], statuses
    code, headers, _ = attempt(platform, acc["client_id"], acc["client_secret"], "127.0.1.1")
    if code == 429:  # inside the wait (a loaded machine may already be past it: then checked, and right)
        time.sleep(int(headers["retry-after"]))
        code = attempt(platform, acc["client_id"], acc["client_secret"], "127.0.1.1")[0]
    assert code == 200
