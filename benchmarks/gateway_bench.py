"""Gateway benchmark (not a test): `full` versus `naive` through the same outage, and the hop's cost.

    python benchmarks/gateway_bench.py [--rate 30] [--healthy-s 8] [--outage-s 8] [--recovery-s 14]
                                       [--fault blackhole|down] [--drain-entries 10000] [--wrk-s 5]
                                       [--offline-rate 300] [--json out.json]

One platform process; for each resilience mode a fresh gateway, an open-loop load of
eligibility checks at `--rate` per second (latency counted from each request's scheduled
send time, so a stalled gateway cannot hide its queue), and the same fault timeline set
through the platform's control API: healthy, then `--fault` (blackhole: connections
accepted, never answered), then up again. Prints p50/p99 and error share per phase and
mode, the time from the cut to the first fast offline answer, from the return to a closed
breaker, and the gateway's added latency over a direct platform call when all is well, beside
the floor for that figure on this machine: what a do-nothing forwarder (benchmarks/forwarder.py)
under the same server adds. A second, shorter full-mode outage with the other fault gives the
cut -> first fast offline answer for a refused connection too. Then the offline and drain
phases (benchmarks/gateway_offline.py): durable offline PEC acceptances per second at
saturation beside a do-nothing endpoint, the p99 at --offline-rate, the drain capacity and the
adaptive drain's live p95. Goals (from the issue) are checked at the end; `--json` writes each
figure under a stable top-level name (see FIGURES), the details under `details`.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.procs import (ADMIN_TOKEN, Proc, accounts, cards, free_port, login, spawn,  # noqa: E402
                                 start_gateway, start_platform, wait_http)
from benchmarks import gateway_offline  # noqa: E402

GW_ENV = {"GW_THREADS": "64"}  # both modes alike: enough threads that naive's queue is its own doing
CLIENT_TIMEOUT_S = 35.0


def pct(xs: list[float], p: float) -> float | None:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else None


def ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.1f} ms"


class Load:
    """Open loop: request i is due at start + i/rate, whatever happened to the others."""

    def __init__(self, url: str, bodies: list[dict], headers: dict, rate: float) -> None:
        self.url, self.bodies, self.headers, self.rate = url, bodies, headers, rate
        self.local = threading.local()
        self.records: list[dict] = []
        self.lock = threading.Lock()

    def fire(self, i: int, due: float) -> None:
        s = getattr(self.local, "s", None) or requests.Session()
        self.local.s = s
        rec = {"due": due, "status": None, "mode": None}
        try:
            r = s.post(self.url + "/v1/eligibility", json=self.bodies[i % len(self.bodies)], headers=self.headers,
                       timeout=CLIENT_TIMEOUT_S)
            rec["status"] = r.status_code
            rec["mode"] = r.headers.get("X-Gateway-Mode")
        except requests.RequestException:
            pass
        rec["done"] = time.monotonic()
        rec["latency"] = rec["done"] - due
        with self.lock:
            self.records.append(rec)

    def run(self, duration_s: float, pool: ThreadPoolExecutor) -> list:
        start, futures = time.monotonic(), []
        for i in range(int(duration_s * self.rate)):
            due = start + i / self.rate
            time.sleep(max(0.0, due - time.monotonic()))
            futures.append(pool.submit(self.fire, i, due))
        return futures


def set_fault(platform, mode: str) -> None:
    """Through the control API; if it is not there, freeze (SIGSTOP) or thaw the platform."""
    try:
        r = requests.post(platform.extra["control"] + "/v1/faults", json={"mode": mode},
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=5)
        r.raise_for_status()
    except requests.RequestException:
        os.killpg(platform.proc.pid, signal.SIGCONT if mode == "up" else signal.SIGSTOP)


def watch_status(url: str, stop: threading.Event, out: list) -> None:
    s = requests.Session()
    while not stop.wait(0.05):
        try:
            out.append((time.monotonic(), s.get(url + "/v1/status", timeout=1).json()))
        except (requests.RequestException, ValueError):
            pass


def start_forwarder(platform_url: str, tmp: Path) -> Proc:
    """benchmarks/forwarder.py under gunicorn with the gateway's worker settings: the floor."""
    port = free_port()
    proc = spawn(["-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "-k", "gthread", "--threads",
                  GW_ENV["GW_THREADS"], "--keep-alive", "30", "--no-control-socket", "benchmarks.forwarder:app"],
                 {"FORWARD_TO": platform_url.split("//", 1)[1]}, tmp / "forwarder.log")
    floor = Proc(proc, f"http://127.0.0.1:{port}", tmp / "forwarder.log")
    try:
        wait_http(floor.url + "/healthz", 30)
    except TimeoutError:
        floor.stop()
        raise
    return floor


def added_latency(platform_url: str, gateway_url: str, floor_url: str, body: dict, headers: dict,
                  n: int = 400) -> dict:
    """Direct, through the do-nothing forwarder and through the gateway, interleaved so that
    the machine's drifts touch all three alike; the first 40 rounds warm the pools."""
    times: dict[str, list[float]] = {"direct": [], "floor": [], "via": []}
    s = requests.Session()
    for i in range(n + 40):
        for name, base in (("direct", platform_url), ("floor", floor_url), ("via", gateway_url)):
            t = time.perf_counter()
            s.post(base + "/v1/eligibility", json=body, headers=headers, timeout=5).raise_for_status()
            if i >= 40:
                times[name].append(time.perf_counter() - t)
    d, f, v = (statistics.median(times[k]) for k in ("direct", "floor", "via"))
    return {"direct_p50_ms": d * 1000, "gateway_p50_ms": v * 1000, "added_p50_ms": (v - d) * 1000, "ratio": v / d,
            "floor_p50_ms": f * 1000, "floor_added_p50_ms": (f - d) * 1000, "own_added_p50_ms": (v - f) * 1000}


def outage_run(tmp: Path, platform, mode: str, bodies: list, headers: dict, a, fault: str | None = None,
               name: str | None = None, added: bool = True) -> dict:
    fault, name = fault or a.fault, name or mode
    (tmp / name).mkdir(exist_ok=True)
    gw = start_gateway(tmp / name, platform.url, resilience=mode, env=GW_ENV)
    try:
        extra = {}
        if mode == "full" and added:
            floor = start_forwarder(platform.url, tmp)
            try:
                extra = added_latency(platform.url, gw.url, floor.url, bodies[0], headers)
            finally:
                floor.stop()
        load, stop, seen = Load(gw.url, bodies, headers, a.rate), threading.Event(), []
        watcher = threading.Thread(target=watch_status, args=(gw.url, stop, seen), daemon=True)
        with ThreadPoolExecutor(max_workers=400) as pool:
            watcher.start()
            t0 = time.monotonic()
            timer = threading.Thread(target=lambda: load.run(a.healthy_s + a.outage_s + a.recovery_s, pool))
            timer.start()
            time.sleep(a.healthy_s)
            set_fault(platform, fault)
            cut = time.monotonic()
            time.sleep(a.outage_s)
            set_fault(platform, "up")
            back = time.monotonic()
            timer.join()
        stop.set()
        return {"mode": mode, "t0": t0, "cut": cut, "back": back, "records": load.records, "status": seen, **extra}
    finally:
        gw.stop()


def summarise(run: dict, a) -> dict:
    recs, cut, back = run["records"], run["cut"], run["back"]
    def phase(lo, hi):
        sel = [r for r in recs if lo <= r["due"] < hi]
        lat = [r["latency"] for r in sel]
        err = sum(1 for r in sel if not r["status"] or r["status"] >= 500) / len(sel) if sel else None
        return {"n": len(sel), "p50": pct(lat, 50), "p95": pct(lat, 95), "p99": pct(lat, 99), "errors": err}
    out = {"healthy": phase(run["t0"], cut), "outage": phase(cut, back), "recovery": phase(back, float("inf"))}
    states = [(t, s["breaker"]["state"]) for t, s in run["status"] if isinstance(s.get("breaker"), dict)]
    opened = next((t for t, st in states if t >= cut and st == "open"), None)
    closed = next((t for t, st in states if t >= back and st == "closed"), None)
    out["breaker_open_after_s"] = None if opened is None else opened - cut
    out["closed_after_return_s"] = None if closed is None else closed - back
    if opened is not None:
        out["outage_after_open"] = phase(opened, back)
    fast = max(0.05, 2 * (out["healthy"]["p99"] or 0))
    first = [r["done"] - cut for r in recs if r["mode"] == "offline" and r["latency"] <= fast and r["due"] >= cut]
    out["first_fast_offline_s"] = min(first) if first else None
    drained = [(t, s["journal"]) for t, s in run["status"] if t >= back and "journal" in s]
    start = next((t for t, j in drained if j["drained"] > 0), None)
    end = next((t for t, j in drained if start and t > start and j["pending"] == 0), None)
    if start and end:
        total = drained[-1][1]["drained"]
        out["drain"] = {"advices": total, "seconds": end - start, "rate_per_s": total / max(end - start, 1e-3),
                        "live_p95_during": phase(start, end)["p95"]}
    for key in ("direct_p50_ms", "gateway_p50_ms", "added_p50_ms", "ratio", "floor_p50_ms", "floor_added_p50_ms",
                "own_added_p50_ms"):
        if key in run:
            out.setdefault("added_latency", {})[key] = run[key]
    return out


# --json top-level names (other tools read them) -> (goal, is the goal an upper bound)
FIGURES = {
    "whole_outage_p99_ms": (150.0, True),  # full, whole outage, blackhole cut at --rate
    "whole_outage_p99_ratio": (50.0, False),  # naive p99 / full p99, whole outage
    "after_open_p99_ratio": (1.5, True),  # full p99 after the breaker opened / healthy p99
    "first_fast_offline_s": (0.25, True),  # cut -> first fast offline answer (blackhole)
    "closed_after_return_s": (1.0, True),  # return -> breaker closed
    "drain_capacity_per_s": (1000.0, False),  # advices/s, no ceiling
    "drain_live_p95_increase": (0.2, True),  # adaptive drain: live p95 during / healthy - 1
    "offline_acceptances_per_s": (None, False),  # durable offline PEC acceptances/s at saturation
    "offline_vs_floor_ratio": (0.5, False),  # ... / do-nothing endpoint req/s, same server, same run
    "offline_p99_ms_at_300": (20.0, True),  # offline PEC p99 at --offline-rate
    "own_share_p50_ms": (0.25, True),  # gateway added p50 - do-nothing forwarder added p50
}


def figures(full: dict, naive: dict, refused: dict, offline: dict, capacity: dict, adaptive: dict) -> dict:
    f_all, n_all = full["outage"]["p99"], naive["outage"]["p99"]
    f_open = full.get("outage_after_open", {}).get("p99")
    live = adaptive.get("live", {})
    return {
        "whole_outage_p99_ms": f_all * 1000,
        "whole_outage_p99_ratio": n_all / f_all,
        "after_open_p99_ratio": f_open / full["healthy"]["p99"] if f_open else None,
        "first_fast_offline_s": full["first_fast_offline_s"],
        "first_fast_offline_refused_s": refused["first_fast_offline_s"],
        "closed_after_return_s": full["closed_after_return_s"],
        "drain_capacity_per_s": capacity["rate_per_s"] if capacity.get("finished") else None,
        "drain_adaptive_s": adaptive["seconds"] if adaptive.get("finished") else None,
        "drain_adaptive_per_s": adaptive["rate_per_s"],
        "drain_live_p95_increase": live.get("p95_increase"),
        "offline_acceptances_per_s": offline["acceptances_per_s"],
        "offline_floor_per_s": offline["floor"]["rps"],
        "offline_vs_floor_ratio": offline["vs_floor"],
        "offline_p99_ms_at_300": offline["at_rate"]["p99_ms"],
        "added_p50_ms": full.get("added_latency", {}).get("added_p50_ms"),
        "own_share_p50_ms": full.get("added_latency", {}).get("own_added_p50_ms"),
    }


def report(full: dict, naive: dict, refused: dict, offline: dict, capacity: dict, adaptive: dict,
           fig: dict, a) -> list[str]:
    lines = [f"outage: {a.fault} for {a.outage_s}s at {a.rate}/s (healthy {a.healthy_s}s, recovery {a.recovery_s}s)"]
    for name, s in (("full", full), ("naive", naive), ("full/refused", refused)):
        for ph in ("healthy", "outage", "outage_after_open", "recovery"):
            if ph in s:
                p = s[ph]
                lines.append(f"  {name:12} {ph:18} n={p['n']:4} p50={ms(p['p50']):>10} p99={ms(p['p99']):>10} "
                             f"errors={(p['errors'] or 0) * 100:5.1f}%")
    lines.append(f"  whole outage p99: full {fig['whole_outage_p99_ms']:.1f} ms, naive/full "
                 f"{fig['whole_outage_p99_ratio']:.0f}x; after the breaker opened / healthy p99: "
                 f"{_f(fig['after_open_p99_ratio'], '.2f')}")
    lines.append(f"  cut -> first fast offline answer: blackhole {_f(fig['first_fast_offline_s'], '.3f')} s, "
                 f"refused connection {_f(fig['first_fast_offline_refused_s'], '.3f')} s")
    lines.append(f"  breaker opened {_f(full['breaker_open_after_s'], '.3f')} s after the cut, closed "
                 f"{_f(fig['closed_after_return_s'], '.3f')} s after the return")
    w = offline["wrk"]
    lines.append(f"  offline PECs at saturation (wrk, 16 connections): {offline['acceptances']} durable acceptances"
                 f" = {offline['acceptances_per_s']:.0f}/s (wrk: {w['rps']:.0f} answers/s, p99 {_f(w['p99_ms'], '.1f')}"
                 f" ms, {w['non_2xx']} non-2xx); do-nothing endpoint, same server: {offline['floor']['rps']:.0f} req/s;"
                 f" ratio {offline['vs_floor']:.2f}")
    r = offline["at_rate"]
    lines.append(f"  offline PECs at {r['rate']:.0f}/s (open loop): n={r['n']} accepted={r['accepted']} "
                 f"p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms")
    lines.append(f"  drain capacity (no ceiling, fixed pacing): {capacity['drained']} of {capacity['entries']} in "
                 f"{capacity['seconds']:.1f} s = {capacity['rate_per_s']:.0f} advices/s"
                 + ("" if capacity["finished"] else " (NOT finished)"))
    live = adaptive.get("live", {})
    lines.append(f"  adaptive drain of {adaptive['entries']} under {live.get('rate', 0):.0f} rights checks/s: "
                 f"{adaptive['seconds']:.1f} s = {adaptive['rate_per_s']:.0f}/s; live p95 "
                 f"{live.get('during_p95_ms', float('nan')):.1f} ms vs healthy {live.get('healthy_p95_ms', float('nan')):.1f}"
                 f" ms ({_f(fig['drain_live_p95_increase'], '+.0%')})")
    al = full.get("added_latency", {})
    if al:
        lines.append(f"  added latency (all well): direct p50 {al['direct_p50_ms']:.2f} ms, via gateway "
                     f"{al['gateway_p50_ms']:.2f} ms: +{al['added_p50_ms']:.2f} ms; a do-nothing forwarder adds "
                     f"+{al['floor_added_p50_ms']:.2f} ms; the gateway's own share +{al['own_added_p50_ms']:.2f} ms")
    for name, (goal, upper) in FIGURES.items():
        v = fig.get(name)
        if goal is None:
            continue
        ok = v is not None and (v <= goal if upper else v >= goal)
        lines.append(f"  goal {'MET   ' if ok else 'MISSED'} {name} {'<=' if upper else '>='} {goal:g}: {_f(v, '.3g')}")
    return lines


def _f(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=30.0)
    p.add_argument("--healthy-s", type=float, default=8.0)
    p.add_argument("--outage-s", type=float, default=8.0)
    p.add_argument("--recovery-s", type=float, default=14.0)
    p.add_argument("--fault", choices=["blackhole", "down"], default="blackhole")
    p.add_argument("--drain-entries", type=int, default=10_000)
    p.add_argument("--wrk-s", type=float, default=5.0)
    p.add_argument("--offline-rate", type=float, default=300.0)
    p.add_argument("--offline-s", type=float, default=5.0)
    p.add_argument("--offline-cards", type=int, default=4000, help="sandbox cards the offline PECs are drawn from")
    p.add_argument("--json", default=None, help="also write the figures here")
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gwbench-"))
    platform = start_platform(tmp, extra_args=("--detection", "off"), env={"SIM_RATE_PER_S": "0"})
    try:
        acc = next(x for x in accounts(platform, 4) if x["profession"] == "28")
        token = login(platform.url, acc["client_id"], acc["client_secret"])
        headers = {"Authorization": "Bearer " + token}
        pool = cards(platform, max(300, a.offline_cards))
        bodies = [{"card": c["card"], "beneficiary": c["beneficiary"], "domain": c["domain"]}
                  for c in pool[:300] if c["expect"].get("decision") == "eligible"]
        runs = {}
        for mode in ("full", "naive"):
            print(f"running {mode}...", flush=True)
            runs[mode] = summarise(outage_run(tmp, platform, mode, bodies, headers, a), a)
        other = "down" if a.fault == "blackhole" else "blackhole"
        print(f"running full with a {other} cut...", flush=True)
        short = argparse.Namespace(**{**vars(a), "healthy_s": 4.0, "outage_s": 4.0, "recovery_s": 6.0})
        runs["refused"] = summarise(outage_run(tmp, platform, "full", bodies, headers, short, fault=other,
                                               name="full-" + other, added=False), short)
        print("running offline throughput...", flush=True)
        pecs = [{"card": c["card"], "beneficiary": c["beneficiary"], "domain": c["domain"],
                 "professional": {"rpps": acc["rpps"], "profession": acc["profession"]}, **c["quote"]}
                for c in pool if c["case"] in ("opti-a", "opti-b") and "quote" in c]
        offline, accepted = gateway_offline.offline_throughput(tmp, platform, set_fault, start_forwarder, pct, pecs,
                                                               headers, a)
        print("running drain capacity...", flush=True)
        capacity = gateway_offline.drain_run(tmp, "drain-capacity", platform.url, a.drain_entries, accepted, token,
                                             acc["client_id"], {"GW_DRAIN_PACING": "fixed",
                                                                "GW_DRAIN_RATE_PER_S": "1000000"})
        print("running adaptive drain under live load...", flush=True)
        adaptive = gateway_offline.drain_run(tmp, "drain-adaptive", platform.url, a.drain_entries, accepted, token,
                                             acc["client_id"], {}, live=(bodies, headers, a.rate))
        fig = figures(runs["full"], runs["naive"], runs["refused"], offline, capacity, adaptive)
        print("\n".join(report(runs["full"], runs["naive"], runs["refused"], offline, capacity, adaptive, fig, a)))
        if a.json:
            Path(a.json).write_text(json.dumps({**fig, "details": {**runs, "offline": offline, "drain_capacity": capacity,
                                                                   "drain_adaptive": adaptive}},
                                               indent=2, default=str))
    finally:
        set_fault(platform, "up")
        platform.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
