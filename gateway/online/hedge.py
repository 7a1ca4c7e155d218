"""The hedge: how long a professional waits for the platform before the stand-in answers.

Budget = clamp(factor x rolling p99 of recent healthy online calls, min, max), per worker
process (GW_HEDGE_FACTOR, GW_HEDGE_MIN_S, GW_HEDGE_MAX_S, GW_HEDGE_WINDOW). Healthy means
the platform gave a final answer (2xx or a business 4xx) without being hedged: a blackhole
must not teach the budget to wait longer. Until `window // 10` calls have been seen, the
budget is `max_s` (a fresh worker knows nothing yet; it errs on waiting for the platform).

Why a budget from p99 and not a fixed timeout: on a fast platform a fixed 50 ms is a long
stall for a counter; on a slow but healthy one it would stand in for answers that were
coming. `factor` x p99 hedges about one healthy call in many hundreds (which is then
answered offline, provisionally, and reconciled like any other) and catches a cut within
tens of milliseconds. The p99 is recomputed every `window // 20` samples, not per call:
sorting a thousand floats costs more than the rest of the hot path.

`LateAnswers` runs the rest of a hedged exchange on a small thread pool of its own (not
gunicorn's threads, which professionals need): it reads the answer or its timeout and
reports it (breaker, latency metric). No retry follows a late failure: the professional
already has the offline answer, and a PEC's key makes any later platform decision the
one the advice is judged as.
"""
from __future__ import annotations

import os
import threading
from collections import deque
from itertools import islice
from concurrent.futures import ThreadPoolExecutor
from typing import Callable


class HedgeBudget:
    def __init__(self, factor: float = 4.0, min_s: float = 0.05, max_s: float = 0.5, window: int = 1000) -> None:
        self.factor, self.min_s, self.max_s = factor, min_s, max_s
        self._lat: deque[float] = deque(maxlen=max(20, window))
        self._every = max(1, window // 20)
        self._warm = max(1, window // 10)
        self._since = 0
        self._budget = max_s
        self._lock = threading.Lock()

    def budget_s(self) -> float:
        return self._budget

    def recent_p95(self, n: int = 64) -> float | None:
        """p95 of the last `n` healthy calls (the drain's live signal); None before 20."""
        with self._lock:
            recent = list(islice(reversed(self._lat), n))
        if len(recent) < 20:
            return None
        recent.sort()
        return recent[min(len(recent) - 1, int(0.95 * len(recent)))]

    def observe(self, latency_s: float) -> None:
        """One healthy online call's latency (not hedged, final answer)."""
        with self._lock:
            self._lat.append(latency_s)
            self._since += 1
            if self._since < self._every or len(self._lat) < self._warm:
                return
            self._since = 0
            xs = sorted(self._lat)
            p99 = xs[min(len(xs) - 1, int(0.99 * len(xs)))]
        self._budget = min(self.max_s, max(self.min_s, self.factor * p99))


class LateAnswers:
    """A per-process pool for the rest of hedged exchanges, made after fork on first use."""

    def __init__(self, threads: int = 16) -> None:
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="gateway-late")
                self._pid = os.getpid()
            pool = self._pool
        pool.submit(fn)
