"""The token endpoint as standard OAuth2 clients see it (RFC 6749 sections 2.3.1, 5.1, 5.2).

authlib and requests-oauthlib are clients nobody here wrote: their success path must get a
token, and their error paths must raise their own `invalid_client` and
`unsupported_grant_type` errors (not hand back a problem document as if it were a token).
Each test uses its own account, so failed-login counters of one do not slow another.
"""
from __future__ import annotations

import base64

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
from oauthlib.oauth2 import (BackendApplicationClient, InvalidClientError, LegacyApplicationClient,
                             UnsupportedGrantTypeError)
from requests_oauthlib import OAuth2Session

from tests.support.procs import accounts, start_platform

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    p = start_platform(tmp_path_factory.mktemp("oauth"), beneficiaries=2_000, workers=1)
    yield p
    p.stop()


@pytest.fixture(autouse=True)
def loopback_http(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # oauthlib refuses http:// otherwise, loopback too


@pytest.fixture(scope="module")
def accs(platform):
    return accounts(platform, 16)


def token_url(platform) -> str:
    return platform.url + "/oauth/token"


def assert_token(tok: dict) -> None:
    assert tok["token_type"] == "Bearer" and tok["expires_in"] > 0 and tok["scope"] and tok["access_token"]


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_client_credentials(platform, accs, method):
    a = accs[0 if method == "client_secret_basic" else 1]
    s = AuthlibSession(a["client_id"], a["client_secret"], token_endpoint_auth_method=method)
    assert_token(s.fetch_token(token_url(platform), grant_type="client_credentials"))
    r = s.post(platform.url + "/v1/eligibility", json={}, timeout=5)  # the token is accepted (422: empty body)
    assert r.status_code == 422


def test_authlib_wrong_secret_raises_invalid_client(platform, accs):
    a = accs[2]
    s = AuthlibSession(a["client_id"], "wrong-" + a["client_secret"], token_endpoint_auth_method="client_secret_basic")
    with pytest.raises(OAuthError) as e:
        s.fetch_token(token_url(platform), grant_type="client_credentials")
    assert e.value.error == "invalid_client"


def test_authlib_unsupported_grant(platform, accs):
    a = accs[3]
    s = AuthlibSession(a["client_id"], a["client_secret"])
    with pytest.raises(OAuthError) as e:
        s.fetch_token(token_url(platform), grant_type="password", username="u", password="p")
    assert e.value.error == "unsupported_grant_type"


@pytest.mark.parametrize("include_client_id", [False, True])  # False: Basic; True: id and secret in the body
def test_requests_oauthlib_client_credentials(platform, accs, include_client_id):
    a = accs[4 if include_client_id else 5]
    s = OAuth2Session(client=BackendApplicationClient(client_id=a["client_id"]))
    tok = s.fetch_token(token_url=token_url(platform), client_id=a["client_id"], client_secret=a["client_secret"],
                        include_client_id=include_client_id)
    assert_token(tok)


def test_requests_oauthlib_wrong_secret_raises_invalid_client(platform, accs):
    a = accs[6]
    s = OAuth2Session(client=BackendApplicationClient(client_id=a["client_id"]))
    with pytest.raises(InvalidClientError):
        s.fetch_token(token_url=token_url(platform), client_id=a["client_id"], client_secret="nope")


def test_requests_oauthlib_unsupported_grant(platform, accs):
    a = accs[7]
    s = OAuth2Session(client=LegacyApplicationClient(client_id=a["client_id"]))
    with pytest.raises(UnsupportedGrantTypeError):
        s.fetch_token(token_url=token_url(platform), username="u", password="p", client_id=a["client_id"],
                      client_secret=a["client_secret"])


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def post(platform, body: str, **headers) -> requests.Response:
    return requests.post(token_url(platform), data=body, timeout=5,
                         headers={"Content-Type": "application/x-www-form-urlencoded", **headers})


def assert_oauth_error(r: requests.Response, status: int, error: str) -> dict:
    assert r.status_code == status, r.text
    doc = r.json()
    assert doc["error"] == error and doc["error_description"], doc
    assert doc["status"] == status and doc["code"]  # still a problem document (RFC 9457)
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"
    return doc


def test_success_headers_and_members(platform, accs):
    a = accs[8]
    r = post(platform, f"grant_type=client_credentials&client_id={a['client_id']}&client_secret={a['client_secret']}")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"
    assert_token(r.json())
    assert set(r.json()["scope"].split()) == {"eligibility", "pec"}


def test_protocol_errors(platform, accs):
    a = accs[9]
    cid, sec = a["client_id"], a["client_secret"]
    assert_oauth_error(post(platform, f"client_id={cid}&client_secret={sec}"), 400, "invalid_request")  # no grant
    assert_oauth_error(post(platform, f"grant_type=client_credentials&grant_type=client_credentials&client_id={cid}"
                                      f"&client_secret={sec}"), 400, "invalid_request")  # repeated
    assert_oauth_error(post(platform, f"grant_type=authorization_code&client_id={cid}&client_secret={sec}"),
                       400, "unsupported_grant_type")
    # Two authentication methods at once: refused even though both are right.
    assert_oauth_error(post(platform, f"grant_type=client_credentials&client_secret={sec}",
                            Authorization=basic(cid, sec)), 400, "invalid_request")
    assert_oauth_error(post(platform, f"grant_type=client_credentials&client_id={cid}&client_secret={sec}&scope=admin"),
                       400, "invalid_scope")
    assert post(platform, f"grant_type=client_credentials&client_id={cid}&client_secret={sec}").status_code == 200


def test_invalid_client_is_401_with_a_challenge(platform, accs):
    a = accs[10]
    r = post(platform, "grant_type=client_credentials", Authorization=basic(a["client_id"], "wrong"))
    assert_oauth_error(r, 401, "invalid_client")
    assert r.headers["WWW-Authenticate"].startswith("Basic realm=")
    r = post(platform, f"grant_type=client_credentials&client_id={a['client_id']}&client_secret=wrong")
    assert_oauth_error(r, 401, "invalid_client")
    assert "WWW-Authenticate" in r.headers
    r = post(platform, "grant_type=client_credentials&client_id=opt-999999&client_secret=x")  # unknown id
    assert_oauth_error(r, 401, "invalid_client")


def test_every_platform_401_carries_a_bearer_challenge(platform):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}):
        r = requests.post(platform.url + "/v1/eligibility", json={}, headers=headers, timeout=5)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer "), r.headers
    r = requests.get(platform.url + "/v1/pec/P-1", timeout=5)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer ")
