"""How fast the drain sends advices: additive increase, multiplicative decrease (AIMD).

Pure: a `Pace` value in, the next one out; the drain (gateway.background.drain) feeds it
each batch's outcome. Like TCP's congestion control, the drain probes the platform's
capacity by raising its rate a step per healthy batch and halves it at the first sign of
strain, so after an outage it runs as fast as the platform comfortably judges, and yields
as soon as that slows the platform down for the professionals.

A batch is healthy when
- the platform's answer time per advice (smoothed over batches) stays within
  `latency_tolerance` x its baseline (the lowest seen lately; it creeps up `baseline_drift`
  per batch so that a platform that became slower for good is not judged against its best
  minute forever), and
- the live p95 (the gateway's own online calls, when known) stays within `live_tolerance`
  x the live p95 measured while the drain had nothing to send (`idle`): "healthy" is what
  professionals saw without the drain.
Rising latency, a 5xx, a transport failure or a 429 halve the rate (a 429's Retry-After is
honoured by the drain as a pause), at most once per `cooldown_s`: the live p95 is taken
over the last few seconds of calls, and halving again on the same stale reading would
starve the drain. The rate never exceeds `ceiling_per_s` when one is set
(GW_DRAIN_CEILING_PER_S; 0 = none) and never more than `headroom` x what was actually
achieved, so it cannot run away while the platform, not the pacing, is the limit.
"""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class PaceConfig:
    start_per_s: float = 50.0
    step_per_s: float = 50.0  # added per healthy batch
    decrease: float = 0.5  # factor on strain
    floor_per_s: float = 5.0
    ceiling_per_s: float = 0.0  # 0: no ceiling beyond what the platform sustains
    latency_tolerance: float = 1.5
    live_tolerance: float = 1.2
    baseline_drift: float = 0.02
    headroom: float = 1.5
    smoothing: float = 0.3  # weight of the newest batch in the smoothed answer time
    cooldown_s: float = 2.0  # at most one decrease this often


@dataclass(frozen=True)
class Pace:
    rate_per_s: float
    baseline_s: float | None = None  # platform answer time per advice, when healthy
    live_baseline_s: float | None = None  # live p95 while the drain was idle
    healthy: bool = True  # the last verdict, for logs and tests
    smoothed_s: float | None = None  # answer time per advice, smoothed
    decreased_at: float = float("-inf")


def start(cfg: PaceConfig) -> Pace:
    return Pace(_capped(cfg.start_per_s, cfg))


def idle(p: Pace, live_p95_s: float | None) -> Pace:
    """Nothing to drain: what professionals see now is the healthy live p95."""
    if live_p95_s is None:
        return p
    base = live_p95_s if p.live_baseline_s is None else 0.7 * p.live_baseline_s + 0.3 * live_p95_s
    return replace(p, live_baseline_s=base)


def answered(p: Pace, cfg: PaceConfig, advices: int, seconds: float, achieved_per_s: float,
             live_p95_s: float | None = None, now: float = 0.0) -> Pace:
    """A batch of `advices` answered in `seconds`; advices left at `achieved_per_s`."""
    per_advice = seconds / max(1, advices)
    smooth = per_advice if p.smoothed_s is None else (1 - cfg.smoothing) * p.smoothed_s + cfg.smoothing * per_advice
    base = smooth if p.baseline_s is None else min(p.baseline_s * (1 + cfg.baseline_drift), smooth)
    slow = smooth > cfg.latency_tolerance * base
    live_slow = (live_p95_s is not None and p.live_baseline_s is not None
                 and live_p95_s > cfg.live_tolerance * p.live_baseline_s)
    p = replace(p, baseline_s=base, smoothed_s=smooth)
    if slow or live_slow:
        return _decreased(p, cfg, now)
    rate = min(p.rate_per_s + cfg.step_per_s, max(cfg.start_per_s, cfg.headroom * achieved_per_s))
    return replace(p, rate_per_s=_capped(rate, cfg), healthy=True)


def strained(p: Pace, cfg: PaceConfig, now: float = 0.0) -> Pace:
    """A 5xx, a 429 or a transport failure: halve."""
    return _decreased(p, cfg, now)


def _decreased(p: Pace, cfg: PaceConfig, now: float) -> Pace:
    if now - p.decreased_at < cfg.cooldown_s:
        return replace(p, healthy=False)  # the last decrease has not shown its effect yet
    return replace(p, rate_per_s=max(cfg.floor_per_s, p.rate_per_s * cfg.decrease), healthy=False, decreased_at=now)


def _capped(rate: float, cfg: PaceConfig) -> float:
    return min(rate, cfg.ceiling_per_s) if cfg.ceiling_per_s > 0 else rate


def config_of(s) -> PaceConfig:
    """From a gateway Settings (kept here so settings imports nothing upward)."""
    return PaceConfig(start_per_s=s.drain_rate_per_s, step_per_s=s.drain_rate_step_per_s,
                      ceiling_per_s=s.drain_ceiling_per_s, latency_tolerance=s.drain_latency_tolerance,
                      live_tolerance=s.drain_live_tolerance, cooldown_s=s.drain_decrease_cooldown_s)
