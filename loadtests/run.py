"""`python -m loadtests run --scenario outage [--users N] [--duration D] [--resilience full|naive]
[--workers N] [--detection on|off]`: one headless run, its report, its SLO verdict as the exit code.

Locust runs as child processes (a master and N local workers when `--workers` is given,
exactly as on several machines), so this process never imports Locust or gevent. The
master leaves `samples.csv` and `capture.json` in the report folder; this module turns
them into `summary.json`, `timeline.csv` and `timeline.png` with `loadtests.report`, next
to Locust's own `locust.html` and `locust_*.csv`.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.report import build_summary, write_report
from loadtests.samples import Sample, StatusPoint
from loadtests.scenarios import Scenario, load, parse_duration, scaled
from loadtests.stack import ROOT, Stack, free_port

LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
CASES = 300  # sandbox cases the users draw their customers from (the locustfile's default)


@dataclass(frozen=True)
class RunOptions:
    scenario: str
    resilience: str = "full"
    users: int | None = None
    duration: str | None = None
    workers: int = 0
    reports: Path = ROOT / "reports"
    detection: str = "on"  # the platform's enumeration detection (a started platform; see stack.ensure)


def report_folder(reports: Path, scenario: str, now: float | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now or time.time()))
    folder, n = reports / f"{scenario}-{stamp}", 1
    while folder.exists():  # two runs in the same second (tests) keep both reports
        n += 1
        folder = reports / f"{scenario}-{stamp}-{n}"
    return folder


def locust_commands(opts: RunOptions, stack: Stack, folder: Path) -> list[list[str]]:
    """The master's command first, then one per worker."""
    common = ["-f", str(LOCUSTFILE), "--host", stack.gateway_url, "--scenario", opts.scenario,
              "--resilience", opts.resilience, "--platform-url", stack.platform_url,
              "--control-url", stack.control_url, "--beneficiaries", str(stack.beneficiaries),
              "--sandbox-seed", str(stack.seed), "--cases", str(CASES),
              "--duration", opts.duration or "", "--peak-users", str(opts.users or 0)]
    master = [sys.executable, "-m", "locust", *common, "--headless", "--out", str(folder),
              "--html", str(folder / "locust.html"), "--csv", str(folder / "locust"),
              "--logfile", str(folder / "locust.log"), "--loglevel", "INFO", "--only-summary"]
    if not opts.workers:
        return [master]
    port = free_port()
    master += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
               "--expect-workers", str(opts.workers), "--expect-workers-max-wait", "60"]
    worker = [sys.executable, "-m", "locust", *common, "--worker", "--master-host", "127.0.0.1",
              "--master-port", str(port), "--loglevel", "WARNING"]
    return [master] + [list(worker) for _ in range(opts.workers)]


def run_locust(opts: RunOptions, stack: Stack, scenario: Scenario, folder: Path) -> int:
    """Run Locust to its end (bounded: the scenario's length plus start-up slack)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **stack.env(), "PYTHONPATH": str(ROOT)}
    procs = []
    for i, cmd in enumerate(locust_commands(opts, stack, folder)):
        log = open(folder / ("locust-master.out" if i == 0 else f"locust-worker-{i}.out"), "wb")
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        log.close()
    try:
        code = procs[0].wait(timeout=scenario.duration_s + 120)
    except subprocess.TimeoutExpired:
        code = 124
    finally:
        for p in procs:  # workers leave when the master quits; make sure of it
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    return code


def locust_totals(folder: Path) -> dict[str, Any]:
    """Locust's own merged statistics (the master's CSV), per request name and overall."""
    path = folder / "locust_stats.csv"
    if not path.exists():
        return {}
    rows = list(csv.DictReader(path.open()))
    by_name = {r["Name"]: {"requests": int(r["Request Count"]), "failures": int(r["Failure Count"])}
               for r in rows if r["Name"] != "Aggregated"}
    total = next((r for r in rows if r["Name"] == "Aggregated"), None)
    return {"requests": int(total["Request Count"]) if total else 0,
            "failures": int(total["Failure Count"]) if total else 0, "by_name": by_name}


def summarize(folder: Path, scenario: Scenario, resilience: str, detection: str | None = None) -> dict[str, Any]:
    """Read what the master captured, write the report, return the summary. Samples of the
    scenario's `apart` operations (an intruder's) reach its `extra_summary` only."""
    capture = json.loads((folder / "capture.json").read_text())
    every = [Sample.from_row(row) for row in csv.DictReader((folder / "samples.csv").open())]
    samples = [s for s in every if s.operation not in scenario.apart]
    points = [StatusPoint(float(t), str(b), int(p), int(r), int(d)) for t, b, p, r, d in capture["points"]]
    end, start = capture.get("status_at_end") or {}, capture.get("status_at_start") or {}
    journal, first = end.get("journal") or {}, start.get("journal") or {}
    extra: dict[str, Any] = {
        "drain": {"undrained": _diff(journal.get("recorded"), journal.get("drained")),
                  "recorded_in_run": _diff(journal.get("recorded"), first.get("recorded", 0)),
                  "drained_in_run": _diff(journal.get("drained"), first.get("drained", 0))},
        "locust": locust_totals(folder),
        "run": {"workers": capture.get("workers"), "samples_by_node": capture.get("by_node"),
                "duration_option": capture.get("duration_option"), "peak_users": scenario.peak_users,
                "notes": capture.get("notes", [])},
    }
    if detection is not None:
        extra["run"]["detection"] = detection
    phases = scenario.report_phases()
    hook = scenario.hook("extra_summary")
    if hook:
        extra.update(hook(every, end, phases, capture=capture))
    summary = build_summary(scenario=scenario.name, resilience=resilience, duration_s=scenario.duration_s,
                            samples=samples, phases=phases, status_points=points, slos=scenario.slos,
                            journal=journal, reconciliation=end.get("reconciliation") or {}, extra=extra)
    with warnings.catch_warnings():  # matplotlib's tight-layout remarks are not the reader's business
        warnings.simplefilter("ignore", UserWarning)
        write_report(folder, summary, samples, phases, points, capture.get("fault_history", []))
    return summary


def _diff(a: Any, b: Any) -> int | None:
    return None if a is None or b is None else int(a) - int(b)


def run(opts: RunOptions, stack: Stack | None = None,
        folder: Path | None = None) -> tuple[dict[str, Any] | None, Path]:
    """One run against `stack` (started and stopped here when not given)."""
    from loadtests import stack as stacks

    scenario = scaled(load(opts.scenario), parse_duration(opts.duration), opts.users)
    folder = folder or report_folder(opts.reports, scenario.name)
    own = stack is None
    stack = stack or stacks.ensure(opts.resilience, detection=opts.detection)
    try:
        stacks.sandbox_cases(stack.seed, stack.beneficiaries, CASES)  # once, before Locust's processes race for it
        code = run_locust(opts, stack, scenario, folder)
    finally:
        if own:
            stack.stop()
    if not (folder / "capture.json").exists():
        print(f"Locust ended (exit {code}) without a capture; see {folder}/locust-master.out", file=sys.stderr)
        return None, folder
    return summarize(folder, scenario, opts.resilience, opts.detection), folder


def verdict_lines(summary: dict[str, Any]) -> list[str]:
    detection = (summary.get("run") or {}).get("detection")
    lines = [f"{summary['scenario']} · resilience {summary['resilience']} · "
             f"{'detection ' + detection + ' · ' if detection else ''}"
             f"{'SLO PASS' if summary['slo_pass'] else 'SLO FAIL'} · {summary['requests']} requests, "
             f"{summary['unexpected']} unexpected, offline share {summary['offline_share']}"]
    for r in summary["slos"]:
        lines.append(f"  [{'ok' if r['pass'] else 'FAIL'}] {r['name']}: {r['metric']} = {r['actual']} "
                     f"(want {r['op']} {r['target']})")
    return lines


def main(opts: RunOptions) -> int:
    summary, folder = run(opts)
    if summary is None:
        return 2
    print("\n".join(verdict_lines(summary)))
    for note in summary["run"].get("notes") or []:  # e.g. a fault timeline the control API refused
        print(f"  note: {note}")
    print(f"report: {folder}")
    return 0 if summary["slo_pass"] else 1

