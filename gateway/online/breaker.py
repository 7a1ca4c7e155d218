"""Circuit breaker as a pure state machine: values in, values out, `now` always a parameter.

Why not pybreaker: it reads the wall clock inline (its own tests sleep), it counts
consecutive failures only (no failure *rate*, no slow-call rate, no sliding window), and
several processes can share its state only through Redis. Here the shell keeps one
`BreakerState` per process behind a lock, calls `allow` before and `record` after each
upstream attempt, and logs/counts whatever `transition(old, new)` returns.

The window is a time window (`window_s`) capped at `max_calls` entries, so at high rates
the rates are computed over the most recent calls only and memory stays bounded.
A result that arrives late (its call began in another state) is folded into the current
state: in `open` it is ignored, in `half_open` it counts as a probe. Simple, and the
error is at most a few calls around a transition. The shell must `record` every call that
`allow` let through (in a `finally`, as a failure if the shell itself crashed): a probe
never recorded would hold its half-open slot for good.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

State = Literal["closed", "open", "half_open"]
Outcome = Literal["success", "failure", "slow_success"]
Call = tuple[float, bool, bool]  # (t, ok, slow)


@dataclass(frozen=True)
class BreakerConfig:
    window_s: float = 10.0
    min_calls: int = 10  # no verdict on fewer calls than this
    failure_rate: float = 0.5  # open at or above this share of failures
    slow_call_rate: float = 0.8  # open at or above this share of slow calls
    slow_call_s: float = 1.0  # a success that took this long counts as slow
    open_s: float = 2.0  # how long to skip the platform before probing
    half_open_probes: int = 3  # concurrent probes, and successes needed to close
    max_calls: int = 1000  # cap on the window's length
    consecutive_failures: int = 0  # this many failures in a row open at once, whatever the rates (0: off)


@dataclass(frozen=True)
class BreakerState:
    state: State = "closed"
    opened_at: float | None = None
    calls: tuple[Call, ...] = ()  # closed: the window; half_open: the probes' outcomes
    probes_in_flight: int = 0
    probe_successes: int = 0
    transitions: int = 0


def config_of(s) -> BreakerConfig:
    """The breaker's config from a gateway Settings (kept here so settings imports nothing upward)."""
    return BreakerConfig(s.breaker_window_s, s.breaker_min_calls, s.breaker_failure_rate, s.breaker_slow_call_rate,
                         s.breaker_slow_call_s, s.breaker_open_s, s.breaker_half_open_probes, s.breaker_max_calls,
                         s.breaker_consecutive_failures)


def allow(state: BreakerState, cfg: BreakerConfig, now: float, early: bool = False) -> tuple[bool, BreakerState]:
    """May a call go to the platform now? Returns the answer and the state to keep.
    `early`: half-open now, without waiting out `open_s` (the prober has just seen the
    platform answer: its return is news worth probing at once)."""
    if state.state == "closed":
        return True, state
    if state.state == "open":
        if not early and state.opened_at is not None and now - state.opened_at < cfg.open_s:
            return False, state
        half = BreakerState("half_open", state.opened_at, (), 1, 0, state.transitions + 1)
        return True, half
    if state.probes_in_flight < cfg.half_open_probes:
        return True, replace(state, probes_in_flight=state.probes_in_flight + 1)
    return False, state


def record(state: BreakerState, cfg: BreakerConfig, now: float, outcome: Outcome) -> BreakerState:
    """Fold the outcome of one upstream attempt into the state."""
    ok, slow = outcome != "failure", outcome == "slow_success"
    if state.state == "open":
        return state
    if state.state == "half_open":
        return _record_probe(state, cfg, now, (now, ok, slow))
    calls = _window(state.calls + ((now, ok, slow),), cfg, now)
    if _should_open(calls, cfg):
        return _opened(state, now)
    return replace(state, calls=calls)


def force_open(state: BreakerState, now: float) -> BreakerState:
    """The shell knows the platform is down (connection refused): skip the statistics.

    An already open breaker keeps its `opened_at`, so repeated news does not postpone probing.
    """
    return state if state.state == "open" else _opened(state, now)


def transition(old: BreakerState, new: BreakerState) -> tuple[str, str] | None:
    """(from, to) when the state changed, for a log line and a counter; None otherwise."""
    if new.transitions != old.transitions or new.state != old.state:
        return old.state, new.state
    return None


def failure_rate(calls: tuple[Call, ...]) -> float:
    return sum(1 for _, ok, _ in calls if not ok) / len(calls) if calls else 0.0


def slow_rate(calls: tuple[Call, ...]) -> float:
    return sum(1 for _, _, slow in calls if slow) / len(calls) if calls else 0.0


def _record_probe(state: BreakerState, cfg: BreakerConfig, now: float, call: Call) -> BreakerState:
    if not call[1]:
        return _opened(state, now)  # any failed probe: the platform is not back
    probes = state.calls + (call,)
    successes = state.probe_successes + 1
    if successes < cfg.half_open_probes:
        return replace(state, calls=probes, probe_successes=successes,
                       probes_in_flight=max(0, state.probes_in_flight - 1))
    # Enough probes answered: a platform that answers but only slowly (brownout) stays open.
    if slow_rate(probes) >= cfg.slow_call_rate:
        return _opened(state, now)
    return BreakerState("closed", None, (), 0, 0, state.transitions + 1)


def _opened(state: BreakerState, now: float) -> BreakerState:
    return BreakerState("open", now, (), 0, 0, state.transitions + 1)


def _window(calls: tuple[Call, ...], cfg: BreakerConfig, now: float) -> tuple[Call, ...]:
    horizon = now - cfg.window_s
    start = 0
    while start < len(calls) and calls[start][0] <= horizon:
        start += 1  # calls are appended in time order, so old ones sit at the front
    start = max(start, len(calls) - cfg.max_calls)
    return calls[start:] if start else calls


def _should_open(calls: tuple[Call, ...], cfg: BreakerConfig) -> bool:
    n = cfg.consecutive_failures
    if n and len(calls) >= n and not any(ok for _, ok, _ in calls[-n:]):
        return True  # a cut: the last n calls all failed (timeouts, hedges, resets)
    if len(calls) < cfg.min_calls:
        return False
    return failure_rate(calls) >= cfg.failure_rate or slow_rate(calls) >= cfg.slow_call_rate
