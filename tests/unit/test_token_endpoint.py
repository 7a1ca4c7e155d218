"""The token request's pure rules, the failed-login waits, the control API's Host check, and
the same work for unknown and known client ids (through Flask's test client, no server)."""
from __future__ import annotations

import base64
import re

import pytest

from simulator.accounts import account
from simulator.api.oauth import parse_token_request
from simulator.app import create_app
from simulator.control import host_allowed, host_name
from simulator.security.logins import LoginPolicy, delay_s, wait_s
from simulator.settings import Settings
from tiers_payant.problems import Problem

FORM = "application/x-www-form-urlencoded"


def code_of(mime: str, raw: bytes, auth: str | None = None) -> str:
    with pytest.raises(Problem) as e:
        parse_token_request(mime, raw, auth)
    return e.value.code


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_both_client_authentication_methods():
    post = parse_token_request(FORM, b"grant_type=client_credentials&client_id=a&client_secret=b", None)
    assert (post.client_id, post.secret, post.method) == ("a", "b", "client_secret_post")
    # RFC 6749 section 2.3.1: id and secret are form-urlencoded before base64.
    b = parse_token_request(FORM, b"grant_type=client_credentials", basic("a%3Ab", "s%2Bt"))
    assert (b.client_id, b.secret, b.method) == ("a:b", "s+t", "client_secret_basic")
    j = parse_token_request("application/json", b'{"grant_type": "client_credentials", "client_id": "a", '
                                                 b'"client_secret": "b", "scope": "pec"}', None)
    assert j.scope == "pec"


@pytest.mark.parametrize("raw,auth,code", [
    (b"client_id=a&client_secret=b", None, "INVALID_REQUEST"),  # no grant_type
    (b"grant_type=&client_id=a&client_secret=b", None, "INVALID_REQUEST"),
    (b"grant_type=client_credentials&grant_type=client_credentials&client_id=a&client_secret=b", None,
     "INVALID_REQUEST"),
    (b"grant_type=password&username=u&password=p", None, "UNSUPPORTED_GRANT_TYPE"),
    (b"grant_type=client_credentials&client_secret=b", basic("a", "b"), "INVALID_REQUEST"),  # two methods
    (b"grant_type=client_credentials&client_id=z", basic("a", "b"), "INVALID_REQUEST"),  # two ids
    (b"grant_type=client_credentials", None, "INVALID_CLIENT"),
    (b"grant_type=client_credentials", "Basic !!!", "INVALID_CLIENT"),
    (b"grant_type=client_credentials&client_id=a&client_id=b&client_secret=c", None, "INVALID_REQUEST"),
])
def test_form_refusals(raw, auth, code):
    assert code_of(FORM, raw, auth) == code


def test_json_refusals():
    assert code_of("application/json", b'{"grant_type": "client_credentials", "grant_type": "x"}') == "INVALID_REQUEST"
    assert code_of("application/json", b'{"grant_type": "client_credentials", "client_id": 5}') == "INVALID_REQUEST"
    assert code_of("text/plain", b"grant_type=client_credentials") == "UNSUPPORTED_MEDIA_TYPE"


def test_backoff_is_exponential_and_bounded():
    p = LoginPolicy(pair_free=5, base_s=1.0, max_delay_s=60.0)
    assert [delay_s(n, 5, p) for n in (0, 4, 5, 6, 7, 20)] == [0.0, 0.0, 1.0, 2.0, 4.0, 60.0]


def test_a_known_address_is_not_held_by_the_id_wide_wait():
    p = LoginPolicy(client_free=20, base_s=1.0, max_delay_s=60.0, forget_after_s=900.0)
    rows = {"client": (25, 100.0)}  # 25 failures for this id from elsewhere, the last at t=100
    assert wait_s(rows, known_source=False, now=101.0, p=p) == pytest.approx(31.0)
    assert wait_s(rows, known_source=True, now=101.0, p=p) == 0.0
    assert wait_s(rows, known_source=False, now=100.0 + 901, p=p) == 0.0  # forgotten
    assert wait_s({"pair": (6, 100.0), "source": (49, 100.0)}, True, 100.5, p) == pytest.approx(1.5)


@pytest.mark.parametrize("header,name", [("127.0.0.1:8082", "127.0.0.1"), ("LOCALHOST", "localhost"),
                                         ("[::1]:8082", "::1"), ("evil.example:8082", "evil.example")])
def test_host_name(header, name):
    assert host_name(header) == name


def test_host_allow_list():
    s = Settings(control_host="127.0.0.1", control_allowed_hosts=("sim.lan",))
    assert host_allowed("localhost:8082", s) and host_allowed("sim.lan", s) and host_allowed("[::1]", s)
    assert not host_allowed("attacker.example", s) and not host_allowed(None, s) and not host_allowed("", s)
    assert not host_allowed("0.0.0.0", Settings(control_host="0.0.0.0"))  # a wildcard bind names no host


@pytest.fixture
def app(tmp_path):
    return create_app(Settings(state_dir=str(tmp_path), beneficiaries=2000, admin_token="adm", control_port=18082,
                               accounts=10))


def test_control_api_refuses_a_foreign_host(app):
    c = app.test_client()
    admin = {"Authorization": "Bearer adm"}
    assert c.get("/v1/faults", base_url="http://127.0.0.1:18082", headers=admin).status_code == 200
    r = c.get("/v1/faults", base_url="http://rebound.example:18082", headers=admin)
    assert r.status_code == 403 and r.json["code"] == "HOST_NOT_ALLOWED"
    assert r.content_type.startswith("application/problem+json")


def statements(app, client_id: str, secret: str) -> list[str]:
    """The SQL a login runs, with the client id blanked out."""
    c = app.test_client()
    conn = app.extensions["platform"].store._conn()  # this thread's connection: the test client runs here
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        r = c.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                         "client_secret": secret})
    finally:
        conn.set_trace_callback(None)
    assert r.status_code == 401
    # The fault plan is re-read on a timer, whatever the request: not part of the login's work.
    return [re.sub(r"\d+\.\d+", "<t>", s.replace(client_id, "<id>")) for s in seen if "fault_plans" not in s]


def test_unknown_and_known_ids_do_the_same_store_work(app):
    known = statements(app, account(42, 3).client_id, "wrong")
    unknown = statements(app, "aud-000777", "wrong")  # well-formed, beyond the sandbox's 10 accounts
    assert known == unknown and any("FROM accounts" in s for s in known)
