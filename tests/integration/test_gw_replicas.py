"""Two gateway replicas on one PostgreSQL journal: one risk budget, one drainer.

1. The same beneficiary asked through both replicas at once, past the AMC's offline count
   limit, during an outage: exactly `cumulative_count` acceptances in all, never one more.
2. The replica that drains is killed with SIGKILL at a known moment (crash point
   `drain_answered`: the platform judged a batch, the verdicts not yet recorded); the other
   takes the drain lock within seconds and drains everything; the platform's advices are
   exactly the journal's records, none twice.
Waits are bounded by counts (entries, the drain rate) and the lease, never by guesses.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time

import psycopg
import pytest
import requests

from tests.support.gateway_live import caches_loaded, catalogue, eligibility, optician, pec, status, wait_until
from tests.support.procs import restart_platform, start_gateway, start_platform

pytestmark = pytest.mark.integration
RATE = 40.0
LEASE_S = 2.0
DRAIN = {"GW_DRAIN_RATE_PER_S": str(RATE), "GW_DRAIN_BATCH": "5", "GW_DRAIN_LEASE_S": str(LEASE_S),
         "GW_DRAIN_BACKOFF_BASE_S": "0.1", "GW_DRAIN_BACKOFF_MAX_S": "1",
         "GW_DRAIN_CONCURRENCY": "1",  # one batch in flight: frozen at the crash point, nothing else drains
         "GW_OFFLINE_ACCOUNT_MAX_DISTINCT": "100000"}  # one professional asks for every customer


def pg_rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def replicas(tmp_path, platform_url: str, url: str, env: dict) -> list:
    return [start_gateway(tmp_path, platform_url, journal=url, env=env) for _ in range(2)]


def drain_lock_holders(url: str) -> set[int]:
    """Pids (gateway workers) that hold the deployment's drain lock, from the server's view."""
    rows = pg_rows(url, "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid=l.pid"
                        " WHERE l.locktype='advisory' AND l.granted AND a.application_name LIKE 'gateway-drain-%'")
    return {int(r[0].rsplit("-", 1)[1]) for r in rows}


def test_one_count_limit_across_two_replicas(tmp_path, pg_url):
    platform = start_platform(tmp_path)
    gws = replicas(tmp_path, platform.url, pg_url, DRAIN)
    try:
        acc, token = optician(platform)
        policy_count = 4  # simulator.policy: cumulative_count for every AMC (checked below)
        policies = requests.get(platform.url + "/v1/standin-policy", timeout=5,
                                headers={"Authorization": "Bearer " + token})
        if policies.status_code == 200:
            assert {p["cumulative_count"] for p in policies.json()["policies"]} == {policy_count}
        assert all(wait_until(lambda g=g: caches_loaded(g.url), 30) for g in gws)
        case = catalogue(platform, 40)["opti-a"][0]  # small amounts: the count binds, not the ceiling
        body = pec(case, acc)
        platform.stop()

        answers: list[tuple[int, dict]] = []
        lock, barrier = threading.Lock(), threading.Barrier(8)

        def ask(replica: int) -> None:
            s = requests.Session()
            barrier.wait()
            for _ in range(4):
                r = s.post(gws[replica].url + "/v1/pec", json=body, timeout=10,
                           headers={"Authorization": "Bearer " + token})
                with lock:
                    answers.append((replica, r.json()))

        threads = [threading.Thread(target=ask, args=(i % 2,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(answers) == 32 and all(a.get("mode") == "offline" for _, a in answers)
        accepted = [(i, a) for i, a in answers if a.get("journal_reference")]
        declined = [a for _, a in answers if not a.get("journal_reference")]
        assert len(accepted) == policy_count  # never one more than the policy allows, across replicas
        assert all("OFFLINE_VELOCITY_EXCEEDED" in (a.get("reasons") or [a.get("reason")]) for a in declined)
        journaled = pg_rows(pg_url, "SELECT reference FROM offline_entry WHERE operation='pec'")
        assert {r[0] for r in journaled} == {a["journal_reference"] for _, a in accepted}
        assert {i for i, _ in answers} == {0, 1}  # both replicas answered
    finally:
        for g in gws:
            g.stop()
        platform.stop()


def test_drain_leader_killed_the_other_replica_takes_over(tmp_path, pg_url):
    points = tmp_path / "failpoints"
    points.mkdir()
    platform = start_platform(tmp_path)
    cases = catalogue(platform, 80)
    env = {**DRAIN, "TP_FAILPOINTS": "drain_answered", "TP_FAILPOINT_DIR": str(points)}
    gws = replicas(tmp_path, platform.url, pg_url, env)
    try:
        acc, token = optician(platform)
        h = {"Authorization": "Bearer " + token}
        assert all(wait_until(lambda g=g: caches_loaded(g.url), 30) for g in gws)
        bodies = [("/v1/eligibility", eligibility(c)) for k in ("opti-a", "opti-b", "audi-i") for c in cases.get(k, [])]
        bodies += [("/v1/pec", pec(c, acc)) for c in cases["opti-a"]]
        platform.stop()
        refs = set()
        for i, (path, body) in enumerate(bodies * 2):  # both replicas journal, into one journal
            r = requests.post(gws[i % 2].url + path, json=body, headers=h, timeout=10)
            if r.json().get("journal_reference"):
                refs.add(r.json()["journal_reference"])
        assert len(refs) >= 20 and pg_rows(pg_url, "SELECT COUNT(*) FROM offline_entry")[0][0] == len(refs)

        platform = restart_platform(tmp_path, platform)
        assert wait_until(lambda: (points / "drain_answered.hit").exists(), 30, every_s=0.02)
        frozen = int((points / "drain_answered.hit").read_text())
        (leader,) = [g for g in gws if os.getpgid(frozen) == g.proc.pid]  # the replica whose worker drains
        (survivor,) = [g for g in gws if g is not leader]
        assert drain_lock_holders(pg_url) == {frozen}
        assert pg_rows(pg_url, "SELECT COUNT(*) FROM offline_entry WHERE state='drained'")[0][0] == 0
        leader.kill9()
        killed = time.monotonic()

        holders = wait_until(lambda: drain_lock_holders(pg_url) - {frozen}, 10, every_s=0.05)
        took_over_s = time.monotonic() - killed
        assert holders and all(os.getpgid(p) == survivor.proc.pid for p in holders)
        assert took_over_s < 5.0, took_over_s  # the lock is freed with the dead session
        drained = wait_until(lambda: pg_rows(pg_url, "SELECT COUNT(*) FROM offline_entry WHERE state='drained'")[0][0],
                             LEASE_S + 10, every_s=0.05)
        assert drained > 0  # the survivor drains, the dead leader's batch once its lease expired

        bound = 15 + 3 * len(refs) / RATE  # the drain's pace and back-offs under 1 s
        assert wait_until(lambda: status(survivor.url)["journal"]["pending"] == 0, bound), status(survivor.url)
        ours = {r[0] for r in pg_rows(pg_url, "SELECT advice_id FROM offline_entry")}
        with sqlite3.connect(platform.extra["state"] / "platform.sqlite") as db:
            theirs = [r[0] for r in db.execute("SELECT advice_id FROM advices")]
        assert len(theirs) == len(set(theirs)) == len(ours) and set(theirs) == ours
        assert status(survivor.url)["journal"]["failed"] == 0
    finally:
        for g in gws:
            g.stop()
        platform.stop()
