"""Slow-client benchmark (not a test): honest answers while slowloris sockets are held open.

    python benchmarks/slow_clients_bench.py [--slow 500] [--honest 20] [--runs 5] [--bound-s 2]
                                            [--unprotected 100] [--json out.json]

One platform and one full-mode gateway. For each service: `--runs` rounds, each opening
`--slow` sockets that start a request and never finish it (trickling all along, from
127.0.0.2... so no address reaches the per-address cap), then `--honest` rights checks,
paced at 10 a second as a shop's software would be (the platform limits an account to
20/s), counted as answered when they get their normal 200 within `--bound-s`; the gateway's
breaker state is read after each round. Then, for comparison, the same attack with only
`--unprotected` sockets straight at the platform's gunicorn port (what the public port
was before the front): how many honest checks are answered there.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.gateway_live import caches_loaded, catalogue, eligibility, status, wait_until  # noqa: E402
from tests.support.procs import accounts, login, start_gateway, start_platform  # noqa: E402
from tests.support.slow_clients import SlowClients  # noqa: E402


PACE_S = 0.1  # an honest shop's 10 checks a second, under the platform's 20/s per account


def round_trip(url: str, token: str, body: dict, slow: SlowClients, honest: int, bound_s: float) -> list[float | None]:
    """Seconds per honest check, None when not answered normally within the bound."""
    out: list[float | None] = []
    started = time.monotonic()
    for i in range(honest):
        slow.trickle()
        time.sleep(max(0.0, PACE_S - (time.monotonic() - started)) if i else 0.0)
        started = time.monotonic()
        try:
            r = requests.post(url + "/v1/eligibility", json=body, headers={"Authorization": "Bearer " + token},
                              timeout=bound_s)
            ok = r.status_code == 200 and r.json().get("decision") == "eligible"
        except requests.RequestException:
            ok = False
        took = time.monotonic() - started
        out.append(took if ok and took < bound_s else None)
    return out


def figures(samples: list[float | None]) -> dict:
    answered = sorted(x for x in samples if x is not None)
    return {"requests": len(samples), "answered": len(answered),
            "answered_share": round(len(answered) / len(samples), 4) if samples else None,
            "p50_ms": round(statistics.median(answered) * 1000, 1) if answered else None,
            "max_ms": round(answered[-1] * 1000, 1) if answered else None}


def hop_p50_ms(url: str, token: str, body: dict, n: int = 200) -> float:
    """p50 of `n` kept-alive rights checks, paced like a shop: what one request costs end to end."""
    took = []
    with requests.Session() as s:
        for _ in range(n):
            started = time.monotonic()
            s.post(url + "/v1/eligibility", json=body, headers={"Authorization": "Bearer " + token}, timeout=5)
            took.append(time.monotonic() - started)
            time.sleep(max(0.0, PACE_S / 2 - took[-1]))
    return round(statistics.median(took) * 1000, 2)


def internal_port(log: str, event: str) -> int:
    m = re.search(r'"event": "' + event + r'".*?"internal_port": (\d+)', log)
    if not m:
        raise SystemExit(f"no {event} line with internal_port in the log")
    return int(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slow", type=int, default=500)
    ap.add_argument("--honest", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bound-s", type=float, default=2.0)
    ap.add_argument("--unprotected", type=int, default=100)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="slow-bench-"))
    platform = start_platform(tmp, beneficiaries=20_000)
    gateway = start_gateway(tmp, platform.url)
    result: dict = {"slow_sockets": args.slow, "honest_per_run": args.honest, "runs": args.runs,
                    "bound_s": args.bound_s}
    try:
        opticians = [a for a in accounts(platform, 8) if a["profession"] == "28"]
        tokens = [login(platform.url, a["client_id"], a["client_secret"]) for a in opticians[:2]]
        wait_until(lambda: caches_loaded(gateway.url), 30)
        body = eligibility(catalogue(20)["opti-a"][0])
        transitions_before = status(gateway.url)["breaker"]["transitions"]
        for name, proc, token in (("platform", platform, tokens[0]), ("gateway", gateway, tokens[1])):
            samples: list[float | None] = []
            breaker, held = [], []
            for _ in range(args.runs):
                slow = SlowClients(proc.extra["port"], args.slow)
                time.sleep(0.3)
                samples += round_trip(proc.url, token, body, slow, args.honest, args.bound_s)
                held.append(slow.still_open())
                breaker.append(status(gateway.url)["breaker"]["state"])
                slow.close()
            result[name] = {**figures(samples), "slow_still_open_min": min(held),
                            "gateway_breaker": sorted(set(breaker)),
                            "breaker_transitions_so_far": status(gateway.url)["breaker"]["transitions"]
                            - transitions_before}
            f = result[name]
            print(f"{name}, {args.slow} slow sockets held open ({min(held)} still open at the end of each run): "
                  f"{f['answered']}/{f['requests']} honest checks answered within {args.bound_s:g} s "
                  f"({100 * f['answered_share']:.1f} %), p50 {f['p50_ms']} ms, max {f['max_ms']} ms; "
                  f"gateway breaker {'/'.join(f['gateway_breaker'])} "
                  f"({f['breaker_transitions_so_far']} transitions so far)", flush=True)

        # The same attack straight at gunicorn (no front), smaller: it takes far fewer sockets.
        direct = internal_port(platform.log(), "platform_ready")
        slow = SlowClients(direct, args.unprotected)
        time.sleep(0.3)
        samples = round_trip(f"http://127.0.0.1:{direct}", tokens[0], body, slow, 5, args.bound_s)
        slow.close()
        result["unprotected_platform"] = {"slow_sockets": args.unprotected, **figures(samples)}
        f = result["unprotected_platform"]
        print(f"for comparison, {args.unprotected} slow sockets straight at the platform's gunicorn (no front): "
              f"{f['answered']}/{f['requests']} honest checks answered within {args.bound_s:g} s", flush=True)

        # What the front costs when all is well: the same checks through it and around it.
        via, around = hop_p50_ms(platform.url, tokens[0], body), hop_p50_ms(f"http://127.0.0.1:{direct}", tokens[0], body)
        gw_direct = internal_port(gateway.log(), "gateway_ready")
        gw_via, gw_around = hop_p50_ms(gateway.url, tokens[1], body), hop_p50_ms(f"http://127.0.0.1:{gw_direct}",
                                                                                 tokens[1], body)
        result["front_cost_ms"] = {"platform_p50_via": via, "platform_p50_around": around,
                                   "gateway_p50_via": gw_via, "gateway_p50_around": gw_around}
        print(f"front's cost, all well (p50 of 200 kept-alive checks): platform {via} ms through it vs {around} ms "
              f"around it ({via - around:+.2f} ms); gateway {gw_via} vs {gw_around} ms ({gw_via - gw_around:+.2f} ms)",
              flush=True)
    finally:
        gateway.stop()
        platform.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
