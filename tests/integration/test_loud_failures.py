"""A component that cannot work says so, and bad input stores nothing.

- a gateway whose service account is refused: /readyz 503 naming the login failure, an
  ERROR log line with the cause, /v1/status showing it;
- a platform state directory of another population: refused at start, exit 2, both named;
- advices with an impossible `at`: 422, nothing stored;
- a drain whose batch exceeds the platform's body limit, under 50 % of 500s: all drains.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest
import requests

from tests.support.gateway_live import caches_loaded, eligibility, optician, status, wait_until
from tests.support.procs import (ADMIN_TOKEN, ROOT, cards, login, restart_platform, service_account, start_gateway,
                                 start_platform)

pytestmark = pytest.mark.integration


def cli_service_account(platform, client_id: str) -> tuple[str, str]:
    """As an operator provisions a gateway: `simulator accounts --state-dir DIR --service ID`."""
    out = subprocess.run([sys.executable, "-m", "simulator", "accounts", "--service", client_id, "--state-dir",
                          str(platform.extra["state"])], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    values = dict(line.split("=", 1) for line in out.split())
    return values["GW_CLIENT_ID"], values["GW_CLIENT_SECRET"]


def test_a_refused_service_account_is_loud(tmp_path):
    platform = start_platform(tmp_path)
    gw = start_gateway(tmp_path, platform.url, env={"GW_CLIENT_SECRET": "not-the-secret"}, wait_ready=False)
    try:
        start = time.monotonic()
        found = wait_until(lambda: (lambda r: [r] if r.status_code == 503 and "login" in r.text else None)(
            requests.get(gw.url + "/readyz", timeout=2)), 10)  # a list: a 503 Response is falsy
        assert found, "no 503 naming the login within 10 s"
        answer = found[0]
        assert time.monotonic() - start < 10
        problem = answer.json()
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        assert "401" in problem["detail"] and "/oauth/token" in problem["detail"]
        login_health = status(gw.url)["background"]["login"]
        assert login_health["ok"] is False and "401" in login_health["error"]
        lines = [json.loads(l) for l in gw.log().splitlines() if l.startswith("{")]
        assert [l for l in lines if l.get("event") == "service_login_failed" and l["level"] == "error"]
    finally:
        gw.stop()
        platform.stop()


def test_a_gateway_without_a_service_secret_says_so_and_still_relays_online(tmp_path):
    platform = start_platform(tmp_path, beneficiaries=2_000, workers=1)
    gw = start_gateway(tmp_path, platform.url, env={"GW_CLIENT_SECRET": ""}, wait_ready=False)
    try:
        found = wait_until(lambda: (lambda r: [r] if r.status_code == 503 and "no secret" in r.text else None)(
            requests.get(gw.url + "/readyz", timeout=2)), 10)
        assert found, "no 503 naming the missing secret within 10 s"
        assert "--service gw-1" in found[0].json()["detail"]  # the way out
        lines = [json.loads(l) for l in gw.log().splitlines() if l.startswith("{")]
        assert [l for l in lines if l.get("event") == "service_login_failed" and "no secret" in l["error"]]
        acc, token = optician(platform)
        r = requests.post(gw.url + "/v1/eligibility", json=eligibility(cards(platform, 1, case="opti-a")[0]),
                          headers={"Authorization": "Bearer " + token}, timeout=10)
        assert r.json()["mode"] == "online" and r.json()["decision"] == "eligible"
    finally:
        gw.stop()
        platform.stop()


def test_the_right_service_account_for_another_seed_makes_a_ready_gateway(tmp_path):
    platform = start_platform(tmp_path, seed=7)
    client_id, secret = cli_service_account(platform, "gw-3")
    gw = start_gateway(tmp_path, platform.url, env={"GW_CLIENT_ID": client_id, "GW_CLIENT_SECRET": secret})
    try:
        assert requests.get(gw.url + "/readyz", timeout=5).status_code == 200
    finally:
        gw.stop()
        platform.stop()


def test_a_state_directory_of_another_population_is_refused_with_both_named(tmp_path):
    platform = start_platform(tmp_path, seed=42, beneficiaries=20_000)
    platform.stop()
    state = platform.extra["state"]
    cmd = [sys.executable, "-m", "simulator", "serve", "--port", "0", "--control-port", "0",
           "--state-dir", str(state), "--seed", "43", "--beneficiaries", "20000"]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "SIM_ADMIN_TOKEN": ADMIN_TOKEN})
    assert run.returncode == 2, run.stderr[-2000:]
    assert "seed 42" in run.stderr and "seed 43" in run.stderr and "--reset-state" in run.stderr
    with sqlite3.connect(state / "platform.sqlite") as db:  # nothing of the new population was written
        assert "seed\": 42" in db.execute("SELECT value FROM meta WHERE key='population'").fetchone()[0]
    again = start_platform(tmp_path, seed=43, extra_args=("--reset-state",), port=platform.extra["port"],
                           control=int(platform.extra["control"].rsplit(":", 1)[1]))
    again.stop()


def test_advices_with_an_impossible_time_are_refused_and_store_nothing(tmp_path):
    platform = start_platform(tmp_path)
    try:
        token = login(platform.url, *service_account(platform))
        h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        advice = {"advice_id": "a" * 32, "operation": "eligibility", "at": 0, "cause": "timeout", "reference": "J-1",
                  "amc_eur": "0.00", "request": {}, "client_id": "opt-000000"}
        for at in ("1e999", "-1e999", str(time.time() - 30 * 86_400), str(time.time() + 3600)):
            raw = json.dumps({"advices": [advice]}).replace('"at": 0', f'"at": {at}')
            r = requests.post(platform.url + "/v1/advices", data=raw, headers=h, timeout=5)
            assert r.status_code == 422 and r.json()["code"] == "VALIDATION_FAILED", (at, r.text)
        with sqlite3.connect(platform.extra["state"] / "platform.sqlite") as db:
            assert db.execute("SELECT COUNT(*) FROM advices").fetchone()[0] == 0
    finally:
        platform.stop()


def offline_entries(tmp_path, env: dict, fault: dict | None, count: int = 150):
    """A platform and a gateway; `count` offline acceptances made during a cut; `fault` set
    before the cut, so it is in force from the platform's first answer after the return."""
    platform = start_platform(tmp_path)
    gw = None
    try:
        gw = start_gateway(tmp_path, platform.url, env={**env, "GW_OFFLINE_ACCOUNT_MAX_DISTINCT": "1000000"})
        acc, token = optician(platform)  # one account stands for many shops here
        h = {"Authorization": "Bearer " + token}
        assert wait_until(lambda: caches_loaded(gw.url), 20)
        if fault:
            assert requests.post(platform.extra["control"] + "/v1/faults", json=fault,
                                 headers={"Authorization": "Bearer " + ADMIN_TOKEN}, timeout=5).status_code == 201
        eligible = [c for c in cards(platform, 2 * count) if c["case"] in ("opti-a", "opti-b", "audi-i", "audi-ii")][:count]
        platform.stop()
        s = requests.Session()
        refs = [s.post(gw.url + "/v1/eligibility", json=eligibility(c), headers=h, timeout=10).json()
                .get("journal_reference") for c in eligible]
        recorded = status(gw.url)["journal"]["recorded"]
        assert recorded == len([r for r in refs if r]) >= count * 2 // 3
        return restart_platform(tmp_path, platform), gw, recorded
    except BaseException:  # a failed setup leaves no process behind
        if gw is not None:
            gw.stop()
        platform.stop()
        raise


def drained_once(platform, gw, recorded: int) -> list[dict]:
    # every send a coin toss at worst, back-offs under 1 s: a minute and more per thousand is ample
    assert wait_until(lambda: status(gw.url)["journal"]["pending"] == 0, 60 + recorded / 10), status(gw.url)
    st = status(gw.url)
    assert st["journal"]["drained"] == recorded and st["journal"]["failed"] == 0
    with sqlite3.connect(platform.extra["state"] / "platform.sqlite") as db:
        theirs = [r[0] for r in db.execute("SELECT advice_id FROM advices")]
    assert len(theirs) == len(set(theirs)) == recorded
    return [json.loads(l) for l in gw.log().splitlines() if l.startswith("{")]


def test_a_batch_over_the_body_limit_is_bisected_and_everything_drains(tmp_path):
    """GW_DRAIN_BATCH=150 with the byte bound lifted: the first batch exceeds 64 KiB (413)."""
    env = {"GW_DRAIN_BATCH": "150", "GW_DRAIN_BATCH_BYTES": "10000000", "GW_DRAIN_RATE_PER_S": "1000"}
    platform, gw, recorded = offline_entries(tmp_path, env, None)
    try:
        log = drained_once(platform, gw, recorded)
        bisected = [l for l in log if l.get("event") == "drain_batch_refused"]
        assert bisected and all("413 PAYLOAD_TOO_LARGE" in l["error"] for l in bisected)
    finally:
        gw.stop()
        platform.stop()


def test_half_500s_during_the_drain_back_off_per_batch_and_everything_drains(tmp_path):
    """Batches of 5: about 30 sends, each failing with probability 1/2 (the chance that none
    fails is 2^-30), each failure backing off its own batch while the others go on."""
    env = {"GW_DRAIN_BATCH": "5", "GW_DRAIN_RATE_PER_S": "1000", "GW_DRAIN_BACKOFF_BASE_S": "0.05",
           "GW_DRAIN_BACKOFF_MAX_S": "1"}
    platform, gw, recorded = offline_entries(tmp_path, env, {"mode": "errors", "rate": 0.5, "status": 500,
                                                             "for_s": 600})
    try:
        log = drained_once(platform, gw, recorded)
        failures = [l for l in log if l.get("event") == "drain_send_failed"]
        assert any("500 INTERNAL_ERROR from POST /v1/advices" in l["error"] for l in failures)
    finally:
        gw.stop()
        platform.stop()
