"""replica-failover: two gateway replicas on one PostgreSQL journal; one dies mid-outage.

A software vendor runs the gateway twice, because one machine is one failure. The shops'
software spreads its users over both replicas (client side: each user keeps a list of
replicas, sticks to one, and moves to the next when its replica stops answering). The
platform is cut; both replicas stand in from ONE risk budget (the journal on PostgreSQL:
per-beneficiary limits hold across replicas). In the middle of the outage the replica that
holds the deployment's drain lock is killed with kill -9. The survivor serves everyone;
when the platform returns it takes the drain lock and drains the whole journal, its dead
peer's acceptances included, once.

`make load SCENARIO=replica-failover` starts what it needs on free ports: a throwaway
PostgreSQL cluster (tests.support.pg; `JOURNAL_URL` names an existing server instead), a
platform and the two replicas. Run it locally (no `--workers`): the acknowledged
references are collected in the Locust process.

`LOADTESTS_FAILOVER_JOURNALS=separate` runs the same day the way replicas ran before the
PostgreSQL store: each replica with its own SQLite journal (the comparison in the README).
Each counts its own per-beneficiary limit, and the dead replica's acceptances wait on its
disk: expect that run to fail its limit and drain SLOs.

Phases
    healthy   10 s  20 users (10/s)  platform up      online answers, both replicas
    cut        6 s  20 users         platform down    breakers open
    degraded  12 s  20 users         platform down    offline stand-in on both replicas
    killed    12 s  20 users         platform down    the drain leader killed at this phase's start
    return    15 s  20 users         platform up      the survivor's breaker closes, it drains
    drain     15 s  20 users         platform up      journal empty
SLOs
    no unexpected answer except requests cut by the kill, which are bounded (at most the
    victim's users, twice) and reported; every acknowledged offline acceptance in the journal
    and reconciled; per-beneficiary offline PEC count never above the policy's, across
    replicas; the journal drained once (the platform's advices = the journal's records).
"""
from __future__ import annotations

import itertools
import json
import os
import signal
import time
from typing import Any

from loadtests.scenarios import PlannedPhase, timeline_from
from loadtests.slo import Slo

UP, DOWN = {"mode": "up"}, {"mode": "down"}
PHASES = [
    PlannedPhase("healthy", 10, 20, 10, UP, "healthy"),
    PlannedPhase("cut", 6, 20, 10, DOWN, "outage"),
    PlannedPhase("degraded", 12, 20, 10, DOWN, "outage"),
    PlannedPhase("killed", 12, 20, 10, DOWN, "outage"),
    PlannedPhase("return", 15, 20, 10, UP, "recovering"),
    PlannedPhase("drain", 15, 20, 10, UP, "healthy"),
]
TIMELINE = timeline_from(PHASES)
USERS = {"ReplicaOptician": 3, "ReplicaAudiologist": 2}
PEC_SHARE = 0.6  # many PECs: the shared per-beneficiary limit is exercised
POLICY_COUNT = 4  # simulator.policy: offline PECs per beneficiary and period, for every AMC
KILL_PHASE = "killed"
CUT_GRACE_S = 2.0  # after the kill, a user's first request may still go to the dead replica
SLOS = [
    Slo("unexpected answers: at most the requests the kill may cut", "unexpected", "<=", 20),  # 20 users
    Slo("no unexpected answer outside the kill", "failover.unexpected_outside_kill", "==", 0),
    Slo("requests cut by the kill are bounded", "failover.cut_over_bound", "<=", 0),
    Slo("the drain leader was killed mid-outage", "failover.killed", "==", 1),
    Slo("offline acceptances journaled", "journal.recorded", ">=", 1),
    Slo("every acknowledged acceptance is in the journal", "failover.acknowledged_missing", "==", 0),
    Slo("every acceptance reconciled (nothing pending)", "failover.pending", "==", 0),
    Slo("per-beneficiary limit held across replicas", "failover.max_pecs_per_beneficiary", "<=", POLICY_COUNT),
    Slo("journal drained once (advices = records)", "failover.advices_not_matching", "==", 0),
    Slo("no advice judged twice", "failover.advices_twice", "==", 0),
]
EXTRA_METRICS = tuple(f"failover.{k}" for k in (
    "unexpected_outside_kill", "cut_over_bound", "cut_by_kill", "killed", "acknowledged_missing", "pending",
    "max_pecs_per_beneficiary", "advices_not_matching", "advices_twice", "last_cut_after_kill_s",
    "drain_started_after_return_s", "velocity_declines", "records"))
ACKNOWLEDGED: set[str] = set()  # journal references the users were given (local run: same process)
_KILL: dict[str, Any] = {}


# -- the stack: PostgreSQL, a platform, two replicas -------------------------------------
def make_stack(opts):  # type: ignore[no-untyped-def]
    """Called by loadtests.run instead of stack.ensure (see loadtests.scenarios)."""
    import secrets
    import shutil

    from loadtests import stack as stacks
    from tests.support.pg import Cluster

    class ReplicaStack(stacks.Stack):
        cluster: Any = None

        def stop(self, name: str | None = None) -> None:
            super().stop(name)
            if name is None and self.cluster is not None:
                self.cluster.stop()

    separate = os.environ.get("LOADTESTS_FAILOVER_JOURNALS", "shared") == "separate"
    cluster = None if separate else Cluster.start()
    journal = cluster.create_database("failover") if cluster else ""
    token = os.environ.get("SIM_ADMIN_TOKEN") or secrets.token_urlsafe(24)
    pport, cport = stacks.free_port(), stacks.free_port()
    s = ReplicaStack(f"http://127.0.0.1:{pport}", f"http://127.0.0.1:{cport}", "", opts.resilience, token,
                     20_000, 42)
    s.cluster = cluster if cluster and cluster.directory else None  # JOURNAL_URL: a server of yours, left running
    try:
        state = stacks.VAR / f"failover-platform-{pport}"
        shutil.rmtree(state, ignore_errors=True)
        proc, log = stacks._spawn("platform", f"failover-platform-{pport}", [
            "-m", "simulator", "serve", "--port", str(pport), "--control-port", str(cport), "--state-dir",
            str(state), "--beneficiaries", str(s.beneficiaries), "--seed", str(s.seed)], {"SIM_ADMIN_TOKEN": token}, s)
        stacks.wait_for(s.platform_url + "/healthz", proc, log)
        urls, groups, journals = [], [], []
        keys = stacks.VAR / f"failover-keys-{pport}"  # a deployment's replicas share its keys
        shutil.rmtree(keys, ignore_errors=True)
        keys.mkdir(parents=True, mode=0o700)
        shared_keys = {} if separate else {"GW_JOURNAL_KEY_FILE": str(keys / "journal.key"),
                                           "GW_PSEUDONYM_KEY_FILE": str(keys / "pseudonym.key")}
        from loadtests.sandbox import service_secret
        service = f"gw-{pport}"  # one deployment, one service account for its replicas
        shared_keys.update(GW_CLIENT_ID=service, GW_CLIENT_SECRET=service_secret(s, service))
        for i in range(2):
            port = stacks.free_port()
            local = stacks.VAR / f"failover-gateway-{port}"
            shutil.rmtree(local, ignore_errors=True)
            journals.append(str(local / "journal.sqlite") if separate else journal)
            proc, log = stacks._spawn(f"gateway-{i}", f"failover-gateway-{port}", [
                "-m", "gateway", "serve", "--port", str(port), "--platform", s.platform_url, "--journal",
                journals[-1], "--state-dir", str(local), "--resilience", opts.resilience, "--workers", "2"],
                shared_keys, s)
            stacks.wait_for(f"http://127.0.0.1:{port}/readyz", proc, log)
            urls.append(f"http://127.0.0.1:{port}")
            groups.append(proc.pid)
        victim = 0 if separate else _drain_leader_replica(journal, groups, timeout_s=60)
        s.gateway_url = urls[1 - victim]  # the run polls the survivor's /v1/status
        os.environ["LOADTESTS_REPLICAS"] = ",".join(urls)
        os.environ["LOADTESTS_FAILOVER"] = json.dumps({
            "journals": sorted(set(journals)), "victim_url": urls[victim], "victim_group": groups[victim],
            "platform_db": str(state / "platform.sqlite")})
        s.reused["failover"] = (f"replicas {', '.join(urls)}; " + ("a SQLite journal each" if separate else
                                f"one journal on PostgreSQL; drain leader {urls[victim]}"))
    except BaseException:
        s.stop()
        raise
    return s


def _drain_lock_pids(journal: str) -> set[int]:
    import psycopg
    with psycopg.connect(journal, connect_timeout=5) as conn:
        rows = conn.execute("SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid=l.pid"
                            " WHERE l.locktype='advisory' AND l.granted AND a.application_name LIKE 'gateway-drain-%'"
                            ).fetchall()
    return {int(r[0].rsplit("-", 1)[1]) for r in rows}


def _drain_leader_replica(journal: str, groups: list[int], timeout_s: float) -> int:
    """Which replica (index) holds the drain lock: taken once caches are loaded."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        for pid in _drain_lock_pids(journal):
            try:
                if os.getpgid(pid) in groups:
                    return groups.index(os.getpgid(pid))
            except ProcessLookupError:
                pass
        time.sleep(0.2)
    raise RuntimeError("no replica took the drain lock within %.0f s" % timeout_s)


# -- users: a list of replicas on the client side ----------------------------------------
def user_classes():  # type: ignore[no-untyped-def]
    from loadtests.users import Audiologist, Optician
    replicas = [u for u in os.environ.get("LOADTESTS_REPLICAS", "").split(",") if u]
    turn = itertools.count()

    class Spread:
        def on_start(self) -> None:
            self.replica = next(turn) % max(1, len(replicas))  # users spread over the replicas
            if replicas:
                self.client.base_url = replicas[self.replica]
            super().on_start()  # type: ignore[misc]

        def ask(self, operation: str, case: dict) -> None:
            if self._ask_and_keep(operation, case) is None and replicas:  # no answer: the next replica
                self.replica = (self.replica + 1) % len(replicas)
                self.client.base_url = replicas[self.replica]

        def _ask_and_keep(self, operation: str, case: dict):  # type: ignore[no-untyped-def]
            """The users' own `ask`, keeping the journal reference of an offline acceptance."""
            seen: dict = {}
            post = self.client.post

            def keeping(*args, **kw):  # type: ignore[no-untyped-def]
                r = post(*args, **kw)
                seen["r"] = r
                return r
            self.client.post = keeping  # type: ignore[method-assign]
            try:
                super().ask(operation, case)  # type: ignore[misc]
            finally:
                self.client.post = post  # type: ignore[method-assign]
            r = seen.get("r")
            if r is None or not getattr(r, "status_code", 0):
                return None
            try:
                doc = json.loads(r.content or b"")
            except ValueError:
                return {}
            if isinstance(doc, dict) and doc.get("journal_reference"):
                ACKNOWLEDGED.add(doc["journal_reference"])
            return doc

    class ReplicaOptician(Spread, Optician):
        weight = 3

    class ReplicaAudiologist(Spread, Audiologist):
        weight = 2

    return [ReplicaOptician, ReplicaAudiologist]


# -- the kill, in the Locust master ------------------------------------------------------
def on_test_start(control) -> None:  # type: ignore[no-untyped-def]
    import gevent
    from loadtests.collect import STATE
    failover = json.loads(os.environ.get("LOADTESTS_FAILOVER") or "{}")
    if not failover or STATE.scenario is None:
        return
    at = sum(p.duration_s for p in itertools.takewhile(lambda p: p.name != KILL_PHASE, STATE.scenario.phases))
    _KILL.clear()

    def kill() -> None:
        gevent.sleep(max(0.0, at - STATE.elapsed()))
        shared = [j for j in failover["journals"] if j.startswith("postgresql://")]
        held = {os.getpgid(p) for p in _drain_lock_pids(shared[0]) if _alive(p)} if shared else \
            {failover["victim_group"]}  # a SQLite journal each: every replica drains its own
        os.killpg(failover["victim_group"], signal.SIGKILL)
        _KILL.update(at_s=round(STATE.elapsed(), 3), url=failover["victim_url"],
                     held_drain_lock=failover["victim_group"] in held)
    gevent.spawn(kill)


def _alive(pid: int) -> bool:
    try:
        os.getpgid(pid)
        return True
    except ProcessLookupError:
        return False


def on_test_stop(control) -> dict:  # type: ignore[no-untyped-def]
    """Read the journal and the platform while they still run (the stack stops after Locust)."""
    import sqlite3
    failover = json.loads(os.environ.get("LOADTESTS_FAILOVER") or "{}")
    if not failover:
        return {}
    entries = [row for j in failover["journals"] for row in _entries(j)]
    records = {r[0]: r[1] for r in entries}
    per_beneficiary = {}
    for r in entries:
        if r[3] == "pec":
            per_beneficiary[r[4]] = per_beneficiary.get(r[4], 0) + 1
    pending = sum(1 for r in entries if r[2] == "pending")
    failed = sum(1 for r in entries if r[2] == "failed")
    exposure = sum(int(r[5] or 0) for r in entries)
    per_beneficiary = max(per_beneficiary.values(), default=0)
    with sqlite3.connect(failover["platform_db"], timeout=10) as db:
        advices = [r[0] for r in db.execute("SELECT advice_id FROM advices")]
    return {"kill": dict(_KILL), "records": len(records), "pecs": sum(1 for r in entries if r[3] == "pec"),
            "pending": int(pending), "failed": int(failed),
            "max_pecs_per_beneficiary": int(per_beneficiary), "exposure_eur": f"{int(exposure) / 100:.2f}",
            "advices": len(advices), "advices_unique": len(set(advices)),
            "advices_twice": len(advices) - len(set(advices)),
            "advices_not_matching": len(set(advices) ^ set(records)),
            "acknowledged": len(ACKNOWLEDGED), "acknowledged_missing": len(ACKNOWLEDGED - set(records.values()))}


def _entries(journal: str) -> list[tuple]:
    """(advice_id, reference, state, operation, beneficiary_key, exposure_cents) of one journal."""
    sql = "SELECT advice_id, reference, state, operation, beneficiary_key, exposure_cents FROM offline_entry"
    if journal.startswith("postgresql://"):
        import psycopg
        with psycopg.connect(journal, connect_timeout=5) as conn:
            return conn.execute(sql).fetchall()
    import sqlite3
    with sqlite3.connect(journal, timeout=10) as db:
        return db.execute(sql).fetchall()


# -- the figures -------------------------------------------------------------------------
def extra_summary(samples, status, phases, capture=None) -> dict:  # type: ignore[no-untyped-def]
    """Requests cut by the kill: transport errors (status 0) of requests in flight at the kill
    or sent to the dead replica before the user moved on; everything else must be expected."""
    got = (capture or {}).get("scenario_capture") or {}
    kill = got.get("kill") or {}
    at = kill.get("at_s")
    cut, other = [], []
    for s in samples:
        if not s.unexpected:
            continue
        in_window = at is not None and s.status == 0 and s.t_s <= at + CUT_GRACE_S and \
            s.t_s + s.latency_ms / 1000 >= at
        (cut if in_window else other).append(s)
    peak = int((capture or {}).get("peak_users") or 0) or max(p.users for p in PHASES)  # USERS= scales it
    bound = peak  # about half the users are on the victim: at most two cut requests each
    after = [s.t_s + s.latency_ms / 1000 for s in cut]
    return {"failover": {
        "killed": 1 if kill.get("held_drain_lock") else 0, "killed_at_s": at, "killed_replica": kill.get("url"),
        "cut_by_kill": len(cut), "cut_bound": bound, "cut_over_bound": max(0, len(cut) - bound),
        "last_cut_after_kill_s": round(max(after) - at, 3) if after and at is not None else None,
        "unexpected_outside_kill": len(other),
        **{k: got.get(k) for k in ("records", "pecs", "pending", "failed", "max_pecs_per_beneficiary", "exposure_eur",
                                   "advices", "advices_unique", "advices_twice", "advices_not_matching",
                                   "acknowledged", "acknowledged_missing")},
        "velocity_declines": sum(1 for s in samples if s.reason == "OFFLINE_VELOCITY_EXCEEDED"),
        "drain_started_after_return_s": _drain_start((capture or {}).get("points") or [], phases),
    }}


def _drain_start(points: list, phases) -> float | None:  # type: ignore[no-untyped-def]
    """Seconds from the platform's return to the first drained entry seen on the survivor."""
    back = next((p.start_s for p in phases if p.name == "return"), None)
    first = next((t for t, _b, _p, _r, drained in points if back is not None and t >= back and drained), None)
    return None if first is None else round(first - back, 3)
