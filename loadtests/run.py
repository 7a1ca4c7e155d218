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
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests import owned
from loadtests.progress import Ticker
from loadtests.report import build_summary, write_report
from loadtests.samples import Sample, StatusPoint
from loadtests.scenarios import Scenario, load, parse_duration, scaled
from loadtests.stack import ROOT, Stack, StackError, free_port

INTERRUPT = threading.Event()  # set by SIGINT/SIGTERM/SIGHUP (see `main`): Locust is asked to stop, the report is partial
LOCUST_RUNNING = threading.Event()  # while set, a signal stops Locust gracefully instead of raising
FORCE = threading.Event()  # a second signal: stop Locust now, without its capture

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
    gateway_url: str | None = None  # a target of your own (else GATEWAY_URL, else this product's, started)
    platform_url: str | None = None
    control_url: str | None = None
    progress: bool = True  # print phase changes and a status line (the demo draws its own view)


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
              "--control-url", stack.control_url or "", "--beneficiaries", str(stack.beneficiaries),
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


def run_locust(opts: RunOptions, stack: Stack, scenario: Scenario, folder: Path) -> tuple[int, bool]:
    """Run Locust to its end (bounded: the scenario's length plus start-up slack), or until
    INTERRUPT: then the master is asked to stop (SIGTERM: it still writes its capture).
    Returns (exit code, interrupted)."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **stack.env(), "PYTHONPATH": str(ROOT), "LOADTESTS_WORKER_COUNT": str(opts.workers or 1)}
    procs = []
    ticker = Ticker(folder / "progress.json", scenario) if opts.progress else None
    LOCUST_RUNNING.set()
    try:
        for i, cmd in enumerate(locust_commands(opts, stack, folder)):
            name = "locust-master" if i == 0 else f"locust-worker-{i}"
            procs.append((name, owned.spawn("locust", cmd, env=env, log=folder / f"{name}.out")))
        deadline, interrupted, code = time.monotonic() + scenario.duration_s + 120, False, None
        while code is None:
            code = procs[0][1].poll()
            if code is None and INTERRUPT.is_set() and not interrupted:
                interrupted = True  # the master ends the test and writes its capture (locustfile STOP_FILE)
                (folder / "stop").touch()
                deadline = min(deadline, time.monotonic() + 30)
            elif code is None and (FORCE.is_set() or time.monotonic() > deadline):
                owned.stop(procs[0][1], "locust", signal.SIGTERM, wait_s=10)
                code = 124
            elif code is None:
                if ticker:
                    ticker.tick(print)
                time.sleep(0.5)
    finally:
        LOCUST_RUNNING.clear()
        for _, p in procs:  # workers leave when the master quits; make sure of it
            owned.stop(p, "locust", wait_s=10)
    return (130 if interrupted else code), interrupted


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


def summarize(folder: Path, scenario: Scenario, resilience: str, detection: str | None = None,
              interrupted: bool = False, own_gateway: bool = True) -> dict[str, Any]:
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
        "interrupted": interrupted,
    }
    if detection is not None:
        extra["run"]["detection"] = detection
    phases = scenario.report_phases()
    hook = scenario.hook("extra_summary")
    if hook:
        extra.update(hook(every, end, phases, capture=capture))
    missing = not_collected(capture, own_gateway)
    summary = build_summary(scenario=scenario.name, resilience=resilience, duration_s=scenario.duration_s,
                            samples=samples, phases=phases, status_points=points, slos=scenario.slos,
                            journal=journal, reconciliation=end.get("reconciliation") or {}, extra=extra,
                            not_collected=missing)
    with warnings.catch_warnings():  # matplotlib's tight-layout remarks are not the reader's business
        warnings.simplefilter("ignore", UserWarning)
        plot_hook = scenario.hook("plot_intruder")
        write_report(folder, summary, samples, phases, points, capture.get("fault_history", []),
                     intruder=plot_hook(every, summary) if plot_hook else None)
    return summary


def not_collected(capture: dict[str, Any], own_gateway: bool = True) -> dict[str, str]:
    """Figures the run could not collect, and why: a target that is not this product's
    gateway has no /v1/status (breaker, journal, reconciliation); no control API, no faults."""
    missing: dict[str, str] = {}
    if not capture.get("points") and not (capture.get("status_at_end") or {}).get("journal"):
        why = ("the target does not answer this product's /v1/status" + ("" if own_gateway else " (GATEWAY_URL)"))
        missing.update(breaker=why, journal=why, drain=why, reconciliation=why)
    if not capture.get("control_url"):
        missing["faults"] = "no control API (CONTROL_URL): the platform was not broken on the timeline"
    return missing


def _diff(a: Any, b: Any) -> int | None:
    return None if a is None or b is None else int(a) - int(b)


def run(opts: RunOptions, stack: Stack | None = None,
        folder: Path | None = None) -> tuple[dict[str, Any] | None, Path]:
    """One run against `stack` (started and stopped here when not given)."""
    from loadtests import stack as stacks

    scenario = scaled(load(opts.scenario), parse_duration(opts.duration), opts.users)
    folder = folder or report_folder(opts.reports, scenario.name)
    own = stack is None
    make_stack = scenario.hook("make_stack")  # a scenario that needs its own deployment (replica-failover)
    stack = stack or (make_stack(opts) if make_stack else
                      stacks.ensure(opts.resilience, detection=opts.detection, gateway_url=opts.gateway_url,
                                    platform_url=opts.platform_url, control_url=opts.control_url))
    try:
        if own and opts.progress:
            print("\n".join(stack.describe()), flush=True)
        stack.prepare_sandbox(CASES, scenario.peak_users)  # once, before Locust's processes start
        if opts.progress:
            print(f"{scenario.name}: {len(scenario.phases)} phases, {scenario.duration_s:g} s, "
                  f"up to {scenario.peak_users} users against {stack.gateway_url}; report in {folder}", flush=True)
        code, interrupted = run_locust(opts, stack, scenario, folder)
    finally:
        if own:
            stack.stop()
    if not (folder / "capture.json").exists():
        print(f"Locust ended (exit {code}) without a capture; see {folder}/locust-master.out", file=sys.stderr)
        return None, folder
    return summarize(folder, scenario, opts.resilience, opts.detection, interrupted, stack.own_gateway), folder


def verdict_lines(summary: dict[str, Any]) -> list[str]:
    detection = (summary.get("run") or {}).get("detection")
    verdict = "INTERRUPTED (partial) · " if summary.get("interrupted") else ""
    verdict += "SLO PASS" if summary["slo_pass"] else "SLO FAIL"
    lines = [f"{summary['scenario']} · resilience {summary['resilience']} · "
             f"{'detection ' + detection + ' · ' if detection else ''}"
             f"{verdict} · {summary['requests']} requests, "
             f"{summary['unexpected']} unexpected, offline share {summary['offline_share']}"]
    for r in summary["slos"]:
        mark = "n/a" if r["pass"] is None else ("ok" if r["pass"] else "FAIL")
        actual = "not collected" if r["pass"] is None else r["actual"]
        lines.append(f"  [{mark}] {r['name']}: {r['metric']} = {actual} (want {r['op']} {r['target']})")
    for figure, why in (summary.get("not_collected") or {}).items():
        lines.append(f"  not collected: {figure}: {why}")
    return lines + [f"  {line}" for line in _scenario_lines(summary)]


def _scenario_lines(summary: dict[str, Any]) -> list[str]:
    """The scenario's own lines about its figures (`report_lines(summary)`), if it has them."""
    try:
        hook = load(str(summary.get("scenario"))).hook("report_lines")
    except (KeyError, ValueError):  # a scenario file outside the package: its name is not enough
        return []
    return list(hook(summary)) if hook else []


def _on_signal(signum: int, _frame: Any) -> None:
    if INTERRUPT.is_set():
        FORCE.set()
    INTERRUPT.set()
    if not LOCUST_RUNNING.is_set():  # still starting or already reporting: unwind (stacks stop what they started)
        raise KeyboardInterrupt


def install_signals() -> None:
    """Ctrl-C, `kill` and a closed terminal all end a run the same way: partial report, exit 130."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)


def main(opts: RunOptions) -> int:
    install_signals()
    try:
        summary, folder = run(opts)
    except StackError as e:
        print(f"cannot start: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted before the run started; everything started was stopped", file=sys.stderr)
        return 130
    if summary is None:
        return 130 if INTERRUPT.is_set() else 2
    print("\n".join(verdict_lines(summary)))
    for note in summary["run"].get("notes") or []:  # e.g. a fault timeline the control API refused
        print(f"  note: {note}")
    print(f"report: {folder}")
    if summary.get("interrupted"):
        return 130
    return 0 if summary["slo_pass"] else 1
