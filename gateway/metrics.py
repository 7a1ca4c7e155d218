"""Prometheus metrics of the gateway.

Several gunicorn workers serve one gateway, so two kinds of figures:
- event counts and latencies (requests, upstream attempts, breaker transitions, advices)
  are counters and histograms in prometheus_client's multiprocess mode: `serve` sets
  PROMETHEUS_MULTIPROC_DIR before the workers start and each worker writes its own
  mmap'd file; a scrape sums them. Without that variable (tests, one process) the
  default registry is used.
- states (breaker state, journal pending, exposure, cache ages) are not per worker: they
  are computed at scrape time from the shared files (breaker file, journal, caches), so
  every worker reports the same true value and nothing goes stale when a worker dies.
"""
from __future__ import annotations

import os
from typing import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

REQUESTS = Counter("gateway_requests_total", "Answers to professionals", ["operation", "mode", "decision"])
UPSTREAM_LATENCY = Histogram("gateway_upstream_latency_seconds", "One attempt at the platform",
                             ["operation", "outcome"],
                             buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1, 1.5, 2.5, 5, 10, 30))
BREAKER_TRANSITIONS = Counter("gateway_breaker_transitions_total", "Breaker state changes", ["from_state", "to_state"])
ADVICES = Counter("gateway_advices_total", "Advices drained to the platform, by verdict", ["verdict"])
DRAIN_FAILURES = Counter("gateway_drain_failures_total", "Advices not judged on a send: transient (backed off),"
                         " pending (platform still judging), set_aside (refused for good)", ["kind"])
BACKGROUND_ERRORS = Counter("gateway_background_errors_total", "Failures of a background task", ["task"])
CACHE_REFRESHES = Counter("gateway_cache_refreshes_total", "Cache refreshes from the platform", ["cache", "result"])
BREAKER_STATES = ("closed", "half_open", "open")


class StateCollector(Collector):
    """Scrape-time gauges from the gateway-wide shared state."""

    def __init__(self, status: Callable[[], dict]) -> None:
        self.status = status

    def collect(self) -> Iterable[GaugeMetricFamily]:
        st = self.status()
        breaker = GaugeMetricFamily("gateway_breaker_state", "1 for the breaker's current state", labels=["state"])
        current = st.get("breaker", {}).get("state")
        for name in BREAKER_STATES:
            breaker.add_metric([name], 1.0 if name == current else 0.0)
        yield breaker
        journal = st.get("journal", {})
        # Cumulative counts are counters (`_total`), read from the journal every worker shares.
        for key in ("recorded", "drained"):
            yield CounterMetricFamily(f"gateway_journal_{key}", f"Offline decisions {key} in the journal, ever",
                                      value=journal.get(key, 0))
        for key in ("pending", "failed"):  # how many are in that state now
            yield GaugeMetricFamily(f"gateway_journal_{key}", f"Journal entries {key} now", value=journal.get(key, 0))
        rec = st.get("reconciliation", {})
        # Euros: a currency has no SI base unit; `_eur` names it (Prometheus: the unit in the name).
        yield CounterMetricFamily("gateway_exposure_eur", "Euros accepted offline that the platform then rejected or "
                                  "reduced, ever", value=float(rec.get("exposure_eur", 0) or 0))
        health = GaugeMetricFamily("gateway_background_task_up", "1 while a background task's last run"
                                   " succeeded", labels=["task"])
        for name, h in st.get("background", {}).items():
            health.add_metric([name], 1.0 if h.get("ok") else 0.0)
        yield health
        ages = GaugeMetricFamily("gateway_cache_age_seconds", "Age of each cache (NaN until loaded)", labels=["cache"])
        for name, age in st.get("caches", {}).items():
            ages.add_metric([name], float("nan") if age is None else float(age))
        yield ages


def render(status: Callable[[], dict]) -> tuple[bytes, str]:
    """The /metrics body: per-worker event metrics summed, plus scrape-time gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    state = CollectorRegistry()
    state.register(StateCollector(status))
    return body + generate_latest(state), CONTENT_TYPE_LATEST
