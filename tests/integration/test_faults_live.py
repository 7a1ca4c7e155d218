"""Every fault mode against a live platform process, driven through the control API and the CLI.

One platform for the module; each test sets its fault and the fixture puts the platform
back `up`. A fault reaches the proxy and the workers within ~50 ms, so tests wait for an
observation (`eventually`) rather than for a fixed time.
"""
from __future__ import annotations

import errno
import json
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.support.procs import ADMIN_TOKEN, ROOT, accounts, cards, login, service_account, start_platform
from tiers_payant.cards import peek_amc

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PROPAGATION_S = 0.3  # > the workers' plan cache (50 ms) and the proxy's poll (20 ms), generously


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    proc = start_platform(tmp_path_factory.mktemp("faults"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def pro(platform):
    acc = [a for a in accounts(platform, 2) if a["profession"] == "28"][0]
    return acc, {"Authorization": "Bearer " + login(platform.url, acc["client_id"], acc["client_secret"])}


@pytest.fixture(scope="module")
def catalogue(platform):
    return cards(platform, 60)


@pytest.fixture(autouse=True)
def back_up(platform):
    yield
    set_fault(platform, {"mode": "up"})
    eventually(lambda: requests.get(platform.url + "/healthz", timeout=1).ok)


def set_fault(platform, body: dict, path: str = "/v1/faults") -> dict:
    r = requests.post(platform.extra["control"] + path, json=body, headers=ADMIN, timeout=5)
    assert r.status_code == 201, r.text
    return r.json()


def eventually(check, timeout_s: float = 5.0):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if result := check():
                return result
        except (OSError, requests.RequestException):
            pass
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def refused(platform) -> bool:
    try:
        socket.create_connection(("127.0.0.1", platform.extra["port"]), timeout=1).close()
        return False
    except ConnectionRefusedError as e:
        return e.errno == errno.ECONNREFUSED


def chaos(platform, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator", "chaos", *args, "--control", platform.extra["control"],
                           "--token", ADMIN_TOKEN], cwd=ROOT, capture_output=True, text=True, timeout=30)


def gunicorn_pid(platform) -> str:
    """The supervisor's child (gunicorn's master): the process that would restart if anything did."""
    pid = platform.proc.pid
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0]


def eligibility(platform, pro, case):
    body = {k: case[k] for k in ("card", "beneficiary", "domain")}
    return requests.post(platform.url + "/v1/eligibility", json=body, headers=pro[1], timeout=5)


def test_down_refuses_connections_and_up_restores_them_in_the_same_process(platform):
    before = gunicorn_pid(platform)
    set_fault(platform, {"mode": "down"})
    eventually(lambda: refused(platform))
    set_fault(platform, {"mode": "up"})
    assert eventually(lambda: requests.get(platform.url + "/healthz", timeout=1).status_code == 200)
    assert platform.proc.poll() is None and gunicorn_pid(platform) == before


def test_blackhole_accepts_and_never_answers(platform):
    set_fault(platform, {"mode": "blackhole"})
    time.sleep(PROPAGATION_S)
    socket.create_connection(("127.0.0.1", platform.extra["port"]), timeout=1).close()  # accepted
    with pytest.raises(requests.ReadTimeout):
        requests.get(platform.url + "/v1/keys", timeout=(1, 1))


def test_latency_adds_at_least_the_fixed_delay(platform):
    r = chaos(platform, "latency", "--ms", "300", "--jitter-ms", "50")
    assert r.returncode == 0, r.stderr
    time.sleep(PROPAGATION_S)
    for _ in range(3):
        started = time.perf_counter()
        assert requests.get(platform.url + "/v1/keys", timeout=5).status_code == 200
        assert time.perf_counter() - started >= 0.300


def test_errors_rate_1_gives_the_status_as_a_problem(platform):
    r = chaos(platform, "errors", "--rate", "1", "--status", "503")
    assert r.returncode == 0, r.stderr
    assert "current: errors" in r.stdout
    time.sleep(PROPAGATION_S)
    r = requests.get(platform.url + "/v1/keys", timeout=5)
    assert r.status_code == 503 and r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["code"] == "SERVICE_UNAVAILABLE"


def test_throttle_gives_429_with_retry_after(platform):
    set_fault(platform, {"mode": "throttle", "retry_after": 7})
    time.sleep(PROPAGATION_S)
    r = requests.get(platform.url + "/v1/keys", timeout=5)
    assert (r.status_code, r.headers.get("Retry-After"), r.json()["code"]) == (429, "7", "RATE_LIMITED")


def test_reset_breaks_the_connection(platform):
    set_fault(platform, {"mode": "reset"})
    time.sleep(PROPAGATION_S)
    with pytest.raises(requests.ConnectionError) as info:
        requests.get(platform.url + "/v1/keys", timeout=5)
    assert "reset" in repr(info.value).lower() or "aborted" in repr(info.value).lower()


@pytest.mark.parametrize("kind", ["empty", "truncated"])
def test_malformed_answers_200_with_an_unparsable_body(platform, kind):
    set_fault(platform, {"mode": "malformed", "kind": kind})
    time.sleep(PROPAGATION_S)
    r = requests.get(platform.url + "/v1/keys", timeout=5)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(r.content)
    assert (r.content == b"") if kind == "empty" else len(r.content) > 0
    with pytest.raises(ValueError):
        json.loads(r.content)


def test_flap_alternates_down_and_up(platform):
    set_fault(platform, {"mode": "flap", "down_s": 0.4, "up_s": 0.4})
    eventually(lambda: refused(platform))
    eventually(lambda: requests.get(platform.url + "/healthz", timeout=1).ok)
    eventually(lambda: refused(platform))


def test_a_per_amc_fault_hits_that_amcs_cards_only(platform, pro, catalogue):
    eligible = [c for c in catalogue if c["case"] in ("opti-a", "opti-b")]
    hit = eligible[0]
    spared = next(c for c in eligible if peek_amc(c["card"]) != peek_amc(hit["card"]))
    set_fault(platform, {"mode": "errors", "rate": 1, "status": 502, "amcs": [peek_amc(hit["card"])]})
    time.sleep(PROPAGATION_S)
    assert eligibility(platform, pro, hit).status_code == 502
    r = eligibility(platform, pro, spared)
    assert r.status_code == 200 and r.json()["decision"] == "eligible"


def test_a_timeline_is_observed_at_both_times(platform, tmp_path):
    path = tmp_path / "outage.yaml"
    path.write_text("steps:\n  - {at_s: 0, mode: down}\n  - {at_s: 2, mode: up}\n")
    t0 = time.time()
    r = chaos(platform, "timeline", str(path))
    assert r.returncode == 0, r.stderr
    eventually(lambda: refused(platform), timeout_s=1.5)
    served_at = eventually(lambda: requests.get(platform.url + "/healthz", timeout=1).ok and time.time())
    assert 2.0 <= served_at - t0 < 4.5
    history = requests.get(platform.extra["control"] + "/v1/faults", headers=ADMIN, timeout=5).json()["history"]
    down, up = history[-2:]
    assert (down["mode"], up["mode"]) == ("down", "up")
    assert down["until"] == up["at"] == pytest.approx(down["at"] + 2) and t0 <= down["at"]
    assert "down" in chaos(platform, "status").stdout


def test_control_api_needs_the_admin_token_and_listens_on_loopback_only(platform):
    control = platform.extra["control"]
    for path in ("/v1/faults", "/stats", "/healthz", "/nowhere"):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {ADMIN_TOKEN}"}):
            r = requests.get(control + path, headers=headers, timeout=5)
            assert (r.status_code, r.json()["code"]) == (401, "UNAUTHORIZED")
    r = requests.post(control + "/v1/faults", json={"mode": "down"}, timeout=5)
    assert r.status_code == 401
    assert requests.get(control + "/healthz", headers=ADMIN, timeout=5).json()["api"] == "control"
    assert requests.get(control + "/v1/keys", headers=ADMIN, timeout=5).status_code == 404  # platform route
    assert requests.get(platform.url + "/v1/faults", headers=ADMIN, timeout=5).status_code == 404  # control route
    assert refused(platform) is False  # the fault above was refused: nothing changed
    port = int(control.rsplit(":", 1)[1])
    listening = [line.split()[1] for name in ("/proc/net/tcp", "/proc/net/tcp6") if Path(name).exists()
                 for line in Path(name).read_text().splitlines()[1:]
                 if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == port]
    assert listening == ["0100007F:%04X" % port]  # 127.0.0.1, little-endian hex, and nothing else


def test_control_api_errors_are_problem_documents(platform):
    r = requests.post(platform.extra["control"] + "/v1/faults", json={"mode": "errors", "rate": 2}, headers=ADMIN,
                      timeout=5)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/rate"
    r = chaos(platform, "latency")
    assert r.returncode != 0 and "/ms" in r.stderr


def _pec(platform, pro, case, key, timeout_s=5.0):
    acc, auth = pro
    body = {**{k: case[k] for k in ("card", "beneficiary", "domain")}, "lines": case["quote"]["lines"],
            "professional": {"rpps": acc["rpps"], "profession": acc["profession"]}}
    return requests.post(platform.url + "/v1/pec", json=body, timeout=timeout_s,
                         headers={**auth, "Idempotency-Key": key})


def _advice(platform, case, advice_id):
    token = login(platform.url, *service_account(platform))
    advice = {"advice_id": advice_id, "operation": "eligibility", "at": time.time(), "cause": "unreachable",
              "reference": "J-" + advice_id[:6], "amc_eur": "0.00", "client_id": "opt-000000",
              "request": {k: case[k] for k in ("card", "beneficiary", "domain")}}
    return requests.post(platform.url + "/v1/advices", json={"advices": [advice]}, timeout=5,
                         headers={"Authorization": "Bearer " + token})


def test_faults_never_corrupt_stored_state_and_stats_count_them(platform, pro, catalogue):
    opti = [c for c in catalogue if c["case"] in ("opti-a", "opti-b")]
    keys = [uuid.uuid4().hex for _ in opti[:4]]
    pecs = {k: _pec(platform, pro, c, k).json() for k, c in zip(keys, opti)}
    assert all(p["pec_number"] for p in pecs.values())
    advice_ids = [uuid.uuid4().hex for _ in range(3)]
    for a in advice_ids:
        assert _advice(platform, opti[0], a).status_code == 200
    assert _advice(platform, opti[0], advice_ids[0]).json()["results"][0]["duplicate"] is True
    state = platform.extra["state"] / "platform.sqlite"
    with sqlite3.connect(state) as db:
        before_pecs = dict(db.execute("SELECT pec_number, answer FROM pecs").fetchall())
        before_advices = dict(db.execute("SELECT advice_id, copies FROM advices").fetchall())
    for fault in ({"mode": "errors", "rate": 1}, {"mode": "malformed", "kind": "truncated"}, {"mode": "reset"},
                  {"mode": "down"}, {"mode": "blackhole"}):
        set_fault(platform, fault)
        time.sleep(PROPAGATION_S)
        try:  # a new PEC and a replayed one, under the fault
            _pec(platform, pro, opti[5], uuid.uuid4().hex, timeout_s=1)
            _pec(platform, pro, opti[0], keys[0], timeout_s=1)
        except requests.RequestException:
            pass
    set_fault(platform, {"mode": "up"})
    eventually(lambda: requests.get(platform.url + "/healthz", timeout=1).ok)
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        after_pecs = dict(db.execute("SELECT pec_number, answer FROM pecs").fetchall())
        after_advices = dict(db.execute("SELECT advice_id, copies FROM advices").fetchall())
    assert before_pecs.items() <= after_pecs.items() and before_advices == after_advices
    assert _pec(platform, pro, opti[0], keys[0]).json() == pecs[keys[0]]  # the idempotent replay is intact

    def counted():  # workers flush their counters every second
        s = requests.get(platform.extra["control"] + "/stats", headers=ADMIN, timeout=5).json()
        return s if s["requests"].get("pec", {}).get("503") and s["faults_applied"]["http"].get("malformed") else None
    stats = eventually(counted)
    assert stats["requests"]["pec"]["200"] >= len(pecs) and stats["requests"]["advices"]["200"] >= 4
    assert stats["advices"] == {"received": 4, "unique": 3, "duplicates": 1}
    assert stats["faults_applied"]["transport"]["down"] >= 1 and stats["faults_applied"]["total"] >= 4
    assert stats["suspended_accounts"] == 0
