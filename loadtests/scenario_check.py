"""A scenario is checked when it is loaded, not when its run ends: every SLO must read a
metric the report produces, in a phase the scenario has, and every fault (phases and
timeline) must be one the platform accepts. Errors name what is valid. Pure.

Metrics a scenario's `extra_summary` adds are declared beside it in `EXTRA_METRICS`
(e.g. `("attack.suspended", ...)`), so they are checked like the others.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from loadtests.samples import DECISIONS, MODES
from simulator.faults.plan import MODES as FAULT_MODES
from simulator.faults.plan import PlanError, parse_fault, parse_timeline

PHASE_METRICS = ("requests", "unexpected", "unexpected_share", "offline", "offline_share", "p50_ms", "p95_ms",
                 "p99_ms", "start_s", "end_s")
RUN_METRICS = (
    "requests", "unexpected", "unexpected_share", "duration_s", "offline_share",
    *(f"by_mode.{m}" for m in MODES), *(f"by_decision.{d}" for d in DECISIONS),
    "latency.p50_ms", "latency.p95_ms", "latency.p99_ms",
    "breaker.opened_after_s", "breaker.closed_after_s",
    "journal.recorded", "journal.drained", "journal.pending",
    "reconciliation.confirmed", "reconciliation.adjusted", "reconciliation.rejected", "reconciliation.exposure_eur",
    "drain.undrained", "drain.recorded_in_run", "drain.drained_in_run",
    "locust.requests", "locust.failures", "run.workers", "run.peak_users")


class ScenarioError(ValueError):
    """A scenario that cannot be run as written; the message lists every problem."""


def known_metrics(phase_names: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
    return [*RUN_METRICS, *extra, *(f"phase.{p}.{m}" for p in phase_names for m in PHASE_METRICS)]


def _fault_problem(where: str, fault: dict[str, Any]) -> str | None:
    try:
        parse_fault(dict(fault))
    except PlanError as e:
        mode = fault.get("mode")
        if mode in FAULT_MODES:
            allowed = ", ".join(["for_s", "amcs", *FAULT_MODES[mode]])
            return f"{where}: {e}; the parameters of mode {mode} are: {allowed}"
        return f"{where}: {e}"
    return None


def problems(name: str, phases: Sequence[Any], slos: Sequence[Any], timeline: Sequence[dict],
             extra_metrics: Sequence[str] = ()) -> list[str]:
    """Everything wrong with a scenario, [] when it may run."""
    out = []
    names = [p.name for p in phases]
    if not phases:
        out.append("no PHASES")
    if len(set(names)) != len(names):
        out.append(f"phase names repeat: {names}")
    for p in phases:
        problem = _fault_problem(f"phase {p.name!r} fault", dict(p.fault))
        out += [problem] if problem else []
    try:
        parse_timeline({"steps": [dict(step) for step in timeline]}, 0.0, 0)
    except PlanError as e:
        out.append(f"TIMELINE: {e}")
    metrics = set(known_metrics(names, extra_metrics))
    for slo in slos:
        if slo.phase is not None and slo.phase not in names:
            out.append(f"SLO {slo.name!r}: unknown phase {slo.phase!r}; phases: {', '.join(names)}")
        elif slo.phase is not None and slo.metric not in PHASE_METRICS:
            out.append(f"SLO {slo.name!r}: unknown phase metric {slo.metric!r}; valid: {', '.join(PHASE_METRICS)}")
        elif slo.phase is None and slo.key not in metrics:
            valid = [*RUN_METRICS, *extra_metrics, f"phase.<{'|'.join(names)}>.<{'|'.join(PHASE_METRICS)}>"]
            out.append(f"SLO {slo.name!r}: unknown metric {slo.key!r}; valid: {', '.join(valid)}")
    return [f"scenario {name}: {p}" for p in out]


def check(name: str, phases: Sequence[Any], slos: Sequence[Any], timeline: Sequence[dict],
          extra_metrics: Sequence[str] = ()) -> None:
    found = problems(name, phases, slos, timeline, extra_metrics)
    if found:
        raise ScenarioError("\n".join(found))
