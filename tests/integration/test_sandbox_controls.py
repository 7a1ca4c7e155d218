"""Sandbox controls an integrator drives: case names, one case by name, and a reset."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import pytest
import requests

from tests.support.procs import ADMIN_TOKEN, ROOT, accounts, login, start_platform
from simulator.catalogue import CASE_NAMES

pytestmark = pytest.mark.integration
BENEFICIARIES = 20_000


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "SIM_ADMIN_TOKEN": ADMIN_TOKEN})


def test_list_cases_names_every_kind_with_its_expected_answers():
    out = _cli("cards", "--list-cases", "--beneficiaries", str(BENEFICIARIES))
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line for line in out.stdout.splitlines()[1:]}
    assert set(rows) == set(CASE_NAMES) and len(CASE_NAMES) == 19  # 16 kinds, and three quote rules of coverage v2
    assert "not_eligible CARD_REVOKED" in rows["card-revoked"] and "422 NIR_INVALID" in rows["nir-invalid"]
    assert rows["opti-a"].split()[2:] == ["eligible", "accepted"]


def test_case_by_name_gives_cases_of_that_kind_only(platform):
    out = _cli("cards", "--case", "card-revoked", "--count", "3", "--state-dir", str(platform.extra["state"]))
    cases = [json.loads(l) for l in out.stdout.splitlines()]
    assert len(cases) == 3 and {c["case"] for c in cases} == {"card-revoked"}
    assert len({c["card"] for c in cases}) == 3
    assert all(c["expect"] == {"decision": "not_eligible", "reason": "CARD_REVOKED"} for c in cases)
    bad = _cli("cards", "--case", "no-such-case")
    assert bad.returncode == 2 and "--list-cases" in bad.stderr


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    proc = start_platform(tmp_path_factory.mktemp("sandbox"), beneficiaries=BENEFICIARIES, workers=1,
                          env={"SIM_RATE_PER_S": "0"})
    yield proc
    proc.stop()


def _pec(platform, case: dict, acc: dict, token: str) -> dict:
    body = {"card": case["card"], "beneficiary": case["beneficiary"], "domain": case["domain"],
            "professional": {"rpps": acc["rpps"], "profession": acc["profession"]}, "lines": case["quote"]["lines"]}
    r = requests.post(platform.url + "/v1/pec", json=body, timeout=10,
                      headers={"Authorization": "Bearer " + token, "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_sandbox_reset_makes_a_used_up_opti_a_case_accepted_again(platform):
    out = _cli("cards", "--case", "opti-a", "--state-dir", str(platform.extra["state"]))
    case = json.loads(out.stdout)
    acc = next(a for a in accounts(platform, 2) if a["profession"] == "28")
    token = login(platform.url, acc["client_id"], acc["client_secret"])
    first = _pec(platform, case, acc, token)
    assert first["decision"] == "accepted"
    assert _pec(platform, case, acc, token)["reason"] == "RENEWAL_NOT_DUE"  # used up: consumption recorded
    reset = _cli("sandbox", "reset", "--control", platform.extra["control"])
    assert reset.returncode == 0, reset.stderr
    assert "pecs deleted: 1" in reset.stdout and re.search(r"reservations deleted: [1-9]", reset.stdout)  # a PEC reserves its items
    assert _pec(platform, case, acc, token)["decision"] == "accepted"
    status = requests.get(platform.url + "/v1/pec/" + first["pec_number"], timeout=5,
                          headers={"Authorization": "Bearer " + token})
    assert status.status_code == 404  # the reset forgot the PECs too


def test_a_reset_lifts_suspensions_and_needs_the_admin_token(platform):
    acc = accounts(platform, 3)[2]
    control, admin = platform.extra["control"], {"Authorization": "Bearer " + ADMIN_TOKEN}
    assert requests.post(f"{control}/v1/accounts/{acc['client_id']}/suspend", headers=admin, json={},
                         timeout=5).status_code < 300
    refused = requests.post(platform.url + "/oauth/token", timeout=5, data={
        "grant_type": "client_credentials", "client_id": acc["client_id"], "client_secret": acc["client_secret"]})
    assert refused.status_code == 403
    assert requests.post(control + "/v1/sandbox/reset", timeout=5).status_code == 401
    assert requests.post(platform.url + "/v1/sandbox/reset", headers=admin, timeout=5).status_code == 404
    r = requests.post(control + "/v1/sandbox/reset", headers=admin, timeout=10)
    assert r.status_code == 200 and r.json()["accounts_enabled"] == 1
    assert login(platform.url, acc["client_id"], acc["client_secret"])


def test_the_docs_page_shows_the_catalogue_table_and_the_reset(platform):
    page = requests.get(platform.url + "/docs", timeout=10).text
    assert all(f"<code>{name}</code>" in page for name in CASE_NAMES)
    assert "not_eligible CARD_REVOKED" in page and "sandbox reset" in page and 'href="/problems"' in page
