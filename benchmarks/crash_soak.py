"""Crash soak: kill -9 the gateway or the platform at random and at the dangerous moments.

    .venv/bin/python benchmarks/crash_soak.py [--kills 20] [--seed S] [--journal sqlite|postgresql] [--json out.json]

A platform and a gateway (real processes, loopback) under live load from professionals
(rights checks and PECs, some PECs sent twice at once with one Idempotency-Key). Each cycle
is an outage (the platform stopped), its return, the drain, and one kill -9 of a process
group, chosen with a seeded random generator:
- gateway, at a random instant of the outage (requests in flight);
- gateway, with a drain batch leased (crash point `drain_leased`);
- gateway, after the platform judged a batch, before the verdicts are recorded (`drain_answered`);
- platform, inside an advice's judgment transaction (`advice_judged`);
- platform, at a random instant of the drain.
Both restart on their state every time. At the end the load stops and the drain gets a
bounded time to finish. Exit 1 when anything is lost, judged twice or stuck.
`--journal postgresql` puts the gateway's journal on a throwaway PostgreSQL cluster
(tests.support.pg; `JOURNAL_URL` names an existing server instead); SQLite is the default.
"""
from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.pg import Cluster  # noqa: E402
from tests.support.gateway_live import catalogue, eligibility, optician, pec, status, wait_until  # noqa: E402
from tests.support.procs import restart_platform, start_gateway, start_platform  # noqa: E402

MOMENTS = ("gateway_in_flight", "gateway_drain_leased", "gateway_drain_answered", "platform_advice_judged",
           "platform_draining")
POINT = {"gateway_drain_leased": "drain_leased", "gateway_drain_answered": "drain_answered",
         "platform_advice_judged": "advice_judged"}
OPEN = {"SIM_RATE_PER_S": "0", "SIM_DETECTION": "off"}
DRAIN = {"GW_DRAIN_RATE_PER_S": "200", "GW_DRAIN_BATCH": "10", "GW_DRAIN_LEASE_S": "2",
         "GW_DRAIN_BACKOFF_BASE_S": "0.1", "GW_DRAIN_BACKOFF_MAX_S": "1",
         "GW_OFFLINE_ACCOUNT_MAX_DISTINCT": "1000000"}  # one professional account stands for many shops here


def rows(path, sql: str, args: tuple = ()) -> list[tuple]:
    """`path`: a SQLite file, or the journal's PostgreSQL URL (the same SQL reads both)."""
    if str(path).startswith("postgresql://"):
        import psycopg
        with psycopg.connect(str(path)) as db:
            return db.execute(sql, args).fetchall()
    with sqlite3.connect(path, timeout=10) as db:
        return db.execute(sql, args).fetchall()


class Load:
    """Professionals' traffic; remembers every offline acceptance a client was told of."""

    def __init__(self, url: str, bodies: list[tuple[str, dict]], headers: dict, rng: random.Random) -> None:
        self.url, self.bodies, self.h, self.rng = url, bodies, headers, rng
        self.stop, self.acknowledged, self.lock = threading.Event(), set(), threading.Lock()
        self.sent = self.errors = 0

    def run(self, seed: int) -> None:
        rng, s = random.Random(seed), requests.Session()
        while not self.stop.is_set():
            path, body = rng.choice(self.bodies)
            headers = dict(self.h)
            if path == "/v1/pec":
                headers["Idempotency-Key"] = uuid.uuid4().hex
            copies = 2 if path == "/v1/pec" and rng.random() < 0.2 else 1  # a client retrying at once
            threads = [threading.Thread(target=self._one, args=(s if i == 0 else requests.Session(), path, body,
                                                                 headers)) for i in range(copies)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            time.sleep(0.02)

    def _one(self, s, path, body, headers) -> None:
        try:
            r = s.post(self.url + path, json=body, headers=headers, timeout=5)
            doc = r.json()
        except (requests.RequestException, ValueError):
            with self.lock:
                self.errors += 1
            return
        with self.lock:
            self.sent += 1
            if isinstance(doc, dict) and doc.get("journal_reference"):
                self.acknowledged.add(doc["journal_reference"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--settle-s", type=float, default=120.0, help="how long the final drain may take")
    ap.add_argument("--journal", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="crash-soak-"))
    cluster = Cluster.start() if args.journal == "postgresql" else None
    try:
        return soak(args, rng, tmp, cluster.create_database("soak") if cluster else None)
    finally:
        if cluster:
            cluster.stop()


def soak(args, rng: random.Random, tmp: Path, journal_url: str | None) -> int:
    platform = start_platform(tmp, env=OPEN)
    cases = catalogue(platform, 120)
    gw = start_gateway(tmp, platform.url, env=DRAIN, journal=journal_url)
    port, journal = gw.extra["port"], gw.extra["journal"]
    acc, token = optician(platform)
    eligible = [c for k in ("opti-a", "opti-b", "audi-i", "audi-ii") for c in cases.get(k, [])]
    bodies = [("/v1/eligibility", eligibility(c)) for c in eligible] + \
             [("/v1/pec", pec(c, acc)) for k in ("opti-a", "opti-b") for c in cases.get(k, [])]
    load = Load(gw.url, bodies, {"Authorization": "Bearer " + token}, rng)
    workers = [threading.Thread(target=load.run, args=(rng.randrange(1 << 30),), daemon=True) for _ in range(4)]
    wait_until(lambda: all(v is not None for v in status(gw.url)["caches"].values()), 30)
    for w in workers:
        w.start()
    kills: list[dict] = []
    started = time.monotonic()
    try:
        for k in range(args.kills):
            moment = rng.choice(MOMENTS)
            points = tmp / f"points-{k}"
            points.mkdir()
            armed = {"TP_FAILPOINTS": POINT[moment], "TP_FAILPOINT_DIR": str(points)} if moment in POINT else {}
            platform.stop()  # the outage: offline acceptances pile up
            time.sleep(rng.uniform(0.5, 2.0))
            if moment == "gateway_in_flight":
                gw.kill9()
                gw = start_gateway(tmp, platform.url, port=port, journal=journal, env=DRAIN)
                platform = restart_platform(tmp, platform, env=OPEN)
            elif moment.startswith("gateway_"):
                gw.kill9()  # restart it armed: its next drain freezes at the point
                platform = restart_platform(tmp, platform, env=OPEN)
                gw = start_gateway(tmp, platform.url, port=port, journal=journal, env={**DRAIN, **armed})
                hit = wait_until(lambda: (points / f"{POINT[moment]}.hit").exists(), 30, every_s=0.02)
                gw.kill9()
                gw = start_gateway(tmp, platform.url, port=port, journal=journal, env=DRAIN)
                moment += "" if hit else " (point not reached)"
            else:
                platform = restart_platform(tmp, platform, env={**OPEN, **armed})
                if armed:
                    hit = wait_until(lambda: (points / f"{POINT[moment]}.hit").exists(), 30, every_s=0.02)
                    moment += "" if hit else " (point not reached)"
                else:
                    time.sleep(rng.uniform(0.05, 1.0))
                platform.kill9()
                platform = restart_platform(tmp, platform, env=OPEN)
            kills.append({"kill": k + 1, "moment": moment, "t_s": round(time.monotonic() - started, 1)})
            print(f"kill {k + 1:2d}: {moment}", flush=True)
            time.sleep(rng.uniform(0.5, 1.5))  # some draining before the next outage
        load.stop.set()
        for w in workers:
            w.join(10)
        settled = wait_until(lambda: status(gw.url)["journal"]["pending"] == 0, args.settle_s)
        figures = measure(load, journal, platform.extra["state"] / "platform.sqlite", settled, args)
    finally:
        load.stop.set()
        gw.stop()
        platform.stop()
    figures["kills"], figures["journal"] = kills, args.journal
    for name in ("acknowledged_offline_acceptances", "journal_records", "advices_unique_at_platform",
                 "advices_judged_more_than_once", "pecs_recorded_twice", "lost", "stuck_pending", "verdict"):
        print(f"{name:36s} {figures[name]}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0 if figures["verdict"] == "pass" else 1


def measure(load: Load, journal, platform_db, settled, args) -> dict:
    ours = {r[0]: r[1] for r in rows(journal, "SELECT advice_id, reference FROM offline_entry")}
    refs = set(ours.values())
    advices = [r[0] for r in rows(platform_db, "SELECT advice_id FROM advices")]
    twice = rows(platform_db, "SELECT COUNT(*) FROM (SELECT body_hash FROM pecs WHERE idem_key IS NULL"
                              " GROUP BY body_hash HAVING COUNT(*) > 1)")[0][0]
    keyed_twice = rows(platform_db, "SELECT COUNT(*) FROM (SELECT client_id, idem_key FROM pecs WHERE idem_key IS"
                                    " NOT NULL GROUP BY client_id, idem_key HAVING COUNT(*) > 1)")[0][0]
    stuck = rows(journal, "SELECT COUNT(*) FROM offline_entry WHERE state='pending'")[0][0]
    failed = rows(journal, "SELECT COUNT(*) FROM offline_entry WHERE state='failed'")[0][0]
    lost = len(load.acknowledged - refs) + len(set(ours) - set(advices)) - stuck - failed
    out = {"seed": args.seed, "kills_asked": args.kills, "requests_answered": load.sent,
           "requests_cut": load.errors, "acknowledged_offline_acceptances": len(load.acknowledged),
           "journal_records": len(ours), "advices_unique_at_platform": len(set(advices)),
           "advices_judged_more_than_once": len(advices) - len(set(advices)) + twice,
           "pecs_recorded_twice": keyed_twice, "lost": max(0, lost), "stuck_pending": stuck,
           "set_aside": failed, "settle_s": args.settle_s}
    ok = (out["lost"] == 0 and out["advices_judged_more_than_once"] == 0 and keyed_twice == 0 and stuck == 0
          and failed == 0 and settled and set(ours) == set(advices))
    out["verdict"] = "pass" if ok else "fail"
    return out


if __name__ == "__main__":
    sys.exit(main())
