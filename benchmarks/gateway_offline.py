"""The gateway benchmark's offline and drain phases (benchmarks/gateway_bench.py runs them).

Offline throughput: with the platform refusing connections, wrk (Debian's, C: not the
bottleneck) sends PECs at saturation to the gateway, then the same load to a do-nothing
endpoint (benchmarks/forwarder.py `/noop`) under the same gunicorn settings: the floor.
Durable acceptances are counted in the journal (each one is on disk before it is
answered), not from wrk's answers. Bodies are PECs the stand-in accepts, each beneficiary
used at most as often as its AMC's offline count allows. Then the p99 at a realistic rate:
an open loop at `--offline-rate` PECs per second, latency from each request's due time.

Drain: journals of `--drain-entries` PEC entries, written directly (the gateway's own
Journal, real requests and professional tokens), drained by a fresh gateway: once with
the pacing fixed very high (GW_DRAIN_PACING=fixed: the capacity), once with the default
adaptive pacing while live traffic runs (its p95 during the drain vs before it).
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import requests

from gateway.offline.journal import OfflineEntry
from gateway.offline.journal_sqlite import SqliteJournal as Journal  # this benchmark measures the SQLite store
from tiers_payant.secrets_at_rest import installation_key, seal
from tests.support.procs import start_gateway

# One account sends thousands of distinct beneficiaries here: by design the offline watch
# would refuse it (an enumeration). The benchmark measures the journal path, so it lifts that limit.
BENCH_ENV = {"GW_THREADS": "64", "GW_OFFLINE_ACCOUNT_MAX_DISTINCT": "100000000"}
WRK_LUA = """
local bodies = {}
for line in io.lines(os.getenv("WRK_BODIES")) do bodies[#bodies + 1] = line end
local n = 0
local counter = 0
function setup(thread) counter = counter + 1; thread:set("offset", counter) end
function init(args) n = math.floor((offset - 1) * #bodies / tonumber(os.getenv("WRK_THREADS"))) end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("WRK_AUTH")
function request()
  n = n + 1
  return wrk.format(nil, os.getenv("WRK_PATH"), nil, bodies[(n % #bodies) + 1])
end
"""


def wrk(url: str, path: str, bodies: list[str], auth: str, seconds: float, connections: int = 16,
        threads: int = 2) -> dict:
    """wrk at saturation; requests/s, p50/p99 and non-2xx answers as wrk reports them."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk not found: apt-get install wrk")
    d = Path(tempfile.mkdtemp(prefix="wrk-"))
    (d / "bodies.txt").write_text("\n".join(bodies) + "\n")
    (d / "post.lua").write_text(WRK_LUA)
    env = {**os.environ, "WRK_BODIES": str(d / "bodies.txt"), "WRK_AUTH": auth, "WRK_PATH": path,
           "WRK_THREADS": str(threads)}
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:.0f}s", "--latency",
                          "-s", str(d / "post.lua"), url], env=env, capture_output=True, text=True, check=True).stdout
    shutil.rmtree(d, ignore_errors=True)

    def latency(q: str) -> float | None:
        m = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return None if m is None else float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    total = re.search(r"(\d+) requests in ([\d.]+)(s|m)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50_ms": latency("50"),
            "p99_ms": latency("99"), "requests": int(total.group(1)) if total else None,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0}


def journal_count(path: Path) -> int:
    return Journal(str(path)).status()["recorded"]


def accepted_bodies(gw_url: str, bodies: list[dict], headers: dict) -> list[tuple[dict, dict]]:
    """Each body once through the offline gateway; the ones it accepts, with their answers."""
    def one(body: dict):
        r = requests.post(gw_url + "/v1/pec", json=body, headers=headers, timeout=10)
        doc = r.json() if r.status_code == 200 else {}
        return (body, doc) if doc.get("journal_reference") else None
    with ThreadPoolExecutor(8) as pool:
        return [x for x in pool.map(one, bodies) if x]


def open_loop(url: str, bodies: list[dict], headers: dict, rate: float, seconds: float) -> list[float]:
    """Request i due at start + i/rate; latency from its due time (a queue cannot hide)."""
    local, lat, lock = threading.local(), [], threading.Lock()

    def fire(i: int, due: float) -> None:
        s = getattr(local, "s", None) or requests.Session()
        local.s = s
        r = s.post(url, json=bodies[i % len(bodies)], headers=headers, timeout=10)
        took = time.monotonic() - due
        with lock:
            lat.append(took if r.status_code == 200 else float("inf"))
    with ThreadPoolExecutor(64) as pool:
        start = time.monotonic()
        for i in range(int(rate * seconds)):
            due = start + i / rate
            time.sleep(max(0.0, due - time.monotonic()))
            pool.submit(fire, i, due)
    return lat


def offline_throughput(tmp: Path, platform, set_fault, start_forwarder, pct, pec_bodies: list[dict], headers: dict,
                       a) -> tuple[dict, list[tuple[dict, dict]]]:
    (tmp / "offline").mkdir(exist_ok=True)
    gw = start_gateway(tmp / "offline", platform.url, env=BENCH_ENV)
    journal = gw.extra["journal"]
    floor = None
    try:
        wait_caches(gw.url)
        floor = start_forwarder(platform.url, tmp)  # up while the platform is: its start checks it forwards
        set_fault(platform, "down")
        accepted = accepted_bodies(gw.url, pec_bodies, headers)
        if len(accepted) < 30:
            raise RuntimeError(f"only {len(accepted)} PECs accepted offline")
        third = len(accepted) // 3
        sat, slow = accepted[:2 * third], accepted[2 * third:]
        before = journal_count(journal)
        t = time.monotonic()
        load = wrk(gw.url, "/v1/pec", [_json(b) for b, _ in sat], headers["Authorization"], a.wrk_s)
        wall = time.monotonic() - t
        durable = journal_count(journal) - before
        noop = wrk(floor.url, "/noop", [_json(b) for b, _ in sat], headers["Authorization"], a.wrk_s)
        before = journal_count(journal)
        lat = open_loop(gw.url + "/v1/pec", [b for b, _ in slow], headers, a.offline_rate, a.offline_s)
        paced = journal_count(journal) - before
        set_fault(platform, "up")
        return {"acceptances_per_s": durable / wall, "acceptances": durable, "wrk": load, "floor": noop,
                "vs_floor": (durable / wall) / noop["rps"], "distinct_bodies": len(sat),
                "at_rate": {"rate": a.offline_rate, "n": len(lat), "accepted": paced, "p50_ms": pct(lat, 50) * 1000,
                            "p99_ms": pct(lat, 99) * 1000}}, accepted
    finally:
        set_fault(platform, "up")
        if floor is not None:
            floor.stop()
        gw.stop()


def fill_journal(path: Path, n: int, accepted: list[tuple[dict, dict]], token: str, client_id: str) -> None:
    """`n` PEC entries, as the stand-in writes them (gateway.offline.desk `_sealed`): the
    request with the card named by serial, sealed with the gateway's journal key beside
    the journal, with the professional's token."""
    journal, now = Journal(str(path)), time.time()
    key = installation_key(os.path.join(os.path.dirname(os.path.abspath(path)), "journal.key"))
    items = []
    for i in range(n):  # one transaction: the drain finds them all at once
        body, answer = accepted[i % len(accepted)]
        advice_id = uuid.uuid4().hex
        request = {k: v for k, v in body.items() if k != "card"}
        request["card_ref"] = _card_ref(body["card"])
        sealed = seal(key, {"request": request, "token": token}, advice_id)
        items.append((OfflineEntry(advice_id, "pec", now - 1 + i * 1e-5, request["card_ref"]["amc"],
                                   request["card_ref"]["serial"], "b-%d" % i, body["domain"],
                                   Decimal(answer.get("amc") or "0"), "unreachable",
                                   {"answer": answer, "sealed": sealed}, client_id), None, None))
    journal.record_many(items)
    journal.close()


def _card_ref(card: str) -> dict:
    """The serial and AMC a sandbox card names (read unverified: the bench made these cards)."""
    part = card.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return {"serial": str(claims["serial"]), "amc": str(claims["amc"])}


class LiveLoad(threading.Thread):
    """Rights checks at `rate` per second in an open loop until stopped; (due, latency) kept."""

    def __init__(self, url: str, bodies: list[dict], headers: dict, rate: float) -> None:
        super().__init__(daemon=True)
        self.url, self.bodies, self.headers, self.rate = url, bodies, headers, rate
        self.stop, self.records, self.lock, self.local = threading.Event(), [], threading.Lock(), threading.local()

    def fire(self, i: int, due: float) -> None:
        s = getattr(self.local, "s", None) or requests.Session()
        self.local.s = s
        try:
            ok = s.post(self.url, json=self.bodies[i % len(self.bodies)], headers=self.headers, timeout=10).ok
        except requests.RequestException:
            ok = False
        with self.lock:
            self.records.append((due, time.monotonic() - due if ok else float("inf")))

    def run(self) -> None:
        with ThreadPoolExecutor(64) as pool:
            start, i = time.monotonic(), 0
            while not self.stop.is_set():
                due = start + i / self.rate
                time.sleep(max(0.0, due - time.monotonic()))
                pool.submit(self.fire, i, due)
                i += 1

    def between(self, lo: float, hi: float) -> list[float]:
        with self.lock:
            return [lat for due, lat in self.records if lo <= due < hi]


def drain_run(tmp: Path, name: str, platform_url: str, entries: int, accepted, token: str, client_id: str,
              env: dict, live: tuple[list[dict], dict, float] | None = None, healthy_s: float = 6.0) -> dict:
    """A fresh gateway; with `live` (bodies, headers, rate), rights checks run throughout:
    `healthy_s` before the journal is filled, then during the drain. The drain is timed from
    its first verdict to an empty journal (status polled every 50 ms)."""
    (tmp / name).mkdir(exist_ok=True)
    path = tmp / name / "journal.sqlite"
    gw = start_gateway(tmp / name, platform_url, journal=path, env={**BENCH_ENV, **env})
    load = LiveLoad(gw.url + "/v1/eligibility", *live) if live else None
    try:
        wait_caches(gw.url)
        if load:
            load.start()
            time.sleep(healthy_s)
        filled_at = time.monotonic()
        fill_journal(path, entries, accepted, token, client_id)
        s, first, last, j = requests.Session(), None, None, {}
        deadline = time.monotonic() + max(120.0, entries / 20)
        while time.monotonic() < deadline:
            j = s.get(gw.url + "/v1/status", timeout=5).json()["journal"]
            now = time.monotonic()
            if first is None and j["drained"] > 0:
                first = now
            if j["recorded"] >= entries and j["pending"] == 0:
                last = now
                break
            time.sleep(0.05)
        end = last or time.monotonic()
        out = {"entries": entries, "drained": j.get("drained", 0), "set_aside": j.get("failed", 0),
               "seconds": end - (first or end), "finished": last is not None}
        out["rate_per_s"] = out["drained"] / max(out["seconds"], 1e-3)
        if load:
            load.stop.set()
            load.join(30)
            healthy = load.between(filled_at - healthy_s, filled_at)
            during = load.between(first or end, end)
            out["live"] = {"rate": load.rate, "healthy_n": len(healthy), "during_n": len(during),
                           "healthy_p95_ms": _pct(healthy, 95) * 1000, "during_p95_ms": _pct(during, 95) * 1000}
            out["live"]["p95_increase"] = out["live"]["during_p95_ms"] / out["live"]["healthy_p95_ms"] - 1
        return out
    finally:
        if load:
            load.stop.set()
        gw.stop()


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def wait_caches(url: str, timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        caches = requests.get(url + "/v1/status", timeout=5).json()["caches"]
        if all(v is not None for v in caches.values()):
            return
        time.sleep(0.1)
    raise RuntimeError("gateway caches not loaded")


def _json(body: dict) -> str:
    return json.dumps(body, separators=(",", ":"))
