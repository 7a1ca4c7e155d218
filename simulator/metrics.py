"""`GET /metrics` of the platform: Prometheus text, the same figures for every worker.

The platform runs several gunicorn workers; rather than a second per-process mechanism
(prometheus_client's multiprocess directory), the figures are read at scrape time from the
SQLite store every worker already shares: request and fault counters (`counters.py`, each
worker's row flushed once a second, so a scrape may be up to a second behind), the fault
in force, advices, suspensions and detection alerts. Counters end in `_total` and only
grow, except PECs, which a sandbox reset forgets: they are a gauge.
"""
from __future__ import annotations

import time
from typing import Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .control import fault_state
from .faults.plan import MODES


class PlatformCollector(Collector):
    def __init__(self, store) -> None:
        self.store = store

    def collect(self) -> Iterable[Metric]:
        requests = CounterMetricFamily("platform_requests", "Answers, by operation and HTTP status",
                                       labels=["operation", "status"])
        faults = CounterMetricFamily("platform_faults_injected", "HTTP-level faults applied to requests, by mode",
                                     labels=["mode"])
        for name, value in sorted(self.store.counters().items()):
            kind, _, rest = name.partition(".")
            if kind == "requests":
                op, _, status = rest.rpartition(".")
                requests.add_metric([op, status], value)
            elif kind == "faults":
                faults.add_metric([rest], value)
        yield requests
        yield faults
        current = fault_state(self.store.plans(), time.time())["current"].get("mode", "up")
        in_force = GaugeMetricFamily("platform_fault_in_force", "1 for the fault mode now in force", labels=["mode"])
        for mode in sorted({"up", *MODES}):
            in_force.add_metric([mode], 1.0 if mode == current else 0.0)
        yield in_force
        q = self.store.query
        advices = q("SELECT COALESCE(SUM(copies), 0) AS received, COUNT(*) AS unique_ FROM advices")[0]
        yield CounterMetricFamily("platform_advices_received", "Advices received from gateways, copies included",
                                  value=advices["received"])
        verdicts = CounterMetricFamily("platform_advices_judged", "Distinct advices, by verdict", labels=["verdict"])
        for row in q("SELECT verdict, COUNT(*) AS n FROM advices GROUP BY verdict ORDER BY verdict"):
            verdicts.add_metric([row["verdict"]], row["n"])
        yield verdicts
        alerts = CounterMetricFamily("platform_detection_alerts", "Detection and account alerts, by kind",
                                     labels=["kind"])
        for row in q("SELECT kind, COUNT(*) AS n FROM alerts GROUP BY kind ORDER BY kind"):
            alerts.add_metric([row["kind"]], row["n"])
        yield alerts
        yield GaugeMetricFamily("platform_accounts_suspended", "Professional accounts suspended now",
                                value=q("SELECT COUNT(*) AS n FROM accounts WHERE suspended_at IS NOT NULL")[0]["n"])
        yield GaugeMetricFamily("platform_pecs_stored", "PECs stored (a sandbox reset forgets them)",
                                value=q("SELECT COUNT(*) AS n FROM pecs")[0]["n"])


def render(store) -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PlatformCollector(store))
    return generate_latest(registry), CONTENT_TYPE_LATEST
