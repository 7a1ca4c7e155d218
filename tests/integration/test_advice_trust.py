"""Advices are bound to the professional who made the offline decision.

The platform takes the professional from the advice's own token, never from the sender's
word: a token that is not that professional's, was not in force at the decision's time, or
was superseded by a credential reset before it, gets the advice rejected and books nothing.
Advices count in detection as the professional's lookups. After a reset, the gateway
refuses the old token offline within one refresh interval.
"""
from __future__ import annotations

import sqlite3
import time
import uuid

import pytest
import requests

from tests.support.gateway_live import caches_loaded, eligibility, optician, pec, status, wait_until
from tests.support.procs import ADMIN_TOKEN, accounts, answers, cards, login, service_account, start_gateway, start_platform

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": "Bearer " + ADMIN_TOKEN}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    p = start_platform(tmp_path_factory.mktemp("trust"), env={"SIM_DETECTION": "on"})
    yield p
    p.stop()


def post(platform, advice: dict) -> dict:
    token = login(platform.url, *service_account(platform))
    r = requests.post(platform.url + "/v1/advices", json={"advices": [advice]},
                      headers={"Authorization": "Bearer " + token}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["results"][0]


def pec_advice(case: dict, acc: dict, token: str, **kw) -> dict:
    return {"advice_id": uuid.uuid4().hex, "operation": "pec", "at": time.time(), "cause": "unreachable",
            "reference": "J-" + uuid.uuid4().hex[:16], "amc_eur": "1.00", "token": token,
            "request": pec(case, acc), **kw}


def pecs(platform) -> int:
    with sqlite3.connect(platform.extra["state"] / "platform.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM pecs").fetchone()[0]


def test_an_advice_naming_another_professional_or_without_a_valid_token_books_nothing(platform):
    opticians = [a for a in accounts(platform, 8) if a["profession"] == "28"]
    me, other = opticians[0], opticians[1]
    mine = login(platform.url, me["client_id"], me["client_secret"])
    case = next(c for c in cards(platform, 60) if c["case"] == "opti-a")
    before = pecs(platform)
    for advice, reason in (
            (pec_advice(case, me, mine, client_id=other["client_id"]), "ADVICE_CREDENTIAL_INVALID"),  # names another
            (pec_advice(case, other, mine), "ADVICE_CREDENTIAL_INVALID"),  # the PEC's professional is not the token's
            (pec_advice(case, me, mine[:-4] + "AAAA"), "ADVICE_CREDENTIAL_INVALID"),  # forged signature
            (pec_advice(case, me, None), "ADVICE_CREDENTIAL_INVALID"),  # no token at all
            (pec_advice(case, me, mine, at=time.time() - 3 * 86_400), "ADVICE_CREDENTIAL_INVALID")):  # backdated
        advice = {k: v for k, v in advice.items() if v is not None}
        v = post(platform, advice)
        assert (v["verdict"], v["reason"]) == ("rejected", reason), (advice.get("client_id"), v)
    assert pecs(platform) == before
    good = post(platform, pec_advice(case, me, mine))
    assert good["verdict"] in ("confirmed", "adjusted") and pecs(platform) == before + 1


def test_advices_count_as_the_professionals_lookups(platform):
    audio = next(a for a in accounts(platform, 8) if a["profession"] == "26")
    token = login(platform.url, audio["client_id"], audio["client_secret"])
    cases = [c for c in cards(platform, 120) if c["domain"] == "AUDI"][:5]
    seen = lambda: requests.get(platform.extra["control"] + f"/v1/accounts/{audio['client_id']}", headers=ADMIN,
                                timeout=5).json()
    before = seen()["lookups"]
    for c in cases:
        post(platform, {"advice_id": uuid.uuid4().hex, "operation": "eligibility", "at": time.time(),
                        "cause": "timeout", "reference": "J-x", "amc_eur": "0.00", "token": token,
                        "request": eligibility(c)})
    assert seen()["lookups"] == before + len(cases)


def test_after_a_reset_the_old_token_is_refused_offline_and_its_later_advices_rejected(tmp_path, platform):
    gw = start_gateway(tmp_path, platform.url, env={"GW_REFRESH_INTERVAL_S": "0.5"})
    try:
        acc, old = optician(platform)
        h = {"Authorization": "Bearer " + old}
        case = next(c for c in cards(platform, 60) if c["case"] == "opti-b")
        assert wait_until(lambda: caches_loaded(gw.url), 20)
        r = requests.post(platform.extra["control"] + f"/v1/accounts/{acc['client_id']}/reset-credentials",
                          headers=ADMIN, timeout=5)
        assert r.ok, r.text
        reset_at = time.time()
        # within one refresh interval (0.5 s here) the gateway holds a revocation list fetched after the reset
        refreshed = wait_until(lambda: (lambda age: age is not None and age < time.time() - reset_at)(
            status(gw.url)["caches"]["revocations"]), 10, every_s=0.05)
        version = status(gw.url)
        assert refreshed, version
        requests.post(platform.extra["control"] + "/v1/faults", json={"mode": "down", "for_s": 30}, headers=ADMIN,
                      timeout=5)
        try:
            refused = wait_until(lambda: (lambda r: [r] if r.status_code == 401 else None)(requests.post(
                gw.url + "/v1/eligibility", json=eligibility(case), headers=h, timeout=5)), 5)
            assert refused and "reset" in refused[0].json()["detail"], version
        finally:
            requests.post(platform.extra["control"] + "/v1/faults", json={"mode": "up"}, headers=ADMIN, timeout=5)
        assert wait_until(lambda: answers(platform), 15)
        late = post(platform, {"advice_id": uuid.uuid4().hex, "operation": "eligibility", "at": reset_at + 1,
                               "cause": "timeout", "reference": "J-y", "amc_eur": "0.00", "token": old,
                               "request": eligibility(case)})
        assert (late["verdict"], late["reason"]) == ("rejected", "ADVICE_CREDENTIAL_INVALID")
        early = post(platform, {"advice_id": uuid.uuid4().hex, "operation": "eligibility", "at": reset_at - 5,
                                "cause": "timeout", "reference": "J-z", "amc_eur": "0.00", "token": old,
                                "request": eligibility(case)})
        assert early["verdict"] == "confirmed"  # made before the reset: the token was then in force
    finally:
        gw.stop()
