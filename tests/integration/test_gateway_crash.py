"""kill -9 at the dangerous moments, deterministically: nothing lost, nothing judged twice.

Crash points (tiers_payant.failpoints) freeze a process exactly where a test claims to kill it:
1. the gateway with requests in flight (6 clients hammering during an outage), once the
   journal holds a known number of entries;
2. the gateway with a drain batch leased and not yet sent (`drain_leased`);
3. the gateway after the platform judged a batch and before the verdicts were recorded
   (`drain_answered`);
4. the platform inside an advice's judgment transaction (`advice_judged`).
After each, the processes restart on their state. At the end the platform's advices are
exactly the journal's records (same advice ids, one each), every acceptance a client saw is
in the journal, and no offline PEC was recorded twice. Every wait is bounded by counts:
the number of entries is capped, the drain rate is known.
"""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest
import requests

from tests.support.gateway_live import caches_loaded, catalogue, eligibility, optician, pec, status, wait_until
from tests.support.procs import restart_platform, start_gateway, start_platform

pytestmark = pytest.mark.integration
ENTRIES = 120  # offline acceptances made before the first kill (bounded: the drain waits scale with it)
RATE = 60.0
DRAIN = {"GW_DRAIN_RATE_PER_S": str(RATE), "GW_DRAIN_BATCH": "5", "GW_DRAIN_LEASE_S": "2",
         "GW_DRAIN_BACKOFF_BASE_S": "0.1", "GW_DRAIN_BACKOFF_MAX_S": "1",
         "GW_OFFLINE_ACCOUNT_MAX_DISTINCT": "1000000"}  # one account stands for many shops here


def rows(path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def hammer(url: str, bodies: list[tuple[str, dict]], headers: dict, stop: threading.Event, answers: list) -> None:
    s = requests.Session()
    i = 0
    while not stop.is_set():
        path, body = bodies[i % len(bodies)]
        i += 1
        try:
            r = s.post(url + path, json=body, headers=headers, timeout=5)
            answers.append(r.json())
        except (requests.RequestException, ValueError):
            pass  # the gateway died under this request: the client never got an answer


def armed(point: str, where) -> dict[str, str]:
    return {"TP_FAILPOINTS": point, "TP_FAILPOINT_DIR": str(where)}


def hit(where, point: str, timeout_s: float) -> bool:
    return bool(wait_until(lambda: (where / f"{point}.hit").exists(), timeout_s, every_s=0.02))


def test_kill9_in_flight_leased_answered_and_judging(tmp_path):
    points = tmp_path / "failpoints"
    points.mkdir()
    platform = start_platform(tmp_path)
    cases = catalogue(platform, 80)
    gw = start_gateway(tmp_path, platform.url, env=DRAIN)
    port, journal = gw.extra["port"], gw.extra["journal"]
    try:
        acc, token = optician(platform)
        h = {"Authorization": "Bearer " + token}
        assert wait_until(lambda: caches_loaded(gw.url), 20)
        eligible = [c for k in ("opti-a", "opti-b", "audi-i") for c in cases.get(k, [])]
        bodies = [("/v1/eligibility", eligibility(c)) for c in eligible]
        bodies += [("/v1/pec", pec(c, acc)) for c in cases["opti-a"]]
        platform.stop()

        # 1. in flight: six clients hammering; killed once ENTRIES acceptances are on disk
        stop, answers = threading.Event(), []
        threads = [threading.Thread(target=hammer, args=(gw.url, bodies, h, stop, answers)) for _ in range(6)]
        for t in threads:
            t.start()
        assert wait_until(lambda: rows(journal, "SELECT COUNT(*) FROM offline_entry")[0][0] >= ENTRIES, 60)
        gw.kill9()
        stop.set()
        for t in threads:
            t.join(10)
        given = {a["journal_reference"] for a in answers if a.get("journal_reference")}
        journaled = {r[0] for r in rows(journal, "SELECT reference FROM offline_entry")}
        assert len(given) > 20 and given <= journaled  # every acceptance a client saw was on disk first

        # 2. a batch leased, nothing sent
        platform = restart_platform(tmp_path, platform)
        gw = start_gateway(tmp_path, platform.url, port=port, journal=journal, env={**DRAIN, **armed("drain_leased", points)})
        assert hit(points, "drain_leased", 30)
        leased = rows(journal, "SELECT COUNT(*) FROM offline_entry WHERE state='pending' AND lease_owner IS NOT NULL")
        assert leased[0][0] > 0
        gw.kill9()

        # 3. the platform judged a batch, the verdicts not yet recorded
        gw = start_gateway(tmp_path, platform.url, port=port, journal=journal,
                           env={**DRAIN, **armed("drain_answered", points)})
        assert hit(points, "drain_answered", 30)
        gw.kill9()
        judged = rows(platform.extra["state"] / "platform.sqlite", "SELECT COUNT(*) FROM advices")[0][0]
        assert judged > len(rows(journal, "SELECT 1 FROM offline_entry WHERE state='drained'"))  # judged, not marked

        # 4. the platform killed inside an advice's judgment
        platform.stop()
        platform = restart_platform(tmp_path, platform, env=armed("advice_judged", points))
        gw = start_gateway(tmp_path, platform.url, port=port, journal=journal, env=DRAIN)
        assert hit(points, "advice_judged", 30)
        platform.kill9()
        platform = restart_platform(tmp_path, platform)

        pending = rows(journal, "SELECT COUNT(*) FROM offline_entry WHERE state='pending'")[0][0]
        bound = 30 + 3 * pending / RATE  # the drain's pace, its back-offs under 1 s, and a restart
        assert wait_until(lambda: status(gw.url)["journal"]["pending"] == 0, bound), status(gw.url)

        ours = {r[0] for r in rows(journal, "SELECT advice_id FROM offline_entry")}
        platform_db = platform.extra["state"] / "platform.sqlite"
        theirs = rows(platform_db, "SELECT advice_id FROM advices")
        assert len(theirs) == len(set(theirs)) == len(ours) and {r[0] for r in theirs} == ours
        pecs = rows(platform_db, "SELECT body_hash, COUNT(*) FROM pecs WHERE idem_key IS NULL GROUP BY body_hash")
        assert all(n == 1 for _, n in pecs)  # an advice's PEC is recorded once, however often it was sent
        assert status(gw.url)["journal"]["failed"] == 0
    finally:
        gw.stop()
        platform.stop()
