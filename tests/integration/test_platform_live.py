"""The platform as integrators meet it: a live process, real HTTP, the sandbox catalogue."""
from __future__ import annotations

import json
import sqlite3
import uuid

import pytest
import requests

from tests.support.procs import accounts, cards, login, service_account, start_platform
from tiers_payant.cards import keys_from_jwks, verify_card
from tiers_payant.schemas import EligibilityAnswer, PecAnswer, ProblemDocument

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    # The catalogue is replayed as fast as possible from one account: far above an honest
    # professional's pace, so the per-account rate limit is off here (tested in test_sec_*).
    proc = start_platform(tmp_path_factory.mktemp("platform"), env={"SIM_RATE_PER_S": "0"})
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def session(platform):
    accs = {a["profession"]: a for a in accounts(platform, 2)}
    tokens = {p: login(platform.url, a["client_id"], a["client_secret"]) for p, a in accs.items()}
    return accs, tokens


@pytest.fixture(scope="module")
def catalogue(platform):
    return cards(platform, 400)


def fresh(catalogue, kind: str, n: int = 0) -> dict:
    """A case the first 200 (the catalogue test) did not use: accepted PECs change renewals."""
    return [c for c in catalogue[200:] if c["case"] == kind][n]


def _answer(r: requests.Response, expect: dict) -> dict:
    body = r.json()
    if "status" in expect:
        assert r.headers["Content-Type"].startswith("application/problem+json")
        return {"status": r.status_code, "code": body.get("code")}
    return {"decision": body["decision"], "reason": body["reason"]}


def _pec_body(case: dict, acc: dict) -> dict:
    return json.loads(json.dumps({"card": case["card"], "beneficiary": case["beneficiary"], "domain": case["domain"],
                                  "professional": {"rpps": acc["rpps"], "profession": acc["profession"]},
                                  **case["quote"]}))  # lines, and a prescription date for some cases


def test_every_catalogue_case_gets_its_expected_answer(platform, session, catalogue):
    accs, tokens = session
    mismatches = []
    for case in catalogue[:200]:
        body = {k: case[k] for k in ("card", "beneficiary", "domain")}
        r = requests.post(platform.url + "/v1/eligibility", json=body, headers={"Authorization": "Bearer " + tokens["28"]},
                          timeout=10)
        got = _answer(r, case["expect"])
        if got != case["expect"]:
            mismatches.append(("eligibility", case["case"], case["expect"], got))
        elif r.status_code == 200:
            EligibilityAnswer.model_validate(r.json())
        prof = "28" if case["domain"] == "OPTI" else "26"
        r = requests.post(platform.url + "/v1/pec", json=_pec_body(case, accs[prof]),
                          headers={"Authorization": "Bearer " + tokens[prof], "Idempotency-Key": uuid.uuid4().hex},
                          timeout=10)
        expect = {k: v for k, v in case["expect_pec"].items() if k != "amc"}
        got = _answer(r, expect)
        if got != expect or ("amc" in case["expect_pec"] and r.json()["amc"] != case["expect_pec"]["amc"]):
            mismatches.append(("pec", case["case"], case["expect_pec"], got))
        elif r.status_code == 200:
            PecAnswer.model_validate(r.json())
    assert mismatches == []


def test_answers_carry_no_identity_the_caller_did_not_send(platform, session, catalogue):
    accs, tokens = session
    case = fresh(catalogue, "opti-a", 0)
    r = requests.post(platform.url + "/v1/pec", json=_pec_body(case, accs["28"]),
                      headers={"Authorization": "Bearer " + tokens["28"]}, timeout=10)
    text = r.text
    card = verify_card(case["card"], keys_from_jwks(requests.get(platform.url + "/v1/keys", timeout=5).json()).get)[0]
    assert card is not None
    for b in card.beneficiaries:
        assert b.nir not in text and b.last_name not in text and b.first_name not in text
        assert b.birth_date.isoformat() not in text


def test_audio_classe_i_adult_at_950_per_ear(platform, session, catalogue):
    accs, tokens = session
    case = fresh(catalogue, "audi-i", 0)
    r = requests.post(platform.url + "/v1/pec", json=_pec_body(case, accs["26"]),
                      headers={"Authorization": "Bearer " + tokens["26"]}, timeout=10)
    line = r.json()["lines"][0]
    assert (line["amo"], line["amc"], line["patient"]) == ("240.00", "710.00", "0.00")
    for line in r.json()["lines"]:
        assert sum(float(line[k]) for k in ("amo", "amc", "patient")) == pytest.approx(950.0)


def _count_pecs(platform) -> int:
    with sqlite3.connect(platform.extra["state"] / "platform.sqlite") as db:
        return db.execute("SELECT COUNT(*) FROM pecs").fetchone()[0]


@pytest.mark.parametrize("headers,data,status,code", [
    ({"Content-Type": "application/json"}, b"{not json", 400, "MALFORMED_JSON"),
    ({"Content-Type": "text/plain"}, b"{}", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ({"Content-Type": "application/json"}, b'{"a":' + b"[" * 40 + b"]" * 40 + b"}", 400, "MALFORMED_JSON"),
    ({"Content-Type": "application/json"}, b'{"card": "' + b"x" * 70_000 + b'"}', 413, "PAYLOAD_TOO_LARGE"),
    ({"Content-Type": "application/json"}, b'{"unknown": 1}', 422, "VALIDATION_FAILED"),
    ({"Content-Type": "application/json"}, b"[]", 422, "VALIDATION_FAILED"),
])
def test_bad_input_is_a_problem_and_nothing_is_stored(platform, session, headers, data, status, code):
    accs, tokens = session
    before = _count_pecs(platform)
    r = requests.post(platform.url + "/v1/pec", data=data,
                      headers={**headers, "Authorization": "Bearer " + tokens["28"]}, timeout=10)
    assert r.status_code == status
    assert r.headers["Content-Type"].startswith("application/problem+json")
    doc = ProblemDocument.model_validate(r.json())
    assert doc.code == code and doc.status == status
    assert _count_pecs(platform) == before


def test_field_errors_have_paths_and_bad_nir_is_nir_invalid(platform, session, catalogue):
    accs, tokens = session
    case = fresh(catalogue, "opti-a", 1)
    body = _pec_body(case, accs["28"])
    body["beneficiary"] = {**body["beneficiary"], "birth_rank": "1"}
    body["lines"][0]["price"] = -3
    r = requests.post(platform.url + "/v1/pec", json=body, headers={"Authorization": "Bearer " + tokens["28"]}, timeout=10)
    assert r.status_code == 422
    paths = {e["path"] for e in r.json()["errors"]}
    assert {"/beneficiary/birth_rank", "/lines/0/price"} <= paths
    body = _pec_body(case, accs["28"])
    nir = body["beneficiary"]["nir"]
    body["beneficiary"]["nir"] = nir[:13] + ("01" if nir[13:] != "01" else "02")
    r = requests.post(platform.url + "/v1/pec", json=body, headers={"Authorization": "Bearer " + tokens["28"]}, timeout=10)
    assert (r.status_code, r.json()["code"], r.json()["errors"][0]["path"]) == (422, "NIR_INVALID", "/beneficiary/nir")


def test_missing_or_bad_token_is_401(platform):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        r = requests.post(platform.url + "/v1/eligibility", json={}, headers=headers, timeout=5)
        assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"


def test_login_accepts_form_and_json_and_refuses_wrong_secret(platform):
    a = accounts(platform, 1)[0]
    r1 = requests.post(platform.url + "/oauth/token", json={"grant_type": "client_credentials", "client_id": a["client_id"],
                                                            "client_secret": a["client_secret"]}, timeout=5)
    assert r1.status_code == 200 and r1.json()["token_type"] == "Bearer"
    r2 = requests.post(platform.url + "/oauth/token", data={"grant_type": "client_credentials", "client_id": a["client_id"],
                                                            "client_secret": "wrong"}, timeout=5)
    assert r2.status_code == 401 and r2.json()["code"] == "INVALID_CLIENT"


def test_idempotent_pec_and_status(platform, session, catalogue):
    accs, tokens = session
    case = fresh(catalogue, "audi-i", 1)
    headers = {"Authorization": "Bearer " + tokens["26"], "Idempotency-Key": "k-" + uuid.uuid4().hex}
    first = requests.post(platform.url + "/v1/pec", json=_pec_body(case, accs["26"]), headers=headers, timeout=10).json()
    again = requests.post(platform.url + "/v1/pec", json=_pec_body(case, accs["26"]), headers=headers, timeout=10).json()
    assert first["pec_number"] and first == again
    other = _pec_body(case, accs["26"])
    other["lines"] = other["lines"][:1]
    assert requests.post(platform.url + "/v1/pec", json=other, headers=headers, timeout=10).status_code == 422
    status = requests.get(f"{platform.url}/v1/pec/{first['pec_number']}", headers=headers, timeout=5).json()
    assert status["status"] == "valid" and status["amc"] == first["amc"]
    assert requests.get(f"{platform.url}/v1/pec/PEC-NOPE", headers=headers, timeout=5).status_code == 404


def test_keys_revocations_policy_and_openapi(platform, session):
    accs, tokens = session
    auth = {"Authorization": "Bearer " + tokens["28"]}
    jwks = requests.get(platform.url + "/v1/keys", timeout=5).json()
    assert len([k for k in jwks["keys"] if k["tp_use"] == "card"]) == 84
    rev = requests.get(platform.url + "/v1/revocations", headers=auth, timeout=5).json()
    assert rev["version"] >= 1 and len(rev["cards"]) >= 1
    delta = requests.get(platform.url + f"/v1/revocations?since={rev['version']}", headers=auth, timeout=5).json()
    assert delta["cards"] == [] and delta["version"] == rev["version"]
    pol = requests.get(platform.url + "/v1/standin-policy", headers=auth, timeout=5).json()["policies"]
    assert len(pol) == 84 and {"single_ceiling_eur", "cumulative_count", "default"} <= set(pol[0])
    spec = requests.get(platform.url + "/openapi.json", timeout=5).json()
    assert spec["openapi"].startswith("3.1") and "/v1/pec" in spec["paths"]
    assert "CARD_REVOKED" in requests.get(platform.url + "/docs", timeout=5).text


def test_advices_are_stored_once_by_id(platform, session, catalogue):
    token = login(platform.url, *service_account(platform))
    case = fresh(catalogue, "opti-b", 0)
    accs, tokens = session
    advice = {"advice_id": uuid.uuid4().hex, "operation": "eligibility", "at": 1.0e9, "cause": "unreachable",
              "reference": "J-1", "amc_eur": "0.00", "token": tokens["28"],
              "request": {k: case[k] for k in ("card", "beneficiary", "domain")}}
    advice["at"] = __import__("time").time()
    auth = {"Authorization": "Bearer " + token}
    r1 = requests.post(platform.url + "/v1/advices", json={"advices": [advice]}, headers=auth, timeout=10).json()
    r2 = requests.post(platform.url + "/v1/advices", json={"advices": [advice]}, headers=auth, timeout=10).json()
    assert r1["results"][0]["verdict"] == "confirmed" and r1["results"][0]["duplicate"] is False
    assert r2["results"][0]["duplicate"] is True and r2["results"][0]["verdict"] == "confirmed"
    with sqlite3.connect(platform.extra["state"] / "platform.sqlite") as db:
        assert db.execute("SELECT copies FROM advices WHERE advice_id=?", (advice["advice_id"],)).fetchone()[0] == 2
