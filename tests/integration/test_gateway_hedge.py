"""The hedge, live: nobody waits out the deadline at a cut, and a late online answer keeps one truth.

The gateway runs with a long deadline (3 s) and the prober told never to open the breaker,
so what answers the professional early can only be the hedge (cause `timeout`), not the
breaker. Bounds are generous (half the deadline); the benchmark measures the real figure.
"""
from __future__ import annotations

import re
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.gateway_live import caches_loaded, catalogue, eligibility, optician, pec, status, wait_until
from tests.support.procs import ADMIN_TOKEN, start_gateway, start_platform
from tiers_payant.cards import peek_amc

pytestmark = pytest.mark.integration
DEADLINE_S = 3.0
HEDGED = {"GW_DEADLINE_S": str(DEADLINE_S), "GW_READ_TIMEOUT_S": "2.5", "GW_PROBE_FAILURES": "1000000",
          "GW_HEDGE_WINDOW": "100", "GW_BREAKER_CONSECUTIVE_FAILURES": "0"}


def set_fault(platform, body: dict) -> None:
    r = requests.post(platform.extra["control"] + "/v1/faults", json=body,
                      headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=5)
    assert r.status_code == 201, r.text


def stalls(url: str, **kw) -> bool:
    """True once a direct call gets no answer within 0.3 s: the fault is in force."""
    try:
        requests.request(kw.pop("method", "GET"), url, timeout=0.3, **kw)
    except requests.Timeout:
        return True
    except requests.RequestException:
        return False
    return False


def late_answers(gw_url: str, operation: str) -> float:
    """Hedged exchanges whose platform answer (2xx or 4xx) came in late: the gateway's own metric."""
    pattern = re.compile(r'gateway_upstream_latency_seconds_count\{(?=[^}]*operation="%s")(?=[^}]*outcome="late_[24]\d\d")'
                         r'[^}]*\} (\S+)' % operation)
    return sum(float(m.group(1)) for m in pattern.finditer(requests.get(gw_url + "/metrics", timeout=5).text))


def count(db, sql: str, args: tuple = ()) -> int:
    with sqlite3.connect(db) as c:
        return c.execute(sql, args).fetchone()[0]


@pytest.fixture
def stack(tmp_path):
    platform = start_platform(tmp_path, env={"SIM_RATE_PER_S": "0", "SIM_DETECTION": "off"})
    gw = start_gateway(tmp_path, platform.url, env=HEDGED)
    acc, token = optician(platform)
    h = {"Authorization": "Bearer " + token}
    assert wait_until(lambda: caches_loaded(gw.url), 20)
    cases = catalogue(platform, 60)
    for i in range(30):  # healthy calls: each worker learns its budget from them
        r = requests.post(gw.url + "/v1/eligibility", json=eligibility(cases["opti-a"][i % 3]), headers=h, timeout=5)
        assert r.json()["mode"] == "online"
    yield platform, gw, acc, h, cases
    gw.stop()
    platform.stop()


def test_requests_in_flight_at_a_blackhole_cut_are_answered_offline_well_before_the_deadline(stack):
    platform, gw, acc, h, cases = stack
    set_fault(platform, {"mode": "blackhole"})
    assert wait_until(lambda: stalls(platform.url + "/healthz"), 10)

    def one(case: dict) -> tuple[float, requests.Response]:
        t = time.monotonic()
        r = requests.post(gw.url + "/v1/eligibility", json=eligibility(case), headers=h, timeout=10)
        return time.monotonic() - t, r

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(one, cases["opti-b"][:4]))
    for took, r in answers:
        body = r.json()
        assert r.status_code == 200 and body["mode"] == "offline" and body["provisional"] is True, body
        assert body["decision"] == "eligible" and body["journal_reference"].startswith("J-")
        assert took < DEADLINE_S / 2, f"offline answer after {took:.2f} s (deadline {DEADLINE_S} s)"
    assert any(r.json()["offline_cause"] == "timeout" for _, r in answers)  # the hedge, not the breaker
    set_fault(platform, {"mode": "up"})
    assert wait_until(lambda: requests.post(gw.url + "/v1/eligibility", json=eligibility(cases["opti-a"][0]),
                                            headers=h, timeout=5).json()["mode"] == "online", 30)


def test_a_late_online_pec_after_a_hedged_offline_one_leaves_one_entry_and_one_decision(stack):
    platform, gw, acc, h, cases = stack
    case, key = cases["opti-a"][5], uuid.uuid4().hex
    db = platform.extra["state"] / "platform.sqlite"
    pecs_before = count(db, "SELECT COUNT(*) FROM pecs")
    # Only this card's AMC answers slowly: the platform decides the PEC 2 s late; probes and advices are quick.
    set_fault(platform, {"mode": "latency", "ms": 2000, "amcs": [peek_amc(case["card"])]})
    assert wait_until(lambda: stalls(platform.url + "/v1/eligibility", method="POST", json=eligibility(case),
                                     headers=h), 10)
    t = time.monotonic()
    r = requests.post(gw.url + "/v1/pec", json=pec(case, acc), headers={**h, "Idempotency-Key": key}, timeout=10)
    took = time.monotonic() - t
    body = r.json()
    assert body["mode"] == "offline" and body["offline_cause"] == "timeout" and body["decision"] == "accepted", body
    assert took < DEADLINE_S / 2
    ref = body["journal_reference"]
    # The online attempt goes on off the professional's thread and its answer comes late;
    # meanwhile the drain may already have advised the entry: either order, one decision.
    assert wait_until(lambda: late_answers(gw.url, "pec") >= 1, 20)
    set_fault(platform, {"mode": "up"})
    assert wait_until(lambda: status(gw.url)["journal"]["pending"] == 0, 30), status(gw.url)
    journal = gw.extra["journal"]
    assert count(journal, "SELECT COUNT(*) FROM offline_entry WHERE operation='pec'") == 1
    assert count(journal, "SELECT COUNT(*) FROM offline_entry WHERE reference=? AND state='drained'"
                          " AND verdict IN ('confirmed', 'adjusted')", (ref,)) == 1
    assert count(db, "SELECT COUNT(*) FROM pecs") == pecs_before + 1
    # The professional's retry with the same key gets the offline answer again, not a second decision.
    again = requests.post(gw.url + "/v1/pec", json=pec(case, acc), headers={**h, "Idempotency-Key": key}, timeout=10)
    assert again.json()["journal_reference"] == ref and again.json()["pec_number"] == body["pec_number"]
    assert count(db, "SELECT COUNT(*) FROM pecs") == pecs_before + 1
