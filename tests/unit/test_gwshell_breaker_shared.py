"""The gateway-wide breaker: one state in a file, shared by instances and processes."""
from __future__ import annotations

import multiprocessing

from gateway.online.breaker import BreakerConfig
from gateway.online.breaker_store import SharedBreaker

CFG = BreakerConfig(window_s=10, min_calls=4, failure_rate=0.5, open_s=2.0, half_open_probes=2)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _fail(b: SharedBreaker, n: int) -> None:
    for _ in range(n):
        assert b.allow()
        b.record("failure")


def test_two_instances_on_one_file_see_one_breaker(tmp_path):
    clock, seen = Clock(), []
    a = SharedBreaker(str(tmp_path / "b"), CFG, clock, on_transition=lambda o, n: seen.append((o, n)))
    b = SharedBreaker(str(tmp_path / "b"), CFG, clock)
    _fail(a, 2)
    _fail(b, 2)  # the window is shared: the fourth failure, whoever records it, opens
    assert seen == [] and a.state() == "open" and not a.allow()
    snap = a.snapshot()
    assert snap["state"] == "open" and snap["recorded"] == 4 and snap["failures"] == 4
    assert snap["short_circuited"] == 1 and snap["transitions"] == 1


def test_transition_is_reported_by_the_instance_that_made_it(tmp_path):
    clock, seen = Clock(), []
    b = SharedBreaker(str(tmp_path / "b"), CFG, clock, on_transition=lambda o, n: seen.append((o, n)))
    _fail(b, 4)
    clock.t += 2.5
    assert b.allow() and b.state() == "half_open"
    b.record("success")
    assert b.allow()
    b.record("success")
    assert seen == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_force_open_and_live_traffic_leaves_probing_to_the_prober(tmp_path):
    clock = Clock()
    b = SharedBreaker(str(tmp_path / "b"), CFG, clock)
    b.force_open()
    assert b.snapshot()["forced_open"] == 1
    clock.t += 2.5  # open_s elapsed: a plain allow() would probe...
    assert not b.allow(probe_after_s=5.0)  # ...but live traffic waits for the prober
    clock.t += 3.0
    assert b.allow(probe_after_s=5.0) and b.state() == "half_open"  # no prober came: live calls probe


def test_an_empty_or_foreign_file_reads_as_closed(tmp_path):
    path = tmp_path / "b"
    path.write_bytes(b"garbage that is not a breaker")
    b = SharedBreaker(str(path), CFG, Clock())
    assert b.state() == "closed" and b.allow()
    b.record("success")
    assert b.snapshot()["window_calls"] == 1
    b.reset()
    assert b.snapshot()["window_calls"] == 0


def _child_fails(path: str) -> None:
    b = SharedBreaker(path, CFG)
    for _ in range(4):
        b.allow()
        b.record("failure")


def test_another_process_opens_it_for_this_one(tmp_path):
    path = str(tmp_path / "b")
    mine = SharedBreaker(path, CFG)
    assert mine.state() == "closed"  # descriptor opened before the fork: must not be reused by the child
    proc = multiprocessing.get_context("fork").Process(target=_child_fails, args=(path,))
    proc.start()
    proc.join(20)
    assert proc.exitcode == 0
    assert mine.state() == "open" and not mine.allow()
