"""What the master gathers: samples from request events and worker messages, status points, the capture."""
import csv
import json
from types import SimpleNamespace

from loadtests import collect
from loadtests.capture import capture, progress, write_capture
from loadtests.collect import RunState, merge, sample_of, status_point
from loadtests.samples import Sample, StatusPoint
from loadtests.scenarios import load

T0 = 1_700_000_000.0


def event(verdict, status=200, start=T0 + 1.5, ms=12.5, exception=None):
    return dict(request_type="POST", name="pec", response_time=ms, response=SimpleNamespace(status_code=status),
                context={"verdict": verdict}, exception=exception, start_time=start, url="/v1/pec")


def test_a_checked_answer_becomes_a_sample():
    s = sample_of(**event({"mode": "offline", "decision": "accepted", "expected": True, "reason": ""}))
    assert s == Sample(T0 + 1.5, "pec", "offline", "accepted", 200, 12.5, True, "")


def test_unchecked_requests_are_not_samples_and_a_crashed_check_is_unexpected():
    login = event(None)
    login["context"] = {}
    assert sample_of(**login) is None
    crashed = sample_of(**event({}, status=0, exception=ConnectionError("boom")))
    assert crashed.unexpected and crashed.decision == "error" and "boom" in crashed.reason


def test_the_master_merges_worker_rows_and_counts_them_per_node(monkeypatch):
    state = RunState()
    monkeypatch.setattr(collect, "STATE", state)
    rows = [Sample(T0 + i, "eligibility", "online", "eligible", 200, 5.0, True).to_row() for i in range(3)]
    merge({"node": 0, "rows": rows})
    merge({"node": 1, "rows": rows[:1]})
    assert len(state.samples) == 4 and state.by_node == {"worker-0": 3, "worker-1": 1}


def test_a_worker_flush_sends_its_rows_once(monkeypatch):
    state = RunState(pending_rows=[[1.0, "pec", "online", "accepted", 200, 3.0, True, ""]])
    monkeypatch.setattr(collect, "STATE", state)
    sent = []
    runner = SimpleNamespace(worker_index=2, send_message=lambda kind, data: sent.append((kind, data)))
    collect.flush(runner)
    collect.flush(runner)
    row = [1.0, "pec", "online", "accepted", 200, 3.0, True, ""]
    assert sent == [(collect.SAMPLES_MSG, {"node": 2, "rows": [row]})]


def test_status_points_from_the_gateway_status():
    status = {"breaker": {"state": "open"}, "journal": {"recorded": 9, "pending": 4, "drained": 5}}
    assert status_point(3.25, status) == StatusPoint(3.25, "open", 4, 9, 5)
    assert status_point(1, {"breaker": {"state": "disabled"}, "journal": {}}).breaker == "disabled"
    assert status_point(1, {"status": "ok"}) is None  # not a gateway


def test_recent_rates_rebasing_and_the_phase_clock():
    state = RunState(scenario=load("outage"), t0=T0)
    state.samples = [Sample(T0 + 25 + i / 10, "eligibility", "offline", "eligible", 200, 5, True) for i in range(40)]
    state.samples += [Sample(T0 + 28, "eligibility", "offline", "not_eligible", 200, 5, True)]
    rates = state.recent(now=T0 + 30)  # the last 2 s: 10 samples at 28.0-28.9 and the decline at 28
    assert rates["offline"] == 5.5 and rates["declined"] == 0.5 and rates["offline_share"] == 1.0
    assert state.rebased()[0].t_s == 25.0
    assert state.scenario.kind_at(state.elapsed(T0 + 30)) == "outage"
    assert RunState().kind_now() == "healthy"  # before the test starts


def test_notes_are_kept_once_and_bounded():
    state = RunState()
    for _ in range(3):
        state.note("control API unreachable")
    for i in range(50):
        state.note(f"other {i}")
    assert state.notes.count("control API unreachable") == 1 and len(state.notes) == 20


def test_capture_rebases_the_fault_history_and_progress_names_the_phase(tmp_path):
    state = RunState(scenario=load("outage"), t0=T0, workers=2)
    state.faults = {"history": [{"mode": "down", "at": T0 + 12, "until": T0 + 50, "amcs": []},
                                {"mode": "up", "at": T0 + 50, "until": None, "amcs": []}]}
    state.points = [StatusPoint(13.0, "open", 5, 5, 0)]
    state.samples = [Sample(T0 + 13, "pec", "offline", "accepted", 200, 4, True)]
    state.by_node.update({"worker-0": 1})
    got = capture(state, resilience="full")
    assert got["fault_history"][0]["at"] == 12 and got["fault_history"][0]["until"] == 50
    assert got["fault_history"][1]["until"] is None and got["workers"] == 2 and got["resilience"] == "full"
    p = progress(state, users=30, now=T0 + 13.5)
    assert p["phase"] == "cut" and p["planned_fault"] == "down" and p["breaker"] == "open" and p["requests"] == 1

    write_capture(tmp_path, state, resilience="full")
    rows = list(csv.DictReader((tmp_path / "samples.csv").open()))
    assert Sample.from_row(rows[0]) == Sample(13.0, "pec", "offline", "accepted", 200, 4.0, True, "")
    assert json.loads((tmp_path / "capture.json").read_text())["points"] == [[13.0, "open", 5, 5, 0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["capture.json", "samples.csv"]
