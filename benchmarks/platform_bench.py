"""Platform benchmark: eligibility throughput and latency at 200,000 and 20,000,000 beneficiaries.

One run starts a platform of each size on loopback, sends the same number of rights checks
(valid sandbox cards, keep-alive sessions, N client threads) and prints requests per second,
p50/p99 latency, resident memory of all the platform's processes, and the 20 M / 200 k ratios.
The population is a pure function of (seed, i), so the ratio should stay near 1.

Memory is sampled while the platform answers (the highest sample is kept), two ways:
- `rss_mb`: the platform's resident memory with each page counted once, the sum of the
  processes' PSS (a page shared by k processes counts 1/k in each): what the machine gives
  the platform. The supervisor, gunicorn's master and the workers are all counted.
- `rss_sum_mb`: the plain sum of the processes' RSS, which counts a shared page (Python's
  own library, modules loaded before the fork) once per process: an upper bound.

    .venv/bin/python benchmarks/platform_bench.py [--requests 3000] [--threads 8] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.procs import accounts, cards, login, start_platform  # noqa: E402


def memory_mb(pid: int) -> tuple[float, float]:
    """(sum of PSS, sum of RSS) in MB over a process group: the supervisor, gunicorn and its workers."""
    pss = rss = 0
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pid:  # process group id
                continue
            for line in (status.parent / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            continue
    return pss / 2**20, rss / 2**20


class Sampler(threading.Thread):
    """The highest memory seen while the load runs."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.stop, self.pss, self.rss = pid, threading.Event(), 0.0, 0.0

    def run(self) -> None:
        while True:
            pss, rss = memory_mb(self.pid)
            self.pss, self.rss = max(self.pss, pss), max(self.rss, rss)
            if self.stop.wait(0.25):
                return


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q / 100 * len(values)))]


def run(beneficiaries: int, n: int, threads: int, tmp: Path) -> dict:
    t0 = time.monotonic()
    proc = start_platform(tmp, beneficiaries=beneficiaries, workers=2)
    ready_s = time.monotonic() - t0
    try:
        # Many professionals, each well under the per-account rate limit (20/s): the
        # realistic path, token bucket and lookup recording included.
        tokens = [login(proc.url, a["client_id"], a["client_secret"]) for a in accounts(proc, 60)]
        eligible = [c for c in cards(proc, 120) if c["expect"].get("decision") == "eligible"]
        bodies = [{k: c[k] for k in ("card", "beneficiary", "domain")} for c in eligible]
        local = __import__("threading").local()

        def one(i: int) -> float:
            s = getattr(local, "s", None) or requests.Session()
            local.s = s
            t = time.perf_counter()
            r = s.post(proc.url + "/v1/eligibility", json=bodies[i % len(bodies)],
                       headers={"Authorization": "Bearer " + tokens[i % len(tokens)]}, timeout=10)
            assert r.status_code == 200 and r.json()["decision"] == "eligible", r.text
            return (time.perf_counter() - t) * 1000

        sampler = Sampler(proc.proc.pid)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(200)))  # warm-up: connections, caches
            sampler.start()
            start = time.perf_counter()
            lat = list(pool.map(one, range(n)))
            wall = time.perf_counter() - start
        sampler.stop.set()
        sampler.join()
        return {"beneficiaries": beneficiaries, "ready_s": ready_s, "rps": n / wall, "p50_ms": pct(lat, 50),
                "p99_ms": pct(lat, 99), "rss_mb": sampler.pss, "rss_sum_mb": sampler.rss}
    finally:
        proc.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--json", default=None, help="also write the figures here (rss_mb keyed by population)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        small = run(200_000, args.requests, args.threads, Path(d))
        large = run(20_000_000, args.requests, args.threads, Path(d))
    print(f"{'beneficiaries':>14} {'ready s':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>8}"
          f" {'RSS sum':>8}")
    for r in (small, large):
        print(f"{r['beneficiaries']:>14,} {r['ready_s']:>8.2f} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}"
              f" {r['rss_mb']:>8.0f} {r['rss_sum_mb']:>8.0f}")
    print(f"ratio 20M/200k: req/s {large['rps'] / small['rps']:.2f}, p50 {large['p50_ms'] / small['p50_ms']:.2f}, "
          f"p99 {large['p99_ms'] / small['p99_ms']:.2f}, RSS {large['rss_mb'] / small['rss_mb']:.2f}")
    print("RSS MB: all processes, each shared page counted once (sum of PSS); RSS sum: counted once per process")
    ok = large["rss_mb"] <= 150
    print(f"goal {'MET   ' if ok else 'MISSED'} platform RSS at 20 M, all processes <= 150 MB: {large['rss_mb']:.0f} MB")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "rss_mb": {str(r["beneficiaries"]): round(r["rss_mb"], 1) for r in (small, large)},
            "rss_sum_mb": {str(r["beneficiaries"]): round(r["rss_sum_mb"], 1) for r in (small, large)},
            "runs": [small, large]}, indent=2))


if __name__ == "__main__":
    main()
