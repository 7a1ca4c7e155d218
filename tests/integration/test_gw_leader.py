"""Single-leader background work: one leader among processes, take-over after SIGKILL."""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from gateway.background.leader import Leadership, run_when_leader

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import os, sys, threading
from gateway.background.leader import run_when_leader
def work(stop):
    open(os.path.join(sys.argv[2], "leader-%d" % os.getpid()), "w").close()
    stop.wait()
run_when_leader(sys.argv[1], work, retry_s=0.1)
threading.Event().wait()  # a worker serving requests, until killed
"""


def wait_for(predicate, timeout_s: float = 20.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def leaders(directory: Path) -> set[int]:
    return {int(p.name.split("-")[1]) for p in directory.glob("leader-*")}


def test_two_processes_one_leader_then_takeover_after_sigkill(tmp_path):
    lock = str(tmp_path / "leader.lock")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, lock, str(tmp_path)], env=env)
             for _ in range(2)]
    try:
        assert wait_for(lambda: leaders(tmp_path))
        time.sleep(1.0)  # ten retry periods: the other worker must still not lead
        (first,) = leaders(tmp_path)
        assert first in {p.pid for p in procs}
        assert Path(lock).read_text().strip() == str(first)
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: len(leaders(tmp_path)) == 2)
        (second,) = leaders(tmp_path) - {first}
        assert second in {p.pid for p in procs} - {first}
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=10)


def test_lock_is_exclusive_within_a_process_and_released(tmp_path):
    lock = str(tmp_path / "l.lock")
    a, b = Leadership(lock), Leadership(lock)
    assert a.try_acquire() and a.try_acquire() and a.is_leader
    assert not b.try_acquire() and not b.is_leader
    a.release()
    assert not a.is_leader and b.try_acquire()
    b.release()


def _report(leadership: Leadership, queue) -> None:  # runs in a forked child
    leadership.release()  # must only close the child's copy
    queue.put(leadership.is_leader)


def test_forked_child_is_not_leader_and_cannot_free_the_parents_lock(tmp_path):
    lock = str(tmp_path / "l.lock")
    parent = Leadership(lock)
    assert parent.try_acquire()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_report, args=(parent, queue))
    child.start()
    assert queue.get(timeout=30) is False
    child.join(timeout=30)
    assert parent.is_leader and not Leadership(lock).try_acquire()
    parent.release()


def test_background_leader_runs_fn_once_and_stops(tmp_path):
    lock = str(tmp_path / "l.lock")
    calls, running = [], threading.Event()

    def work(stop: threading.Event) -> None:
        calls.append(1)
        running.set()
        stop.wait()

    first = run_when_leader(lock, work, retry_s=0.05)
    assert running.wait(20)
    second = run_when_leader(lock, work, retry_s=0.05)
    time.sleep(0.5)
    assert calls == [1] and first.is_leader and not second.is_leader
    first.stop()
    assert wait_for(lambda: len(calls) == 2)  # the lead passed on when the first stopped
    second.stop()
    assert not first.is_leader and Leadership(lock).try_acquire()


def test_crashing_work_gives_up_the_lead_and_is_retried(tmp_path):
    attempts = []

    def work(stop: threading.Event) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("refresh failed")
        stop.wait()

    bg = run_when_leader(str(tmp_path / "l.lock"), work, retry_s=0.01)
    try:
        assert wait_for(lambda: len(attempts) >= 3 and bg.is_leader)
    finally:
        bg.stop()


def test_drain_lock_across_replicas_is_exclusive_and_lost_with_its_session(pg_url):
    """The PostgreSQL journal's deployment-wide drain lock (gateway.background.leader_pg)."""
    import psycopg
    from gateway.background.leader_pg import DatabaseLeadership
    a, b = DatabaseLeadership(pg_url, check_every_s=0.0), DatabaseLeadership(pg_url, check_every_s=0.0)
    assert a.try_acquire() and a.try_acquire() and a.is_leader
    assert not b.try_acquire() and not b.is_leader
    with psycopg.connect(pg_url, autocommit=True) as admin:  # the server ends the leader's session
        admin.execute("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                      " WHERE application_name=%s", (f"gateway-drain-{os.getpid()}",))
    assert not a.try_acquire() and not a.is_leader  # the holder notices at its next check
    assert b.try_acquire() and b.is_leader  # and another replica takes the drain
    assert not a.try_acquire()
    b.release()
    assert not b.is_leader and a.try_acquire()
    a.release()
