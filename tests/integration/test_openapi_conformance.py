"""The served OpenAPI documents tell the whole truth: live answers validated by openapi-core.

Every catalogue case and every error class, through the platform and through the gateway
(online, then offline with the platform stopped), each answer validated against the
document the service itself serves at /openapi.json. An undocumented status, an
undocumented problem code (each status's `code` is an enum) or a body off its schema fails.
"""
from __future__ import annotations

import json
import time
import uuid
from collections import Counter

import pytest
import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from tests.support.procs import ADMIN_TOKEN, accounts, cards, login, service_account, start_gateway, start_platform

pytestmark = pytest.mark.integration
BENEFICIARIES = 20_000


class Checker:
    """Sends requests and validates each answer against the service's own document."""

    def __init__(self, base: str) -> None:
        self.base = base
        # openapi-core deserializes application/json only; problem+json is JSON too (RFC 9457 section 3).
        config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
        self.spec = OpenAPI.from_dict(requests.get(base + "/openapi.json", timeout=10).json(), config=config)
        self.failures: list[tuple] = []
        self.seen: Counter = Counter()

    def __call__(self, method: str, path: str, expect: int | None = None, **kw) -> requests.Response:
        r = requests.request(method, self.base + path, timeout=15, **kw)
        self.seen[(method, path.split("?")[0] if not path.startswith("/v1/pec/") else "/v1/pec/{n}", r.status_code)] += 1
        try:
            self.spec.validate_response(RequestsOpenAPIRequest(r.request), RequestsOpenAPIResponse(r))
        except Exception as e:  # noqa: BLE001 - every validation error is a finding
            detail = getattr(e, "__cause__", None) or e
            self.failures.append((method, path[:60], r.status_code, type(e).__name__, str(detail)[:300], r.text[:200]))
        if expect is not None and r.status_code != expect:
            self.failures.append((method, path[:60], "expected", expect, "got", r.status_code, r.text[:200]))
        return r


def _body(case: dict, acc: dict | None = None) -> dict:
    body = {k: case[k] for k in ("card", "beneficiary", "domain")}
    if acc is not None:
        body |= {"professional": {"rpps": acc["rpps"], "profession": acc["profession"]}, "lines": case["quote"]["lines"]}
    return body


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("conformance")
    platform = start_platform(tmp, beneficiaries=BENEFICIARIES, workers=1, env={"SIM_RATE_PER_S": "0"})
    throttled = gateway = None
    try:
        throttled = start_platform(tmp, beneficiaries=2_000, workers=1,
                                   env={"SIM_RATE_PER_S": "0.01", "SIM_RATE_BURST": "1", "SIM_DETECTION": "off"})
        gateway = start_gateway(tmp, platform.url, workers=1)
        yield {"platform": platform, "throttled": throttled, "gateway": gateway}
    finally:
        for p in (gateway, throttled, platform):
            if p is not None:
                p.stop()


@pytest.fixture(scope="module")
def people(world):
    accs = accounts(world["platform"], 6)
    by_prof = {a["profession"]: a for a in reversed(accs)}
    return accs, by_prof


def _professional_replay(check: Checker, catalogue: list[dict], by_prof: dict, tokens: dict) -> list[tuple[str, str]]:
    """Every catalogue case, rights check then PEC; returns the (PEC number, token) pairs issued."""
    issued = []
    for case in catalogue:
        prof = "28" if case["domain"] == "OPTI" else "26"
        auth = {"Authorization": "Bearer " + tokens[prof]}
        check("POST", "/v1/eligibility", json=_body(case), headers=auth)
        r = check("POST", "/v1/pec", json=_body(case, by_prof[prof]),
                  headers={**auth, "Idempotency-Key": uuid.uuid4().hex})
        if r.status_code == 200 and r.json().get("pec_number"):
            issued.append((r.json()["pec_number"], tokens[prof]))
    return issued


def _error_classes(check: Checker, case: dict, acc: dict, token: str, other_token: str) -> None:
    auth = {"Authorization": "Bearer " + token}
    pec = _body(case, acc)
    check("POST", "/v1/eligibility", 401, json=_body(case))
    check("POST", "/v1/eligibility", 401, json=_body(case), headers={"Authorization": "Bearer not.a.token"})
    check("POST", "/v1/eligibility", 400, data=b'{"card": ', headers={**auth, "Content-Type": "application/json"})
    check("POST", "/v1/eligibility", 415, data={"card": "x"}, headers=auth)
    check("POST", "/v1/eligibility", 413, data=b"{" + b" " * 70_000 + b"}",
          headers={**auth, "Content-Type": "application/json"})
    check("POST", "/v1/eligibility", 422, json={**_body(case), "extra": 1}, headers=auth)
    nir = case["beneficiary"]["nir"]
    bad_key = nir[:13] + ("01" if nir[13:] != "01" else "02")
    check("POST", "/v1/eligibility", 422, json={**_body(case), "beneficiary": {**case["beneficiary"], "nir": bad_key}},
          headers=auth)
    numbers = json.loads(json.dumps(pec))
    numbers["lines"][0]["price"] = 30.0
    check("POST", "/v1/pec", 422, json=numbers, headers=auth)
    check("POST", "/v1/pec", 400, json=pec, headers={**auth, "Idempotency-Key": "k" * 200})
    check("POST", "/v1/pec", 403, json=pec, headers={"Authorization": "Bearer " + other_token})  # other profession
    key = uuid.uuid4().hex
    check("POST", "/v1/pec", 200, json=pec, headers={**auth, "Idempotency-Key": key})
    other = json.loads(json.dumps(pec))
    other["lines"][0]["price"] = "1.00"
    check("POST", "/v1/pec", 422, json=other, headers={**auth, "Idempotency-Key": key})  # IDEMPOTENCY_KEY_REUSED
    check("GET", "/v1/pec/PEC-NOPE", 404, headers=auth)
    check("GET", "/v1/pec/PEC-NOPE", 401)
    check("GET", "/v1/pec/" + "A" * 5000, 414, headers=auth)
    check("GET", "/healthz", 431, headers={"X-Big": "a" * 9000})
    check("GET", "/problems/nir-invalid", 200)
    check("GET", "/problems", 200)
    check("GET", "/problems/not-a-code", 404)
    check("GET", "/metrics", 200)
    check("GET", "/healthz", 200)


def test_platform_answers_match_its_served_document(world, people):
    platform = world["platform"]
    check = Checker(platform.url)
    accs, by_prof = people
    acc = by_prof["28"]
    form = {"grant_type": "client_credentials", "client_id": acc["client_id"], "client_secret": acc["client_secret"]}
    tok = check("POST", "/oauth/token", 200, data=form).json()["access_token"]
    check("POST", "/oauth/token", 200, json=form)
    check("POST", "/oauth/token", 401, data={**form, "client_secret": "wrong"})
    check("POST", "/oauth/token", None, data={k: v for k, v in form.items() if k != "grant_type"})  # 400 or 422
    check("POST", "/oauth/token", None, data={**form, "grant_type": "password"})
    check("POST", "/oauth/token", 415, data=b"x", headers={"Content-Type": "text/plain"})
    check("POST", "/oauth/token", 400, data=b"{", headers={"Content-Type": "application/json"})
    tokens = {"28": tok, "26": login(platform.url, by_prof["26"]["client_id"], by_prof["26"]["client_secret"])}
    catalogue = cards(world["platform"], 130)
    issued = _professional_replay(check, catalogue[:100], by_prof, tokens)
    assert issued
    auth = {"Authorization": "Bearer " + tokens["28"]}
    for number, token in issued[:5]:
        check("GET", "/v1/pec/" + number, 200, headers={"Authorization": "Bearer " + token})
    fresh = next(c for c in catalogue[100:] if c["domain"] == "OPTI" and c["expect_pec"]["decision"] == "accepted")
    _error_classes(check, fresh, acc, tokens["28"], tokens["26"])
    keys = check("GET", "/v1/keys", 200)
    check("GET", "/v1/keys", 304, headers={"If-None-Match": keys.headers["ETag"]})
    rev = check("GET", "/v1/revocations", 200, headers=auth)
    check("GET", "/v1/revocations", 304, headers={**auth, "If-None-Match": rev.headers["ETag"]})
    check("GET", "/v1/revocations?since=3", 200, headers=auth)
    check("GET", "/v1/revocations?since=abc", 422, headers=auth)
    check("GET", "/v1/revocations", 401)
    check("GET", "/v1/standin-policy", 200, headers=auth)
    check("GET", "/v1/standin-policy", 401)
    check("POST", "/v1/advices", 403, json={"advices": []}, headers=auth)
    gw = {"Authorization": "Bearer " + login(platform.url, *service_account(platform, "gw-1"))}
    case = cards(world["platform"], 1)[0]
    advice = {"advice_id": uuid.uuid4().hex, "operation": "eligibility", "at": time.time() - 60, "cause": "unreachable",
              "reference": "J-1", "amc_eur": "0.00", "request": _body(case), "client_id": acc["client_id"]}
    check("POST", "/v1/advices", 200, json={"advices": [advice]}, headers=gw)
    check("POST", "/v1/advices", 200, json={"advices": [advice]}, headers=gw)  # duplicate
    check("POST", "/v1/advices", 422, json={"advices": [{**advice, "amc_eur": 3}]}, headers=gw)
    check("GET", "/docs", 200)
    check("GET", "/openapi.json", 200)
    # the sandbox's HTTP faults: every status they inject is documented too
    admin = {"Authorization": "Bearer " + ADMIN_TOKEN}
    for status in (500, 502, 503, 504, 429):
        mode = {"mode": "throttle", "rate": 1.0} if status == 429 else {"mode": "errors", "rate": 1.0, "status": status}
        r = requests.post(platform.extra["control"] + "/v1/faults", json={**mode, "for_s": 30}, headers=admin, timeout=5)
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 10  # every worker reads the new plan within its cache's 50 ms
        while requests.get(platform.url + "/v1/keys", timeout=5).status_code != status:
            assert time.monotonic() < deadline, f"fault {status} never in force"
        check("POST", "/v1/eligibility", status, json=_body(case), headers=auth)
        check("GET", "/v1/keys", status)
    requests.post(platform.extra["control"] + "/v1/faults", json={"mode": "up"}, headers=admin, timeout=5)
    assert check.failures == [], "\n".join(map(str, check.failures))
    print(f"platform: {sum(check.seen.values())} answers validated, statuses {sorted({k[2] for k in check.seen})}")
    statuses = {s for (_, _, s) in check.seen}
    assert {200, 304, 400, 401, 403, 404, 413, 414, 415, 422, 429, 431, 500, 502, 503, 504} <= statuses


def test_rate_limited_answers_are_documented_on_every_authenticated_operation(world, people):
    throttled = world["throttled"]
    check = Checker(throttled.url)
    acc = accounts(throttled, 2)[0]  # its own state directory: its own secrets
    auth = {"Authorization": "Bearer " + login(throttled.url, acc["client_id"], acc["client_secret"])}
    service = {"Authorization": "Bearer " + login(throttled.url, *service_account(throttled, "gw-2"))}
    for method, path, who in (("POST", "/v1/eligibility", auth), ("POST", "/v1/pec", auth),
                              ("GET", "/v1/pec/PEC-X", auth), ("GET", "/v1/revocations", auth),
                              ("GET", "/v1/standin-policy", auth), ("POST", "/v1/advices", service)):
        check(method, path, None, json={}, headers=who)  # spends the burst of 1
        r = check(method, path, 429, json={}, headers=who)
        assert r.headers.get("Retry-After")
    assert check.failures == [], "\n".join(map(str, check.failures))


def test_the_gateway_relays_a_throttled_accounts_429_as_documented(world, people, tmp_path):
    throttled = world["throttled"]
    gateway = start_gateway(tmp_path, throttled.url, workers=1, wait_ready=False)
    try:
        check = Checker(gateway.url)
        acc = accounts(throttled, 2)[1]  # another account: its own bucket of 1
        auth = {"Authorization": "Bearer " + login(throttled.url, acc["client_id"], acc["client_secret"])}
        check("POST", "/v1/eligibility", None, json={}, headers=auth)  # spends the burst of 1
        r = check("POST", "/v1/eligibility", 429, json={}, headers=auth)
        assert r.headers.get("Retry-After") and r.json()["code"] == "RATE_LIMITED"
        assert check.failures == [], "\n".join(map(str, check.failures))
    finally:
        gateway.stop()


def test_gateway_answers_match_its_served_document_online_and_offline(world, people):
    platform, gateway = world["platform"], world["gateway"]
    check = Checker(gateway.url)
    _, by_prof = people
    tokens = {p: login(platform.url, by_prof[p]["client_id"], by_prof[p]["client_secret"]) for p in ("28", "26")}
    catalogue = cards(world["platform"], 200)[130:]  # not used up by the platform's replay
    issued = _professional_replay(check, catalogue[:30], by_prof, tokens)
    fresh = next(c for c in catalogue[30:] if c["domain"] == "OPTI" and c["expect_pec"]["decision"] == "accepted")
    _error_classes(check, fresh, by_prof["28"], tokens["28"], tokens["26"])
    for path in ("/v1/status", "/readyz", "/openapi.json"):
        check("GET", path, 200)
    platform.stop()  # the outage: offline answers, and 503 PLATFORM_UNAVAILABLE where none can be given
    offline = _professional_replay(check, catalogue[50:70], by_prof, tokens)
    number, token = issued[0]
    check("GET", "/v1/pec/" + number, 503, headers={"Authorization": "Bearer " + token})
    for number, token in offline[:3]:
        check("GET", "/v1/pec/" + number, 200, headers={"Authorization": "Bearer " + token})
    check("GET", "/v1/status", 200)
    assert check.failures == [], "\n".join(map(str, check.failures))
    print(f"gateway: {sum(check.seen.values())} answers validated, statuses {sorted({k[2] for k in check.seen})}")
    modes = Counter(k[2] for k in check.seen)
    assert offline and 503 in modes
