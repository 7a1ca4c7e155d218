"""kill -9 of the gateway, with requests in flight and again mid-drain: nothing lost, nothing doubled.

After recovery, the platform's advices are exactly the journal's records (same advice ids,
one each), every acceptance a client received is in the journal, and no offline PEC was
recorded twice at the platform.
"""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest
import requests

from tests.support.gateway_live import catalogue, eligibility, optician, pec, status, wait_until, caches_loaded
from tests.support.procs import restart_platform, start_gateway, start_platform

pytestmark = pytest.mark.integration
SLOW_DRAIN = {"GW_DRAIN_RATE_PER_S": "15", "GW_DRAIN_BATCH": "5", "GW_DRAIN_LEASE_S": "2"}


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


def test_kill9_in_flight_and_mid_drain(tmp_path):
    cases = catalogue(80)
    platform = start_platform(tmp_path)
    gw = start_gateway(tmp_path, platform.url, env=SLOW_DRAIN)
    port, journal = gw.extra["port"], gw.extra["journal"]
    try:
        acc, token = optician(platform.url)
        h = {"Authorization": "Bearer " + token}
        assert wait_until(lambda: caches_loaded(gw.url), 20)
        eligible = [c for k in ("opti-a", "opti-b", "audi-i") for c in cases.get(k, [])]
        bodies = [("/v1/eligibility", eligibility(c)) for c in eligible]
        bodies += [("/v1/pec", pec(c, acc)) for c in cases["opti-a"]]
        platform.stop()

        stop, answers = threading.Event(), []
        threads = [threading.Thread(target=hammer, args=(gw.url, bodies, h, stop, answers)) for _ in range(6)]
        for t in threads:
            t.start()
        time.sleep(2.5)
        gw.kill9()  # with requests in flight
        stop.set()
        for t in threads:
            t.join(10)
        given = {a["journal_reference"] for a in answers if a.get("journal_reference")}
        journaled = {r[0] for r in rows(journal, "SELECT reference FROM offline_entry")}
        assert len(given) > 20 and given <= journaled  # every acceptance a client saw was on disk first

        platform = restart_platform(tmp_path, platform)
        gw = start_gateway(tmp_path, platform.url, port=port, journal=journal, env=SLOW_DRAIN)
        assert wait_until(lambda: 0 < status(gw.url)["journal"]["drained"], 20)
        gw.kill9()  # mid-drain: a batch may be sent and not yet marked
        assert rows(journal, "SELECT COUNT(*) FROM offline_entry WHERE state='pending'")[0][0] > 0
        gw = start_gateway(tmp_path, platform.url, port=port, journal=journal, env=SLOW_DRAIN)
        assert wait_until(lambda: status(gw.url)["journal"]["pending"] == 0, 90), status(gw.url)

        ours = {r[0] for r in rows(journal, "SELECT advice_id FROM offline_entry")}
        platform_db = platform.extra["state"] / "platform.sqlite"
        theirs = rows(platform_db, "SELECT advice_id FROM advices")
        assert len(theirs) == len(set(theirs)) == len(ours) and {r[0] for r in theirs} == ours
        pecs = rows(platform_db, "SELECT body_hash, COUNT(*) FROM pecs WHERE idem_key IS NULL GROUP BY body_hash")
        assert all(n == 1 for _, n in pecs)  # an advice's PEC is recorded once, however often it was sent
    finally:
        gw.stop()
        platform.stop()
