"""The gateway's HTTP shell with a scripted platform: online relay, offline stand-in, naive."""
from __future__ import annotations

import time

import pytest
import requests

from gateway.app import build_services, create_app
from gateway.offline.journal import JournalError
from gateway.online.upstream import Upstream
from tests.support.gateway_fakes import (ScriptedPlatform, eligibility_body, fill_caches, pec_body, refused,
                                         settings, token)

pytestmark = pytest.mark.usefixtures("each_journal")  # every test on both journal stores

@pytest.fixture
def gw(tmp_path):
    """(client, services, platform): platform script settable through platform.script."""
    def build(resilience="full", script=lambda r: refused(), caches=True, **cache_kw):
        s = settings(tmp_path, resilience=resilience)
        services = build_services(s)
        platform = ScriptedPlatform(script)
        services.upstream = services.gateway.upstream = Upstream(
            s, services.breaker, sleep=lambda _: None, transport=platform)
        if caches:
            fill_caches(services.cached, **cache_kw)
        app = create_app(s, services=services)
        return app.test_client(), services, platform
    return build

def auth(**kw) -> dict:
    return {"Authorization": "Bearer " + token(**kw)}

def test_online_answers_are_relayed_as_they_are(gw):
    client, services, platform = gw(script=lambda r: (422, {"code": "VALIDATION_FAILED", "status": 422}))
    r = client.post("/v1/eligibility", json=eligibility_body(), headers=auth())
    assert r.status_code == 422 and r.json["code"] == "VALIDATION_FAILED"
    assert r.headers["X-Gateway-Mode"] == "online"
    assert platform.sent[0].headers["Authorization"] == auth()["Authorization"]  # passed through unchanged

def test_offline_acceptance_is_journaled_before_it_is_answered(gw):
    client, services, _ = gw()
    r = client.post("/v1/eligibility", json=eligibility_body(), headers=auth())
    body = r.get_json()
    assert r.status_code == 200 and body["decision"] == "eligible"
    assert body["mode"] == "offline" and body["provisional"] is True and body["offline_cause"] == "unreachable"
    entry = services.journal.get(body["journal_reference"])
    assert entry["operation"] == "eligibility" and entry["cause"] == "unreachable"
    r2 = client.post("/v1/eligibility", json=eligibility_body(), headers=auth())
    assert r2.get_json()["offline_cause"] == "breaker_open"  # the refused connection opened the breaker

def test_a_journal_that_cannot_write_turns_acceptance_into_decline(gw, monkeypatch):
    client, services, _ = gw()

    def broken(*a, **kw):
        raise JournalError("disk full")
    monkeypatch.setattr(services.journal, "record_once", broken)
    monkeypatch.setattr(services.journal, "record_many", broken)  # the group commit's one write
    body = client.post("/v1/pec", json=pec_body(), headers=auth()).get_json()
    assert body["decision"] == "refused" and body["reason"] == "PLATFORM_UNAVAILABLE"
    assert body["pec_number"] is None and body["journal_reference"] is None
    assert services.journal.status()["recorded"] == 0

def test_revoked_card_expired_token_and_suspended_account_offline(gw):
    client, services, _ = gw(revoked_cards=["S-9"], suspended=["opt-bad"])
    revoked = client.post("/v1/eligibility", json=eligibility_body("S-9"), headers=auth()).get_json()
    assert revoked["decision"] == "not_eligible" and revoked["reason"] == "CARD_REVOKED"
    expired = client.post("/v1/eligibility", json=eligibility_body(), headers=auth(now=time.time() - 3600))
    assert expired.status_code == 401
    suspended = client.post("/v1/eligibility", json=eligibility_body(), headers=auth(client_id="opt-bad"))
    assert suspended.status_code == 403 and suspended.get_json()["code"] == "ACCOUNT_SUSPENDED"
    assert services.journal.status()["recorded"] == 0

def test_offline_pec_is_found_again_by_its_number_and_replays_on_the_same_key(gw):
    client, services, _ = gw()
    headers = {**auth(), "Idempotency-Key": "quote-77"}
    first = client.post("/v1/pec", json=pec_body(), headers=headers).get_json()
    assert first["decision"] == "accepted" and first["pec_number"] == first["journal_reference"]
    assert first["amc"] == "52.60"  # frame 30 - 5.40 AMO, lens 40 - 12.00 AMO: 100% Santé
    again = client.post("/v1/pec", json=pec_body(), headers=headers).get_json()
    assert again["pec_number"] == first["pec_number"] and services.journal.status()["recorded"] == 1
    status = client.get(f"/v1/pec/{first['pec_number']}", headers=auth()).get_json()
    assert status["status"] == "provisional" and status["mode"] == "offline" and status["amc"] == "52.60"
    other = client.get(f"/v1/pec/{first['pec_number']}", headers=auth(client_id="opt-000002"))
    assert other.status_code == 404

def test_no_caches_no_offline_answer(gw):
    client, services, _ = gw(caches=False)
    r = client.post("/v1/eligibility", json=eligibility_body(), headers=auth())
    assert r.status_code == 503 and r.get_json()["code"] == "PLATFORM_UNAVAILABLE"
    assert client.get("/readyz").status_code == 503

def test_naive_mode_maps_transport_errors_to_502_and_504(gw):
    client, services, platform = gw(resilience="naive")
    assert client.post("/v1/eligibility", json=eligibility_body(), headers=auth()).status_code == 502
    platform.script = lambda r: requests.ReadTimeout("slow")
    r = client.post("/v1/eligibility", json=eligibility_body(), headers=auth())
    assert r.status_code == 504 and r.get_json()["code"] == "UPSTREAM_TIMEOUT"
    assert services.journal.status()["recorded"] == 0

def test_status_metrics_and_readiness(gw):
    client, services, _ = gw()
    client.post("/v1/eligibility", json=eligibility_body(), headers=auth())
    st = client.get("/v1/status").get_json()
    assert st["resilience"] == "full" and st["breaker"]["state"] == "open"
    assert st["journal"] == {"recorded": 1, "pending": 1, "drained": 0, "failed": 0}
    assert st["reconciliation"] == {"confirmed": 0, "adjusted": 0, "rejected": 0, "cancelled": 0,
                                    "exposure_eur": "0.00"}
    assert set(st["caches"]) == {"jwks", "revocations", "standin_policy"} and st["caches"]["jwks"] is not None
    text = client.get("/metrics").get_data(as_text=True)
    assert 'gateway_requests_total{decision="eligible",mode="offline",operation="eligibility"}' in text
    assert 'gateway_breaker_state{state="open"} 1.0' in text and "gateway_journal_pending 1.0" in text
    assert 'gateway_breaker_transitions_total{from_state="closed",to_state="open"}' in text
    assert client.get("/readyz").status_code == 200 and client.get("/healthz").status_code == 200
    assert "/v1/pec/{pec_number}" in client.get("/openapi.json").get_json()["paths"]
