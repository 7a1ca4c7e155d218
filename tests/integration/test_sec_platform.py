"""The phished account, live: an attacker probing with one real card is suspended within 50
probes while an honest account at 10 requests a second is never refused; the suspension
reaches the revocation list and the control API; re-enabling and new credentials work."""
from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.procs import ADMIN_TOKEN, accounts, cards, login, start_platform
from tiers_payant.nir import make_nir

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": "Bearer " + ADMIN_TOKEN}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    proc = start_platform(tmp_path_factory.mktemp("sec"))  # detection on, default rate limits (20/s, burst 40)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def catalogue(platform):
    return cards(platform, 240)


def random_valid_nir(rng: random.Random) -> str:
    return make_nir(rng.choice([1, 2]), rng.randint(1930, 2005), rng.randint(1, 12), f"{rng.randint(1, 95):02d}",
                    f"{rng.randint(1, 990):03d}", rng.randint(1, 999))


def honest_run(url: str, token: str, cases: list[dict], rate_per_s: float, seconds: float, out: list) -> None:
    """One rights check every 1/rate seconds on real cards with their real proof."""
    session = requests.Session()
    start = time.monotonic()
    for i in range(int(rate_per_s * seconds)):
        delay = start + i / rate_per_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        case = cases[i % len(cases)]
        r = session.post(url + "/v1/eligibility", json={k: case[k] for k in ("card", "beneficiary", "domain")},
                         headers={"Authorization": "Bearer " + token}, timeout=10)
        out.append((r.status_code, r.json().get("decision") if r.status_code == 200 else r.json().get("code")))
    out.append(("rate", len(out) / (time.monotonic() - start)))


def test_attacker_is_suspended_within_50_probes_while_an_honest_account_is_never_refused(platform, catalogue):
    accs = accounts(platform, 4)
    attacker, honest = accs[0], accs[2]  # two opticians
    real = [c for c in catalogue if c["case"] == "opti-a"][0]
    eligible = [c for c in catalogue if c["expect"] == {"decision": "eligible", "reason": None}]
    assert len(eligible) >= 100
    honest_answers: list = []
    worker = threading.Thread(target=honest_run, args=(platform.url, login(platform.url, honest["client_id"],
                                                                          honest["client_secret"]),
                                                       eligible, 10.0, 10.0, honest_answers))
    worker.start()

    token = login(platform.url, attacker["client_id"], attacker["client_secret"])
    rng = random.Random(2024)
    suspended_at_probe = None
    for probe in range(1, 51):
        body = {"card": real["card"], "domain": "OPTI",
                "beneficiary": {**real["beneficiary"], "nir": random_valid_nir(rng)}}
        r = requests.post(platform.url + "/v1/eligibility", json=body, headers={"Authorization": "Bearer " + token},
                          timeout=10)
        if r.status_code == 403:
            assert r.json()["code"] == "ACCOUNT_SUSPENDED"
            assert r.headers["Content-Type"].startswith("application/problem+json")
            suspended_at_probe = probe
            break
        assert r.status_code == 200 and r.json()["reason"] == "BENEFICIARY_NOT_ON_CARD"
        assert real["beneficiary"]["nir"] not in r.text  # nothing about the card's real people
        time.sleep(0.05)  # a paced prober: the rate limit is not what stops it
    worker.join(30)

    assert suspended_at_probe is not None and suspended_at_probe <= 50
    # ...and stays out: the real proof, a login, any other call
    good = {k: real[k] for k in ("card", "beneficiary", "domain")}
    r = requests.post(platform.url + "/v1/eligibility", json=good, headers={"Authorization": "Bearer " + token}, timeout=5)
    assert (r.status_code, r.json()["code"]) == (403, "ACCOUNT_SUSPENDED")
    r = requests.post(platform.url + "/oauth/token", data={"grant_type": "client_credentials",
                                                           "client_id": attacker["client_id"],
                                                           "client_secret": attacker["client_secret"]}, timeout=5)
    assert (r.status_code, r.json()["code"]) == (403, "ACCOUNT_SUSPENDED")

    statuses = [a for a in honest_answers if a[0] != "rate"]
    rate = [a[1] for a in honest_answers if a[0] == "rate"][0]
    assert len(statuses) == 100 and rate >= 8.0
    assert all(s == (200, "eligible") for s in statuses), [s for s in statuses if s != (200, "eligible")][:5]

    # the gateway's offline view and the operator's view
    other = accs[1]
    other_token = login(platform.url, other["client_id"], other["client_secret"])
    rev = requests.get(platform.url + "/v1/revocations", headers={"Authorization": "Bearer " + other_token}, timeout=5)
    assert attacker["client_id"] in rev.json()["accounts"] and honest["client_id"] not in rev.json()["accounts"]
    alerts = requests.get(platform.extra["control"] + "/v1/alerts", headers=ADMIN, timeout=5).json()["alerts"]
    assert [(a["kind"], a["client_id"]) for a in alerts] == [("account_suspended", attacker["client_id"])]
    report = requests.get(platform.extra["control"] + f"/v1/accounts/{attacker['client_id']}", headers=ADMIN,
                          timeout=5).json()
    assert report["suspended"] and report["lookups_until_suspension"] == suspended_at_probe
    assert report["distinct_beneficiaries_answered"] == 0
    assert requests.get(platform.url + "/v1/alerts", headers=ADMIN, timeout=5).status_code == 404  # not on the public port

    # support lifts the suspension and forces new credentials
    r = requests.post(platform.extra["control"] + f"/v1/accounts/{attacker['client_id']}/enable", headers=ADMIN,
                      timeout=5)
    assert r.status_code == 200 and not r.json()["suspended"]
    rev = requests.get(platform.url + "/v1/revocations", headers={"Authorization": "Bearer " + other_token}, timeout=5)
    assert attacker["client_id"] not in rev.json()["accounts"]
    reset = requests.post(platform.extra["control"] + f"/v1/accounts/{attacker['client_id']}/reset-credentials",
                          headers=ADMIN, timeout=5).json()
    r = requests.post(platform.url + "/v1/eligibility", json=good, headers={"Authorization": "Bearer " + token}, timeout=5)
    assert r.status_code == 401  # the phished token is dead
    with pytest.raises(requests.HTTPError):
        login(platform.url, attacker["client_id"], attacker["client_secret"])  # and so is the phished secret
    fresh = login(platform.url, attacker["client_id"], reset["client_secret"])
    r = requests.post(platform.url + "/v1/eligibility", json=good, headers={"Authorization": "Bearer " + fresh}, timeout=5)
    assert r.status_code == 200 and r.json()["decision"] == "eligible"


def test_a_burst_over_the_bucket_gets_429_with_retry_after(platform):
    acc = accounts(platform, 8)[6]
    token = login(platform.url, acc["client_id"], acc["client_secret"])
    session = requests.Session()

    def call(_):
        return session.get(platform.url + "/v1/pec/PEC-NONE", headers={"Authorization": "Bearer " + token}, timeout=5)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(call, range(120)))
    elapsed = time.monotonic() - started
    allowed = sum(r.status_code == 404 for r in answers)
    limited = [r for r in answers if r.status_code == 429]
    assert allowed + len(limited) == 120
    assert 40 <= allowed <= 40 + 20 * elapsed + 2, (allowed, elapsed)  # the burst, then 20/s, shared by both workers
    assert limited, f"no 429 in {elapsed:.2f}s"
    r = limited[0]
    assert r.json()["code"] == "RATE_LIMITED" and r.headers["Content-Type"].startswith("application/problem+json")
    assert r.headers["Retry-After"].isdigit() and 1 <= int(r.headers["Retry-After"]) <= 2
    time.sleep(int(r.headers["Retry-After"]))
    assert session.get(platform.url + "/v1/pec/PEC-NONE", headers={"Authorization": "Bearer " + token},
                       timeout=5).status_code == 404
