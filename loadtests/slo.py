"""Service-level objectives: a named comparison of one metric of the run with a target.

Metrics are keys of the flat stats dict that `report.stats_from_summary` builds from the
summary: every numeric field of `summary.json`, its sections joined with dots, and the
phases under `phase.<name>.`. The names a scenario can use:

- `requests`, `unexpected`, `unexpected_share` (unexpected / requests), `duration_s`
- `by_mode.online`, `by_mode.offline`, `by_mode.none`, `offline_share`
- `by_decision.<decision>` (eligible, not_eligible, accepted, refused, partial, problem, error)
- `latency.p50_ms`, `latency.p95_ms`, `latency.p99_ms` (whole run)
- `phase.<name>.requests`, `.unexpected`, `.unexpected_share`, `.offline`,
  `.offline_share` (offline answers / all requests of the phase), `.p50_ms`, `.p95_ms`, `.p99_ms`
- `breaker.opened_after_s`, `breaker.closed_after_s` (None when it never happened)
- `journal.recorded`, `journal.drained`, `journal.pending`
- `reconciliation.confirmed`, `.adjusted`, `.rejected`, `.exposure_eur`
- anything a scenario adds through `extra`, e.g. `attack.distinct_beneficiaries_answered`,
  `attack.suspended` (True counts as 1), `attack.suspended_after_s`

`Slo(name, metric, op, target, phase)`: with `phase` set, `metric` is the name inside
the phase ("p95_ms" and phase "outage" read `phase.outage.p95_ms`). A metric that is
missing or None fails: an objective nobody measured is not met.
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    # Counts are exact; a tolerance keeps float metrics (shares, seconds) comparable.
    "==": lambda actual, target: math.isclose(actual, target, rel_tol=1e-9, abs_tol=1e-9),
}


@dataclass(frozen=True)
class Slo:
    name: str
    metric: str
    op: str  # "<=" | ">=" | "=="
    target: float
    phase: str | None = None

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"SLO {self.name!r}: op must be one of {sorted(_OPS)}, "
                             f"got {self.op!r}")

    @property
    def key(self) -> str:
        """The stats key this objective reads."""
        return f"phase.{self.phase}.{self.metric}" if self.phase else self.metric

    def check(self, actual: float | None) -> bool:
        return actual is not None and _OPS[self.op](actual, self.target)


def evaluate(slos: Iterable[Slo], stats: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One result per SLO, in order: name, metric, op, target, actual (None if missing), pass."""
    results = []
    for slo in slos:
        actual = _number(stats.get(slo.key))
        results.append({"name": slo.name, "metric": slo.key, "op": slo.op, "target": slo.target,
                        "actual": actual, "pass": slo.check(actual)})
    return results


def _number(value: Any) -> float | int | None:
    """A comparable number, or None. Bools count 0/1; numeric strings ("12.30", how the
    gateway writes euros) are read; ints stay ints so summary.json shows counts as counts."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number
