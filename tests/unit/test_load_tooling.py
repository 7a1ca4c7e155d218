"""The load tooling's pure parts: the live page's guard, its chart series, scenario checks,
the status line, the identity proof both sides compute, and `make stop`'s pid files."""
import sys
import time
import types

import pytest

from loadtests import owned
from loadtests.live_guard import CSRF_HEADER, SESSION_COOKIE, Guard, allowed_hosts
from loadtests.live_series import series
from loadtests.progress import status_line
from loadtests.samples import Sample
from loadtests.scenario_check import ScenarioError
from loadtests.scenarios import PlannedPhase, from_module
from loadtests.slo import Slo


def test_the_guard_wants_its_host_its_origin_and_the_sessions_token():
    guard = Guard(allowed_hosts(8090))
    ok_headers = {"Host": "127.0.0.1:8090", "Origin": "http://127.0.0.1:8090", CSRF_HEADER: guard.csrf_token("s1")}
    cookies = {SESSION_COOKIE: "s1"}
    assert guard.refusal("POST", ok_headers, cookies) is None
    assert guard.refusal("GET", {"Host": "localhost:8090"}, {}) is None  # reading needs no token
    assert "Host" in guard.refusal("GET", {"Host": "evil.example:8090"}, {})  # DNS rebinding
    assert "Origin" in guard.refusal("POST", {**ok_headers, "Origin": "http://evil.example"}, cookies)
    assert "Origin" in guard.refusal("POST", {**ok_headers, "Origin": "null"}, cookies)
    assert "CSRF" in guard.refusal("POST", {k: v for k, v in ok_headers.items() if k != CSRF_HEADER}, cookies)
    assert "CSRF" in guard.refusal("POST", ok_headers, {SESSION_COOKIE: "another"})  # token of another session
    assert "cross-site" in guard.refusal("GET", {"Host": "127.0.0.1:8090", "Sec-Fetch-Site": "cross-site"}, {})
    assert Guard(guard.hosts).csrf_token("s1") != guard.csrf_token("s1")  # a secret per process
    assert "class.example:8090" in allowed_hosts(8090, "class.example")


def test_the_chart_series_counts_by_kind_per_second_since_the_start():
    t0 = 1000.0
    samples = [Sample(t0 + 1.2, "eligibility", "online", "eligible", 200, 10, True),
               Sample(t0 + 1.5, "eligibility", "offline", "not_eligible", 200, 30, True),
               Sample(t0 + 2.1, "eligibility", "none", "error", 0, 5000, False),
               Sample(t0 + 2.2, "eligibility", "none", "problem", 422, 4, True)]
    points = series(samples, now=t0 + 3.4, since=t0)
    assert [p["t"] for p in points] == [-3, -2, -1]
    assert points[1] == {"t": -2, "online": 1, "offline": 1, "declined": 1, "other": 0, "unexpected": 0,
                         "p95_ms": 30}
    assert points[2]["unexpected"] == 1 and points[2]["other"] == 1
    assert len(series(samples, now=t0 + 500, seconds=90)) == 90


def _module(slos, fault=None, extra=()):
    m = types.ModuleType("loadtests_scenario_mine")
    m.PHASES = [PlannedPhase("healthy", 5, 2, 2), PlannedPhase("cut", 5, 2, 2, fault or {"mode": "down"}, "outage")]
    m.SLOS = slos
    m.EXTRA_METRICS = extra
    return m


def test_a_scenario_is_refused_at_load_with_the_valid_names():
    with pytest.raises(ScenarioError) as e:
        from_module(_module([Slo("opens", "breaker.opend_after_s", "<=", 5)]))
    assert "unknown metric 'breaker.opend_after_s'" in str(e.value) and "breaker.opened_after_s" in str(e.value)
    with pytest.raises(ScenarioError, match=r"unknown phase 'cutt'; phases: healthy, cut"):
        from_module(_module([Slo("fast", "p95_ms", "<=", 5, phase="cutt")]))
    with pytest.raises(ScenarioError, match=r"unknown phase metric 'p59_ms'"):
        from_module(_module([Slo("fast", "p59_ms", "<=", 5, phase="cut")]))
    with pytest.raises(ScenarioError, match=r"unknown mode 'blackhol'; expected one of .*blackhole"):
        from_module(_module([], {"mode": "blackhol"}))
    with pytest.raises(ScenarioError, match=r"the parameters of mode latency are: for_s, amcs, ms, jitter_ms"):
        from_module(_module([], {"mode": "latency", "ms": 100, "jiter_ms": 5}))
    ok = from_module(_module([Slo("caught", "attack.suspended", "==", 1), Slo("fast", "p95_ms", "<=", 5, "cut")],
                             extra=("attack.suspended",)))
    assert ok.name == "mine" and len(ok.slos) == 2


def test_the_status_line_is_compact_and_says_what_it_lacks():
    line = status_line({"elapsed_s": 10.06, "phase": "degraded", "requests": 130, "unexpected": 0,
                        "recent": {"offline_share": 0.93}, "breaker": "open", "journal": {"pending": 61}, "users": 10})
    assert line == ("[  10.1 s] degraded · 130 requests · 0 unexpected · offline 93% · breaker open · "
                    "journal 61 pending · 10 users")
    assert "breaker n/a · journal n/a" in status_line({"phase": "cut"})


def test_both_sides_compute_the_same_identity_proof():
    import hmac

    from loadtests.stack import IDENTITY_CONTEXT
    from simulator.control import identity_proof
    want = hmac.new(b"tok", IDENTITY_CONTEXT + b"abc\n8081", "sha256").hexdigest()
    assert identity_proof("tok", "abc", 8081) == want != identity_proof("other", "abc", 8081)


def test_make_stop_stops_what_a_pid_file_names_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.setattr(owned, "PIDS", tmp_path / "pids")
    proc = owned.spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], env={}, log=tmp_path / "l")
    stranger = owned.spawn("stranger", [sys.executable, "-c", "import time; time.sleep(60)"], env={},
                           log=tmp_path / "l2")
    try:
        # a pid file whose command no longer matches (the pid was reused by someone else): left alone
        (tmp_path / "pids" / f"stranger-{stranger.pid}.pid").write_text(
            f'{{"pid": {stranger.pid}, "cmd": ["something", "else"]}}')
        assert owned.stop_all(say=lambda *_: None) == 1
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is not None and stranger.poll() is None
        assert list((tmp_path / "pids").glob("*.pid")) == []
    finally:
        owned.stop(stranger)
        owned.stop(proc)


def test_an_owned_child_dies_with_its_parent_even_on_sigkill(tmp_path):
    import os
    import signal
    import subprocess

    from tests.support.procs import ROOT
    code = ("import sys, time; from pathlib import Path; from loadtests import owned; "
            f"owned.PIDS = Path({str(tmp_path)!r}); "
            "p = owned.spawn('child', [sys.executable, '-c', 'import time; time.sleep(60)'], env={}, "
            f"log=Path({str(tmp_path / 'log')!r})); print(p.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)  # no cleanup code runs in the parent
    parent.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        if open(f"/proc/{child}/stat").read().split()[2] == "Z":
            break  # a zombie waiting for init to reap it: dead
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the child outlived its parent")
