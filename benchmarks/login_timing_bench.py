"""Login timing benchmark (not a test): does a wrong secret answer faster for an unknown client id?

    python benchmarks/login_timing_bench.py [--attempts 400] [--json out.json]

One platform with the failed-login waits pushed out of reach (every attempt is checked,
which is what is being timed). Attempts mix, in a shuffled order, a known client id with a wrong
secret and well-formed unknown ids, on one kept-alive connection; prints p50 and mean of
each and their difference. Before the token endpoint did the same work for both, the
known id answered measurably slower (one more SQLite read).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.procs import accounts, start_platform  # noqa: E402

NO_WAITS = {f"SIM_LOGIN_{k}_FREE": "1000000000" for k in ("PAIR", "CLIENT", "SOURCE")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attempts", type=int, default=400)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    platform = start_platform(Path(tempfile.mkdtemp(prefix="login-bench-")), beneficiaries=2_000, workers=1,
                              env=NO_WAITS)
    known = accounts(platform, 1)[0]["client_id"]
    took: dict[str, list[float]] = {"known": [], "unknown": []}
    try:
        with requests.Session() as s:
            kinds = ["known", "unknown"] * (args.attempts // 2 + 10)
            random.Random(7).shuffle(kinds)  # no pattern the server's timers could line up with
            for i, kind in enumerate(kinds):
                cid = known if kind == "known" else f"opt-{900000 + 2 * i:06d}"  # beyond the sandbox's accounts
                started = time.perf_counter()
                r = s.post(platform.url + "/oauth/token", timeout=5,
                           data={"grant_type": "client_credentials", "client_id": cid, "client_secret": "wrong"})
                elapsed = time.perf_counter() - started
                assert r.status_code == 401, r.text
                if i >= 20:  # the first few warm the caches
                    took[kind].append(elapsed)
    finally:
        platform.stop()
    result = {k: {"n": len(v), "p50_ms": round(statistics.median(v) * 1000, 3),
                  "mean_ms": round(statistics.fmean(v) * 1000, 3)} for k, v in took.items()}
    result["p50_difference_ms"] = round(result["known"]["p50_ms"] - result["unknown"]["p50_ms"], 3)
    print(f"wrong secret, known id: p50 {result['known']['p50_ms']} ms, mean {result['known']['mean_ms']} ms; "
          f"unknown id: p50 {result['unknown']['p50_ms']} ms, mean {result['unknown']['mean_ms']} ms; "
          f"difference of p50 {result['p50_difference_ms']:+.3f} ms ({len(took['known'])} each)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
