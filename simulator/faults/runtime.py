"""Where fault plans meet the running processes: a cached reader of the stored plan.

Every process (the proxy in the supervisor, each gunicorn worker) reads the latest plan
from the shared store at most every `ttl_s` and computes the fault in force itself.
"""
from __future__ import annotations

import os
import threading
import time

from tiers_payant.front import limits_from_env

from .plan import FaultPlan, plan_from_json, transport_action
from .proxy import FaultProxy


class PlanReader:
    def __init__(self, store, ttl_s: float = 0.05) -> None:
        self.store, self.ttl_s = store, ttl_s
        self._plan: FaultPlan | None = None
        self._plan_id: int | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def plan(self) -> FaultPlan | None:
        now = time.monotonic()
        if now - self._read_at < self.ttl_s:
            return self._plan
        with self._lock:
            if now - self._read_at >= self.ttl_s:
                current = self.store.current_plan()
                if current is None:
                    self._plan, self._plan_id = None, None
                elif current[0] != self._plan_id:
                    self._plan_id, self._plan = current[0], plan_from_json(current[1])
                self._read_at = now
        return self._plan

    def transport_mode(self) -> str:
        plan = self.plan()
        return "pass" if plan is None else transport_action(plan, time.time())


def start_proxy(settings, store) -> FaultProxy:
    """The public port: whole requests only (SIM_FRONT_* limits), and the plan's socket faults."""
    reader = PlanReader(store, ttl_s=0.02)
    return FaultProxy(settings.host, settings.port, "127.0.0.1", settings.internal_port,
                      reader.transport_mode, limits_from_env("SIM_", dict(os.environ))).start()
