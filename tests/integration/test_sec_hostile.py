"""Every hostile input gets a problem document on both services: the right status and
code, security headers, no stack trace, and nothing stored."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import requests

from simulator.accounts import account
from tests.support.procs import ROOT, accounts, cards, login, start_gateway, start_platform
from tiers_payant.httpkit import SECURITY_HEADERS

pytestmark = pytest.mark.integration
HAVE_GATEWAY = (ROOT / "gateway" / "app.py").exists()
JSON = "application/json"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    proc = start_platform(tmp_path_factory.mktemp("hostile"), env={"SIM_RATE_PER_S": "0"})
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def gateway(platform, tmp_path_factory):
    if not HAVE_GATEWAY:
        pytest.skip("gateway/app.py not written yet")
    proc = start_gateway(tmp_path_factory.mktemp("hostile-gw"), platform.url)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def token(platform):
    acc = first_account(platform)
    return login(platform.url, acc["client_id"], acc["client_secret"])


@pytest.fixture(scope="module")
def case(platform):
    return next(c for c in cards(platform, 10) if c["case"] == "opti-a")


def first_account(platform) -> dict:  # issued once per state directory (procs.issued)
    return accounts(platform, 1)[0]


def good_body(case: dict, path: str) -> dict:
    body = {"card": case["card"], "beneficiary": dict(case["beneficiary"]), "domain": case["domain"]}
    if path == "/v1/pec":
        acc = account(42, 0)  # who the first account is: a function of the seed (its secret is not)
        body.update(professional={"rpps": acc.rpps, "profession": acc.profession}, lines=case["quote"]["lines"])
    return body


def mutate(good: dict, **changes) -> bytes:
    body = json.loads(json.dumps(good))
    for path, value in changes.items():
        target, *rest = path.split("__")
        if rest:
            body[target][rest[0]] = value
        else:
            body[target] = value
    return json.dumps(body).encode()


def chunks(data: bytes):
    for i in range(0, len(data), 8192):
        yield data[i:i + 8192]


# name -> (content type, body builder(case), expected status, expected code)
HOSTILE = {
    "over 64 KiB": (JSON, lambda c: mutate(c, card="x" * 70_000), 413, "PAYLOAD_TOO_LARGE"),
    "over 64 KiB chunked": (JSON, lambda c: chunks(mutate(c, card="x" * 70_000)), 413, "PAYLOAD_TOO_LARGE"),
    "nested 40 deep": (JSON, lambda c: b'{"card":' + b"[" * 40 + b"]" * 40 + b"}", 400, "MALFORMED_JSON"),
    "nested 20000 deep": (JSON, lambda c: b"[" * 20_000 + b"]" * 20_000, 400, "MALFORMED_JSON"),
    "unknown field": (JSON, lambda c: mutate(c, admin=True), 422, "VALIDATION_FAILED"),
    "unknown nested field": (JSON, lambda c: mutate(c, beneficiary__last_name="X"), 422, "VALIDATION_FAILED"),
    "rank as string": (JSON, lambda c: mutate(c, beneficiary__birth_rank="1"), 422, "VALIDATION_FAILED"),
    "domain as number": (JSON, lambda c: mutate(c, domain=5), 422, "VALIDATION_FAILED"),
    "date not a date": (JSON, lambda c: mutate(c, date="2026-02-30"), 422, "VALIDATION_FAILED"),
    "NaN rank": (JSON, lambda c: mutate(c, beneficiary__birth_rank=-999).replace(b"-999", b"NaN"), None, None),
    "huge integer": (JSON, lambda c: mutate(c, beneficiary__birth_rank=10**400), None, None),
    "bad NIR key": (JSON, lambda c: mutate(c, beneficiary__nir=c["beneficiary"]["nir"][:13] + (
        "01" if c["beneficiary"]["nir"][13:] != "01" else "02")), 422, "NIR_INVALID"),
    "NIR with letters": (JSON, lambda c: mutate(c, beneficiary__nir="1600705141634AB"), 422, "NIR_INVALID"),
    "lone surrogate": (JSON, lambda c: mutate(c, card="\ud800"), None, None),
    "not JSON": (JSON, lambda c: b"{card: 1", 400, "MALFORMED_JSON"),
    "not UTF-8": (JSON, lambda c: b'{"card": "\xff\xfe"}', 400, "MALFORMED_JSON"),
    "empty body": (JSON, lambda c: b"", 400, "MALFORMED_JSON"),
    "null": (JSON, lambda c: b"null", 422, "VALIDATION_FAILED"),
    "array": (JSON, lambda c: b"[]", 422, "VALIDATION_FAILED"),
    "text/plain": ("text/plain", lambda c: mutate(c), 415, "UNSUPPORTED_MEDIA_TYPE"),
    "form": ("application/x-www-form-urlencoded", lambda c: b"card=x", 415, "UNSUPPORTED_MEDIA_TYPE"),
    "no content type": (None, lambda c: mutate(c), 415, "UNSUPPORTED_MEDIA_TYPE"),
    "xml": ("application/xml", lambda c: b"<card/>", 415, "UNSUPPORTED_MEDIA_TYPE"),
}


def stored(platform) -> tuple[int, int]:
    with sqlite3.connect(Path(platform.extra["state"]) / "platform.sqlite", timeout=10) as db:
        return db.execute("SELECT COUNT(*) FROM pecs").fetchone()[0], db.execute("SELECT COUNT(*) FROM lookups").fetchone()[0]


def assert_problem(r: requests.Response, status: int | None, code: str | None) -> None:
    assert r.status_code < 500, r.text[:300]
    assert r.headers["Content-Type"].startswith("application/problem+json"), (r.status_code, r.text[:200])
    doc = r.json()
    assert doc["status"] == r.status_code and {"type", "title", "detail", "code", "errors"} <= set(doc)
    if status is not None:
        assert (r.status_code, doc["code"]) == (status, code), doc
    else:  # refused, whichever reading of the input trips first
        assert 400 <= r.status_code < 500 and doc["code"] in ("MALFORMED_JSON", "VALIDATION_FAILED")
    for header, value in SECURITY_HEADERS.items():
        assert r.headers.get(header) == value
    assert "Traceback" not in r.text and 'File "' not in r.text and "site-packages" not in r.text


def post(url: str, path: str, token: str, content_type: str | None, body) -> requests.Response:
    headers = {"Authorization": "Bearer " + token}
    if content_type:
        headers["Content-Type"] = content_type
    return requests.post(url + path, data=body, headers=headers, timeout=15)


@pytest.mark.parametrize("path", ["/v1/eligibility", "/v1/pec"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_platform_answers_hostile_input_with_a_problem(platform, token, case, path, name):
    content_type, build, status, code = HOSTILE[name]
    before = stored(platform)
    assert_problem(post(platform.url, path, token, content_type, build(good_body(case, path))), status, code)
    assert stored(platform) == before


@pytest.mark.parametrize("path", ["/v1/eligibility", "/v1/pec"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_gateway_answers_hostile_input_with_a_problem(platform, gateway, token, case, path, name):
    content_type, build, status, code = HOSTILE[name]
    before = stored(platform)
    assert_problem(post(gateway.url, path, token, content_type, build(good_body(case, path))), status, code)
    assert stored(platform) == before


@pytest.mark.parametrize("content_type,body,status,code", [
    (JSON, b'{"a":' * 5000 + b"1" + b"}" * 5000, 400, "MALFORMED_JSON"),
    (JSON, json.dumps({"grant_type": "client_credentials", "client_id": "opt-000000", "client_secret": "\ud800"}).encode(),
     401, "INVALID_CLIENT"),
    (JSON, b"[1, 2]", 400, "INVALID_REQUEST"),  # RFC 6749 section 5.2: invalid_request
    ("application/x-www-form-urlencoded", b"a=" + b"x" * 70_000, 413, "PAYLOAD_TOO_LARGE"),
    ("text/plain", b"grant_type=client_credentials", 415, "UNSUPPORTED_MEDIA_TYPE"),
])
def test_login_refuses_hostile_input_with_a_problem(platform, content_type, body, status, code):
    r = requests.post(platform.url + "/oauth/token", data=body, headers={"Content-Type": content_type}, timeout=10)
    assert_problem(r, status, code)


def test_good_input_still_works_after_all_that(platform, token, case):
    r = post(platform.url, "/v1/eligibility", token, JSON, json.dumps({k: case[k] for k in ("card", "beneficiary",
                                                                                            "domain")}))
    assert r.status_code == 200 and r.json()["decision"] == "eligible"


def test_every_401_carries_a_bearer_challenge_and_the_gateway_relays_the_platforms(platform, gateway, case):
    body = json.dumps({k: case[k] for k in ("card", "beneficiary", "domain")})
    for base in (platform.url, gateway.url):
        r = requests.post(base + "/v1/eligibility", data=body, headers={"Content-Type": JSON}, timeout=10)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer "), (base, r.headers)
    r = post(gateway.url, "/v1/eligibility", "not-a-token", JSON, body)
    direct = post(platform.url, "/v1/eligibility", "not-a-token", JSON, body)
    assert r.status_code == direct.status_code == 401
    assert r.headers["WWW-Authenticate"] == direct.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]  # the platform's own words, relayed
