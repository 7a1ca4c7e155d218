"""The live page's rolling chart: answers per second by kind and p95 latency, per whole
second, for the last `SECONDS`. Pure (a function of samples and `now`)."""
from __future__ import annotations

import time
from typing import Any, Sequence

from loadtests.samples import DECLINES, percentile

SECONDS = 90


def series(samples: Sequence[Any], now: float | None = None, seconds: int = SECONDS,
           since: float | None = None) -> list[dict[str, Any]]:
    """One point per second [t, t+1) up to the last whole second, oldest first, over the last
    `seconds` or since the test start `since` if later (the chart fills its width from the
    start). `t` is seconds before now (negative); samples carry epoch `t_s` (the master's)."""
    end = int(now or time.time())
    start = max(end - seconds, int(since or 0))
    buckets: dict[int, list[Any]] = {}
    for s in reversed(samples[-20000:]):
        second = int(s.t_s)
        if second < start:
            break
        if second < end:
            buckets.setdefault(second, []).append(s)
    out = []
    for second in range(start, end):
        inside = buckets.get(second, [])
        out.append({"t": second - end,
                    "online": sum(s.mode == "online" and not s.unexpected for s in inside),
                    "offline": sum(s.mode == "offline" and not s.unexpected for s in inside),
                    "declined": sum(s.decision in DECLINES and not s.unexpected for s in inside),
                    "other": sum(s.mode == "none" and not s.unexpected for s in inside),
                    "unexpected": sum(s.unexpected for s in inside),
                    "p95_ms": percentile([s.latency_ms for s in inside], 95)})
    return out
