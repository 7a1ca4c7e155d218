"""What a load test observes: one `Sample` per request, the `Phase`s of the scenario, and
`StatusPoint`s polled from the gateway's /v1/status. Pure values, no I/O, no clock.

From Locust's `events.request` listener a sample is built as
`Sample(t_s=start_time - test_start, operation=name, mode=answer["mode"] or "none",
decision=answer["decision"] or "problem"/"error", status=response.status_code or 0,
latency_ms=response_time, expected=<the card's known outcome matched>, reason=...)`.
Workers send `[s.to_row() for s in batch]` to the master (plain lists: small over
msgpack, and the same order as the CSV header `FIELDS`); the master calls `Sample.from_row`.
`from_row` also accepts the dict of `to_dict()` and the strings a CSV reader gives back.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Iterable, Mapping, Sequence

MODES = ("online", "offline", "none")
DECISIONS = ("eligible", "not_eligible", "accepted", "refused", "partial", "problem", "error")
DECLINES = ("not_eligible", "refused")  # business answers "no": expected in many scenarios
NO_FAULT = ("", "up", "none")  # fault modes that mean "the platform is healthy"


def _bool(value: Any) -> bool:
    # A CSV reader returns "True"/"False"; msgpack and JSON return real booleans.
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


@dataclass(frozen=True)
class Sample:
    t_s: float  # seconds since test start, when the request started
    operation: str  # "eligibility" | "pec" | "pec_status" | ...
    mode: str  # "online" | "offline" | "none" (no answer, or a problem document)
    decision: str  # one of DECISIONS
    status: int  # HTTP status; 0 for a transport error (refused, reset, timeout)
    latency_ms: float
    expected: bool  # the answer matched the test card's known outcome
    reason: str = ""  # reason code of the answer, or why it was unexpected

    @property
    def unexpected(self) -> bool:
        """Counted against the run: a wrong answer, a transport error or a 5xx, except the one
        5xx the gateway documents as an answer: an invoice refused 503 PLATFORM_UNAVAILABLE while
        the platform is down (an invoice needs the platform unless the offline-invoice stand-in
        is on; the shop invoices later). `expected` already says whether that phase allows it."""
        waits = self.operation == "invoice" and self.status == 503 and self.reason == "PLATFORM_UNAVAILABLE"
        return not self.expected or self.status == 0 or (self.status >= 500 and not waits)

    def to_row(self) -> list[Any]:
        return [getattr(self, name) for name in FIELDS]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, row: Sequence[Any] | Mapping[str, Any]) -> "Sample":
        if isinstance(row, Mapping):
            row = [row.get(name, "") for name in FIELDS]
        t_s, operation, mode, decision, status, latency_ms, expected, *rest = row
        return cls(float(t_s), str(operation), str(mode or "none"), str(decision),
                   int(float(status or 0)), float(latency_ms), _bool(expected),
                   str(rest[0]) if rest and rest[0] is not None else "")


FIELDS = tuple(f.name for f in fields(Sample))


@dataclass(frozen=True)
class Phase:
    """A named slice of the run, [start_s, end_s), during which `fault` is injected
    ("up" when none)."""

    name: str
    start_s: float
    end_s: float
    fault: str = "up"

    def contains(self, t_s: float) -> bool:
        return self.start_s <= t_s < self.end_s


@dataclass(frozen=True)
class StatusPoint:
    t_s: float
    breaker: str  # "closed" | "open" | "half_open" (also accepted: "half-open")
    journal_pending: int
    journal_recorded: int
    journal_drained: int


BREAKER_LEVELS = {"closed": 0.0, "half_open": 0.5, "half-open": 0.5, "open": 1.0}


def breaker_level(state: str | None) -> float | None:
    """0 closed, 0.5 half-open, 1 open (how plots draw it); None for anything else."""
    return BREAKER_LEVELS.get((state or "").strip().lower())


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least q% of values at or below it.

    Always a value that was really observed (no interpolation), like the percentiles a
    reader checks by counting. `q` is in [0, 100]; q=0 gives the minimum. None when empty.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within [0, 100], got {q}")
    ordered = sorted(values)
    if not ordered:
        return None
    # q * n first, then / 100: 95 * 20 / 100 is exactly 19, 0.95 * 20 may not be.
    rank = max(1, math.ceil(q * len(ordered) / 100 - 1e-9))
    return ordered[rank - 1]
