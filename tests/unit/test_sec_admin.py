"""Security routes of the control API, through Flask's test client (no server)."""
from __future__ import annotations

import pytest

from simulator.accounts import account
from simulator.app import create_app
from simulator.settings import Settings

CONTROL = "http://127.0.0.1:18082"
ADMIN = {"Authorization": "Bearer adm-token"}


@pytest.fixture
def app(tmp_path):
    s = Settings(state_dir=str(tmp_path), beneficiaries=2000, admin_token="adm-token", control_port=18082,
                 accounts=10)
    return create_app(s)


@pytest.fixture
def client(app):
    return app.test_client()


def issue(client, *client_ids: str) -> dict[str, str]:
    r = client.post("/v1/sandbox/accounts", base_url=CONTROL, headers=ADMIN, json={"client_ids": list(client_ids)})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    return {row["client_id"]: row["client_secret"] for row in r.json["accounts"]}


def login(client, client_id: str, secret: str):
    return client.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                             "client_secret": secret})


def test_routes_exist_only_on_the_control_port_with_the_admin_token(client):
    for path in ("/v1/alerts", "/v1/accounts/opt-000000"):
        assert client.get(path, headers=ADMIN).status_code == 404  # public port
        r = client.get(path, base_url=CONTROL)
        assert r.status_code == 401 and r.content_type.startswith("application/problem+json")
        assert client.get(path, base_url=CONTROL, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(path, base_url=CONTROL, headers=ADMIN).status_code == 200
    assert client.post("/v1/accounts/opt-000000/enable", headers=ADMIN).status_code == 404


def test_unknown_accounts_are_404(client):
    for cid in ("opt-999999", "nobody", "x" * 100, "aud-000000"):
        r = client.get(f"/v1/accounts/{cid}", base_url=CONTROL, headers=ADMIN)
        assert r.status_code == 404 and r.json["code"] == "NOT_FOUND"
    assert client.get("/v1/accounts/gw-1", base_url=CONTROL, headers=ADMIN).status_code == 200


def test_suspend_enable_cycle_through_the_control_api(client):
    a, other = account(42, 0), account(42, 1)
    secrets = issue(client, a.client_id, other.client_id)
    token = login(client, a.client_id, secrets[a.client_id]).json["access_token"]
    bearer = {"Authorization": "Bearer " + token}
    r = client.post(f"/v1/accounts/{a.client_id}/suspend", base_url=CONTROL, headers=ADMIN)
    assert r.status_code == 200 and r.json["suspended"] and r.json["revoked"]
    refused = client.get("/v1/revocations", headers=bearer)
    assert refused.status_code == 403 and refused.json["code"] == "ACCOUNT_SUSPENDED"
    assert login(client, a.client_id, secrets[a.client_id]).json["code"] == "ACCOUNT_SUSPENDED"
    other_bearer = {"Authorization": "Bearer " + login(client, other.client_id, secrets[other.client_id]).json["access_token"]}
    assert a.client_id in client.get("/v1/revocations", headers=other_bearer).json["accounts"]
    alerts = client.get("/v1/alerts", base_url=CONTROL, headers=ADMIN).json["alerts"]
    assert [(x["kind"], x["client_id"]) for x in alerts] == [("account_suspended", a.client_id)]
    r = client.post(f"/v1/accounts/{a.client_id}/enable", base_url=CONTROL, headers=ADMIN)
    assert r.status_code == 200 and not r.json["suspended"] and not r.json["revoked"]
    assert client.get("/v1/revocations", headers=bearer).status_code == 200  # the old token works again
    assert a.client_id not in client.get("/v1/revocations", headers=bearer).json["accounts"]
    later = client.get(f"/v1/alerts?since={alerts[-1]['id']}", base_url=CONTROL, headers=ADMIN).json["alerts"]
    assert [x["kind"] for x in later] == ["account_enabled"]


def test_reset_credentials_kills_old_tokens_and_the_old_secret(client):
    a = account(42, 2)
    first = issue(client, a.client_id)[a.client_id]
    assert issue(client, a.client_id) == {a.client_id: None}  # shown once: never again
    old = {"Authorization": "Bearer " + login(client, a.client_id, first).json["access_token"]}
    r = client.post(f"/v1/accounts/{a.client_id}/reset-credentials", base_url=CONTROL, headers=ADMIN)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    new_secret = r.json["client_secret"]
    assert r.json["credential_version"] == 1
    assert client.get("/v1/revocations", headers=old).status_code == 401
    assert login(client, a.client_id, first).status_code == 401
    fresh = login(client, a.client_id, new_secret)
    assert fresh.status_code == 200
    assert client.get("/v1/revocations", headers={"Authorization": "Bearer " + fresh.json["access_token"]}).status_code == 200
    report = client.get(f"/v1/accounts/{a.client_id}", base_url=CONTROL, headers=ADMIN).json
    assert report["credential_version"] == 1 and new_secret not in str(report)


@pytest.mark.parametrize("since", ["-1", "abc", "9" * 13, "1.5"])
def test_bad_alert_cursor_is_a_problem(client, since):
    r = client.get(f"/v1/alerts?since={since}", base_url=CONTROL, headers=ADMIN)
    assert r.status_code == 422 and r.content_type.startswith("application/problem+json")


def test_wrong_method_is_a_problem_with_security_headers(client):
    r = client.get("/v1/accounts/opt-000000/enable", base_url=CONTROL, headers=ADMIN)
    # 404 rather than 405: no rule matched, so control.py cannot tell it is one of the control routes
    assert r.status_code in (404, 405) and r.content_type.startswith("application/problem+json")
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_trust_controls_are_control_port_and_admin_token_only_and_validate_their_input(client):
    for method, path in (("GET", "/v1/keys/status"), ("POST", "/v1/keys/rotate"), ("POST", "/v1/keys/retire"),
                         ("POST", "/v1/sandbox/accounts"), ("GET", "/v1/sandbox/cases")):
        assert client.open(path, method=method, headers=ADMIN, json={}).status_code == 404  # public port
        assert client.open(path, method=method, base_url=CONTROL, json={}).status_code == 401
    bad = [("POST", "/v1/keys/rotate", {"amc": "000000000"}), ("POST", "/v1/keys/rotate", {"tokens": "yes"}),
           ("POST", "/v1/keys/rotate", {"tokens": True, "overlap_s": -1}),
           ("POST", "/v1/keys/rotate", {"tokens": True, "overlap_s": float("inf")}),
           ("POST", "/v1/keys/retire", {"kid": "token-9"}), ("POST", "/v1/sandbox/accounts", {"count": 11}),
           ("POST", "/v1/sandbox/accounts", {"client_ids": ["opt-999999"]}),
           ("POST", "/v1/sandbox/accounts", {"client_ids": ["opt-000000"], "reissue": "true"})]
    for method, path, body in bad:
        r = client.open(path, method=method, base_url=CONTROL, headers=ADMIN, json=body)
        assert r.status_code == 422 and r.json["code"] == "VALIDATION_FAILED", (path, body, r.json)
        assert r.content_type.startswith("application/problem+json")
    assert client.get("/v1/sandbox/cases?count=0", base_url=CONTROL, headers=ADMIN).status_code == 422
    assert client.get("/v1/sandbox/cases?case=nope", base_url=CONTROL, headers=ADMIN).status_code == 422
    assert client.get("/v1/accounts/opt-000000", base_url=CONTROL, headers=ADMIN).json["credential_version"] == 0
    status = client.get("/v1/keys/status", base_url=CONTROL, headers=ADMIN).json["keys"]
    assert status and all("private" not in k and k["published"] for k in status)
