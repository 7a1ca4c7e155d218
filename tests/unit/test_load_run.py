"""run.py without Locust: from a capture to summary.json and the SLO gate, for every scenario."""
import csv
import json

import pytest

from loadtests import run as run_module
from loadtests.capture import write_capture
from loadtests.collect import RunState
from loadtests.run import RunOptions, locust_commands, locust_totals, report_folder, summarize, verdict_lines
from loadtests.samples import Sample, StatusPoint
from loadtests.scenarios import load, names
from loadtests.stack import Stack

T0 = 1_700_000_000.0


def synthetic_run(folder, scenario, resilience="full"):
    """What a capture looks like when the gateway behaves (full) or forwards blindly (naive)."""
    state = RunState(scenario=scenario, t0=T0)
    recorded = 0
    for phase in scenario.report_phases():
        faulty = phase.fault != "up"
        t = phase.start_s
        while t < phase.end_s:
            if not faulty:
                sample = Sample(T0 + t, "eligibility", "online", "eligible", 200, 20.0, True)
            elif resilience == "full":
                sample = Sample(T0 + t, "pec", "offline", "accepted", 200, 5.0, True)
                recorded += 1
            else:
                sample = Sample(T0 + t, "pec", "none", "problem", 502, 3.0, False, "HTTP 502 UPSTREAM_ERROR")
            state.samples.append(sample)
            breaker = "disabled" if resilience == "naive" else ("open" if faulty else "closed")
            state.points.append(StatusPoint(round(t + 0.05, 3), breaker, 0, recorded, recorded))
            t += 0.1
    journal = {"recorded": recorded, "drained": recorded, "pending": 0}
    state.status = {"breaker": {"state": "closed"}, "journal": journal,
                    "reconciliation": {"confirmed": recorded, "adjusted": 0, "rejected": 0, "exposure_eur": "0.00"}}
    state.status_at_start = {"journal": {"recorded": 0, "drained": 0, "pending": 0}}
    half = len(state.samples) // 2
    state.by_node.update({"worker-0": half, "worker-1": len(state.samples) - half})
    state.workers = 2
    write_capture(folder, state, resilience=resilience, duration_option="")
    with (folder / "locust_stats.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Type", "Name", "Request Count", "Failure Count"])
        w.writerow(["POST", "eligibility", len(state.samples), 0])
        w.writerow(["", "Aggregated", len(state.samples), 0])
    return state


# A scenario that captures its own facts at test stop (phished-account: the intruder's
# account) cannot pass on shop traffic alone; tests/unit/test_load_phished.py covers it.
@pytest.mark.parametrize("name", [n for n in names() if not load(n).hook("on_test_stop")])
def test_a_well_behaved_run_passes_every_scenarios_slos(tmp_path, name):
    scenario = load(name)
    synthetic_run(tmp_path, scenario)
    summary = summarize(tmp_path, scenario, "full")
    failed = [r for r in summary["slos"] if not r["pass"]]
    assert summary["slo_pass"], failed
    assert summary["drain"]["undrained"] == 0
    assert summary["run"]["workers"] == 2 and sum(summary["run"]["samples_by_node"].values()) == summary["requests"]
    assert summary["locust"]["requests"] == summary["requests"]
    assert {"summary.json", "timeline.csv", "timeline.png"} <= {p.name for p in tmp_path.iterdir()}
    assert json.loads((tmp_path / "summary.json").read_text())["slo_pass"] is True


@pytest.mark.parametrize("name", [n for n in names() if any(p.mode != "up" for p in load(n).phases)])
def test_a_naive_gateway_fails_the_gate(tmp_path, name):
    """Every scenario with a fault on its timeline can fail: its gate is not decorative."""
    scenario = load(name)
    synthetic_run(tmp_path, scenario, resilience="naive")
    summary = summarize(tmp_path, scenario, "naive")
    assert summary["slo_pass"] is False
    assert next(r for r in summary["slos"] if r["metric"] == "unexpected")["pass"] is False
    assert any("FAIL" in line for line in verdict_lines(summary))


def test_the_outage_gate_reads_the_degraded_phase_and_the_drain(tmp_path):
    scenario = load("outage")
    state = synthetic_run(tmp_path, scenario)
    capture = json.loads((tmp_path / "capture.json").read_text())
    capture["status_at_end"]["journal"]["drained"] -= 3  # three advices never reconciled
    (tmp_path / "capture.json").write_text(json.dumps(capture))
    summary = summarize(tmp_path, scenario, "full")
    by_name = {r["name"]: r for r in summary["slos"]}
    assert by_name["journal drained (drained == recorded)"]["actual"] == 3
    assert by_name["journal drained (drained == recorded)"]["pass"] is False
    assert by_name["majority offline while degraded"]["actual"] == 1.0
    assert summary["journal"]["recorded"] == len([s for s in state.samples if s.mode == "offline"])


def test_main_exits_1_when_an_slo_fails_and_0_when_all_hold(tmp_path, monkeypatch, capsys):
    scenario = load("steady")
    for resilience, code in (("full", 0), ("naive", 1)):
        folder = tmp_path / resilience
        folder.mkdir()
        synthetic_run(folder, scenario)
        summary = summarize(folder, scenario, resilience)
        if resilience == "naive":
            summary["slo_pass"] = False
        monkeypatch.setattr(run_module, "run", lambda opts, s=summary, f=folder: (s, f))
        assert run_module.main(RunOptions("steady", resilience)) == code
    monkeypatch.setattr(run_module, "run", lambda opts: (None, tmp_path))
    assert run_module.main(RunOptions("steady")) == 2
    assert "report:" in capsys.readouterr().out


def test_locust_commands_local_and_distributed(tmp_path):
    stack = Stack("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3", "full", "t", 20_000)
    [local] = locust_commands(RunOptions("outage", duration="20s"), stack, tmp_path)
    assert "--headless" in local and "--master" not in local and local[local.index("--duration") + 1] == "20s"
    assert "t" not in local  # the admin token never goes on a command line
    master, *workers = locust_commands(RunOptions("steady", workers=2), stack, tmp_path)
    assert "--master" in master and master[master.index("--expect-workers") + 1] == "2"
    assert len(workers) == 2 and all("--worker" in w and "--scenario" in w for w in workers)
    port = master[master.index("--master-bind-port") + 1]
    assert all(w[w.index("--master-port") + 1] == port for w in workers)


def test_report_folders_are_per_scenario_and_never_reused(tmp_path):
    first = report_folder(tmp_path, "outage", now=T0)
    first.mkdir()
    second = report_folder(tmp_path, "outage", now=T0)
    assert first.name.startswith("outage-") and second != first and second.parent == tmp_path
    assert locust_totals(tmp_path) == {}


def test_the_throttle_gate_bounds_the_429s_relayed_to_shops(tmp_path):
    scenario = load("throttle")
    state = synthetic_run(tmp_path, scenario)
    throttled = next(p for p in scenario.report_phases() if p.name == "throttle")
    relayed = [s for s in state.samples if throttled.contains(s.t_s - T0)][::2]  # as if never retried
    state.samples = [Sample(s.t_s, s.operation, "none", "problem", 429, 1001.0, True, "RATE_LIMITED")
                     if s in relayed else s for s in state.samples]
    write_capture(tmp_path, state, resilience="full")
    summary = summarize(tmp_path, scenario, "full")
    by_metric = {r["metric"]: r for r in summary["slos"]}
    assert summary["throttle"]["relayed_429"] == len(relayed)
    assert by_metric["throttle.relayed_429_share"]["pass"] is False
    assert by_metric["unexpected"]["pass"] is True  # honest answers, but too many of them
