"""Prometheus exposition of both services, read with prometheus_client's own parser.

Names follow Prometheus conventions: cumulative counts are counters whose samples end in
`_total`; units are in the names (`_seconds`, `_eur` for euros, a currency with no SI unit).
"""
from __future__ import annotations

import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import render
from tests.support.procs import ADMIN_TOKEN, accounts, cards, login, start_platform

pytestmark = pytest.mark.integration


def families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(fam, **labels) -> float:
    return sum(s.value for s in fam.samples if s.name.endswith("_total") and all(s.labels.get(k) == v
                                                                                  for k, v in labels.items()))


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    proc = start_platform(tmp_path_factory.mktemp("metrics"), beneficiaries=20_000, workers=2,
                          env={"SIM_RATE_PER_S": "0"})
    yield proc
    proc.stop()


def test_platform_metrics_count_requests_by_operation_and_status_across_workers(platform):
    a = accounts(platform, 1)[0]
    auth = {"Authorization": "Bearer " + login(platform.url, a["client_id"], a["client_secret"])}
    case = cards(platform, 1)[0]
    body = {k: case[k] for k in ("card", "beneficiary", "domain")}
    n = 30  # new connections each: gunicorn spreads them over both workers
    for _ in range(n):
        assert requests.post(platform.url + "/v1/eligibility", json=body, headers=auth, timeout=10).status_code == 200
    requests.post(platform.url + "/v1/eligibility", json={}, timeout=10)  # one 401
    admin = {"Authorization": "Bearer " + ADMIN_TOKEN}
    assert requests.post(platform.extra["control"] + "/v1/faults", json={"mode": "latency", "ms": 1}, headers=admin,
                         timeout=5).status_code == 201
    deadline = time.monotonic() + 20  # counters are flushed by each worker once a second
    while True:
        r = requests.get(platform.url + "/metrics", timeout=5)
        fams = families(r.text)
        got = _value(fams["platform_requests"], operation="eligibility", status="200")
        if got >= n or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.headers["Content-Type"].startswith("text/plain")
    assert got == n and _value(fams["platform_requests"], operation="eligibility", status="401") == 1
    assert fams["platform_requests"].type == "counter"
    in_force = {s.labels["mode"]: s.value for s in fams["platform_fault_in_force"].samples}
    assert in_force["latency"] == 1 and sum(in_force.values()) == 1
    for name in ("platform_faults_injected", "platform_advices_received", "platform_advices_judged",
                 "platform_detection_alerts"):
        assert fams[name].type == "counter", name
    assert fams["platform_accounts_suspended"].type == "gauge"
    for fam in fams.values():
        for s in fam.samples:
            assert fam.type != "counter" or s.name.endswith(("_total", "_created")), s.name


def test_gateway_cumulative_journal_figures_are_counters_with_total():
    status = {"breaker": {"state": "closed"}, "journal": {"recorded": 7, "pending": 2, "drained": 5},
              "reconciliation": {"exposure_eur": "12.30"}, "caches": {"jwks": 1.5}}
    body, content_type = render(lambda: status)
    fams = families(body.decode())
    assert fams["gateway_journal_recorded"].type == "counter" and _value(fams["gateway_journal_recorded"]) == 7
    assert fams["gateway_journal_drained"].type == "counter" and _value(fams["gateway_journal_drained"]) == 5
    assert fams["gateway_journal_pending"].type == "gauge"
    assert fams["gateway_exposure_eur"].type == "counter" and _value(fams["gateway_exposure_eur"]) == 12.30
    assert "gateway_journal_recorded_total 7.0" in body.decode()
