"""`make demo`: the seed's day told in a terminal, in about two and a half minutes.

First the outage with the resilient gateway (`full`): the platform is cut under load, the
breaker opens, shops keep working on provisional offline acceptances, the platform comes
back and the journal drains. Then the same outage, shorter, with the naive gateway: errors
instead of answers. Both verdicts side by side, where the reports are, and everything this
command started is stopped. Exit 0 when the full-mode SLOs hold; the naive failure is the
expected contrast (it shows that the gate can fail).
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table

from loadtests import stack as stacks
from loadtests import run as runs
from loadtests.run import RunOptions, report_folder, run, verdict_lines
from loadtests.scenarios import load, parse_duration, scaled

FULL_DURATION_S, NAIVE_SHARE = 80.0, 0.5
STORY = {
    "healthy": "A normal morning. Opticians and audioprothésistes check rights and ask PECs online.",
    "cut": "The platform is disconnected (a phished account, early 2024). Watch the breaker.",
    "degraded": "Shops keep working: valid cards get provisional offline answers, each one journaled; "
                "revoked or expired cards are still declined.",
    "return": "The platform is back. The breaker closes; the journal drains as advices.",
    "drain": "All online again. Reconciliation tells what the offline hours cost (exposure).",
}
NAIVE_STORY = {"cut": "No breaker, no stand-in: every shop's request now fails. The platform refuses connections, "
                      "so each failure is fast (milliseconds); a link that swallows packets would hang instead.",
               "degraded": "Still down: professionals cannot deliver glasses or hearing aids.",
               "return": "The platform is back and answers again. Nothing was journaled: customers "
                         "turned away during the outage simply went without.",
               "drain": "All online again, with nothing to reconcile, because nothing was served."}


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def story(phase: str | None, resilience: str) -> str:
    return ((NAIVE_STORY if resilience == "naive" else {}).get(phase or "")
            or STORY.get(phase or "", "Starting Locust…" if phase != "done" else "Writing the report…"))


def view(progress: dict[str, Any], resilience: str, duration_s: float) -> Panel:
    phase = progress.get("phase", "starting")
    recent, journal = progress.get("recent") or {}, progress.get("journal") or {}
    rec = progress.get("reconciliation") or {}
    table = Table.grid(padding=(0, 2))
    table.add_row("phase", f"[bold]{phase}[/]", "planned fault", f"[bold]{progress.get('planned_fault', '–')}[/]")
    table.add_row("breaker", f"[bold]{progress.get('breaker') or '–'}[/]", "users", str(progress.get("users", 0)))
    share = recent.get("offline_share")
    table.add_row("answers/s", f"[green]{recent.get('online', 0)} online[/]  [yellow]{recent.get('offline', 0)} "
                  f"offline[/]  {recent.get('declined', 0)} declined  [red]{recent.get('failed', 0)} unexpected[/]",
                  "offline share", "–" if share is None else f"{share:.0%}")
    table.add_row("journal", f"recorded {journal.get('recorded', '–')} · pending {journal.get('pending', '–')}"
                  f" · drained {journal.get('drained', '–')}", "exposure", f"{rec.get('exposure_eur', '–')} €")
    table.add_row("so far", f"{progress.get('requests', 0)} requests, {progress.get('unexpected', 0)} unexpected",
                  "", "")
    elapsed = min(float(progress.get("elapsed_s") or 0), duration_s)
    bar = ProgressBar(total=duration_s, completed=elapsed, width=60)
    return Panel(Group(f"[italic]{story(phase, resilience)}[/]", "", table, "", bar,
                       f"{elapsed:.0f} / {duration_s:.0f} s"),
                 title=f"outage · resilience [bold]{resilience}[/]", border_style="cyan")


def narrated_run(console: Console, stack: stacks.Stack, resilience: str, duration_s: float):
    opts = RunOptions("outage", resilience, duration=str(duration_s), progress=False)
    folder = report_folder(opts.reports, "outage")
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(out=run(opts, stack, folder)), daemon=True)
    worker.start()
    scenario_s = scaled(load("outage"), duration_s).duration_s
    last_phase = None
    if console.is_terminal:
        from rich.live import Live
        with Live(view({}, resilience, scenario_s), console=console, refresh_per_second=4) as live:
            while worker.is_alive():
                live.update(view(_read(folder / "progress.json"), resilience, scenario_s))
                time.sleep(0.25)
    else:  # a log, not an animation: one line per phase
        while worker.is_alive():
            progress = _read(folder / "progress.json")
            if progress.get("phase") not in (None, last_phase):
                last_phase = progress["phase"]
                console.print(f"[{progress.get('elapsed_s', 0):5.1f} s] {last_phase}: "
                              f"{story(last_phase, resilience)} (breaker {progress.get('breaker')})")
            time.sleep(0.5)
    worker.join()
    return result.get("out", (None, folder))


def side_by_side(full: dict | None, naive: dict | None) -> Table:
    def metric(s: dict | None, *keys: str, phase: str | None = None) -> str:
        if s is None:
            return "no report"
        value: Any = next((p for p in s["phases"] if p["name"] == phase), {}) if phase else s
        for k in keys:
            value = value.get(k) if isinstance(value, dict) else None
        if isinstance(value, bool):
            return "[green]PASS[/]" if value else "[red]FAIL[/]"
        if keys[-1].endswith("share") and value is not None:
            return f"{value:.0%}"
        return "–" if value is None else str(value)
    t = Table(title="The same outage, two gateways")
    t.add_column("")
    t.add_column("full (breaker + offline stand-in)")
    t.add_column("naive (plain forwarding)")
    rows = [("requests", ("requests",), None), ("unexpected answers", ("unexpected",), None),
            ("offline share while degraded", ("offline_share",), "degraded"),
            ("p95 while degraded (ms)", ("p95_ms",), "degraded"),
            ("breaker opened after (s)", ("breaker", "opened_after_s"), None),
            ("journal recorded", ("journal", "recorded"), None), ("journal drained", ("journal", "drained"), None),
            ("exposure (EUR)", ("reconciliation", "exposure_eur"), None), ("SLO verdict", ("slo_pass",), None)]
    for label, keys, phase in rows:
        t.add_row(label, metric(full, *keys, phase=phase), metric(naive, *keys, phase=phase))
    t.caption = ("exposure: euros accepted offline that the platform later refused, the cost of staying open · "
                 "naive p95 is low because a refused connection fails in milliseconds")
    return t


def main(duration: str | None = None) -> int:
    console = Console()
    started = time.monotonic()
    full_s = parse_duration(duration) or FULL_DURATION_S
    runs.install_signals()
    console.rule("[bold]Tiers payant: the day the platform went dark")
    console.print("Starting the platform and the gateway (what is already running is reused)…")
    naive = naive_dir = None
    try:
        with stacks.ensure("full") as stack:
            console.print(*stack.describe(), sep="\n")
            full, full_dir = narrated_run(console, stack, "full", full_s)
            console.print(*(verdict_lines(full) if full else ["full run: no report"]), sep="\n", markup=False)
            if not runs.INTERRUPT.is_set():
                console.print("\nNow the same outage with the [bold]naive[/] gateway (no breaker, no stand-in)…")
                stack.switch_gateway("naive", None if "gateway" in stack.started else stacks.free_port())
                naive, naive_dir = narrated_run(console, stack, "naive", full_s * NAIVE_SHARE)
    except stacks.StackError as e:
        console.print(f"[red]cannot start:[/] {e}")
        return 2
    except KeyboardInterrupt:
        console.print("interrupted; everything started was stopped")
        return 130
    console.print(side_by_side(full, naive))
    console.print(f"reports: {full_dir}" + (f"\n         {naive_dir}" if naive_dir else ""))
    if runs.INTERRUPT.is_set():
        console.print("[yellow]interrupted:[/] partial report(s) above; everything started was stopped")
        return 130
    ok = bool(full and full["slo_pass"])
    naive_failed = bool(naive and not naive["slo_pass"])
    console.print(f"full mode: {'[green]SLOs hold[/]' if ok else '[red]SLOs FAILED[/]'}; naive mode: "
                  f"{'[yellow]fails its SLOs, as expected[/]' if naive_failed else '[red]did not fail?[/]'}"
                  f" · {time.monotonic() - started:.0f} s in all")
    return 0 if ok else 1
