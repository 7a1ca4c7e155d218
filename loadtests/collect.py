"""What a run observes, gathered where the report is written (Locust's master, or the
only process of a local run).

- `on_request` (an `events.request` listener) turns each checked answer into a `Sample`
  (its `t_s` still an epoch time; the master rebases it on the test start). Workers batch
  their rows and send them to the master every second with Locust's custom messages
  (`loadtests_samples`); the master merges them and counts rows per node, so a report
  shows that every worker was heard.
- The master announces the test start (`loadtests_t0`) so that workers judge answers by
  the same phase clock, hands them what the scenario's `on_test_start` returned
  (`loadtests_shared`: `STATE.shared`, e.g. a stolen token), starts the fault timeline,
  and polls the gateway's /v1/status into `StatusPoint`s (see `loadtests.locustfile`).
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from loadtests.samples import Sample, StatusPoint

log = logging.getLogger("loadtests")
SAMPLES_MSG, T0_MSG, SHARED_MSG = "loadtests_samples", "loadtests_t0", "loadtests_shared"
RECENT_S = 2.0  # the live page's and the demo's rates: over the last 2 s, so a Restore shows within seconds


@dataclass
class RunState:
    """Per process: the run's settings (from the command line) and what it gathered."""

    scenario: Any = None  # loadtests.scenarios.Scenario, already scaled
    t0: float | None = None  # epoch of the test start, as the master saw it
    seed: int = 42
    accounts: int = 1000
    login_url: str = "http://127.0.0.1:8081"
    control_url: str = ""  # fixed from the command line at start: nothing a browser posts changes it
    gateway_url: str = ""
    login_url_fixed: bool = False
    stopping: bool = False
    pec_share: float = 0.25
    cases: list[dict] = field(default_factory=list)
    credentials: list = field(default_factory=list)  # loadtests.sandbox.Credentials, from LOADTESTS_CREDENTIALS
    samples: list[Sample] = field(default_factory=list)  # t_s is epoch until rebased
    pending_rows: list[list] = field(default_factory=list)  # a worker's unsent rows
    by_node: collections.Counter = field(default_factory=collections.Counter)
    points: list[StatusPoint] = field(default_factory=list)
    status: dict = field(default_factory=dict)  # the last /v1/status answer
    status_at_start: dict = field(default_factory=dict)
    faults: dict = field(default_factory=dict)  # the last GET /v1/faults answer
    notes: list[str] = field(default_factory=list)  # what went wrong around the run
    workers: int = 1  # worker processes the master had at test start (1: a local run)
    shared: dict = field(default_factory=dict)  # what the scenario's on_test_start gave the users (never saved)

    def note(self, text: str) -> None:
        """Remember what went wrong once (a failing poll would repeat it twice a second)."""
        if text not in self.notes and len(self.notes) < 20:
            self.notes.append(text[:200])

    def credentials_of(self, profession: str, reserved: tuple[str, ...] = ()) -> list:
        return [c for c in self.credentials if c.profession == profession and c.client_id not in reserved]

    def credentials_for(self, client_id: str):
        return next((c for c in self.credentials if c.client_id == client_id), None)

    def cases_for(self, domain: str) -> list[dict]:
        return [c for c in self.cases if c["domain"] == domain] or self.cases

    def elapsed(self, now: float | None = None) -> float:
        return (now or time.time()) - self.t0 if self.t0 else 0.0

    def kind_now(self) -> str:
        return self.scenario.kind_at(self.elapsed()) if self.scenario and self.t0 else "healthy"

    def rebased(self) -> list[Sample]:
        t0 = self.t0 or 0.0
        return sorted((dataclasses.replace(s, t_s=round(s.t_s - t0, 3)) for s in self.samples),
                      key=lambda s: s.t_s)

    def recent(self, now: float | None = None) -> dict[str, Any]:
        """Counts over the last RECENT_S seconds, per second: what a dashboard shows."""
        since = (now or time.time()) - RECENT_S
        last = [s for s in reversed(self.samples[-5000:]) if s.t_s >= since]
        per_s = lambda n: round(n / RECENT_S, 1)  # noqa: E731
        offline = sum(s.mode == "offline" for s in last)
        return {"online": per_s(sum(s.mode == "online" for s in last)), "offline": per_s(offline),
                "declined": per_s(sum(s.decision in ("not_eligible", "refused") for s in last)),
                "failed": per_s(sum(s.unexpected for s in last)),
                "offline_share": round(offline / len(last), 3) if last else None}


STATE = RunState()


def sample_of(request_type: str, name: str, response_time: float, response: Any, context: dict,
              exception: Any, start_time: float | None = None, **_: Any) -> Sample | None:
    """The `Sample` of one checked answer, or None for requests nobody checked (login)."""
    verdict = (context or {}).get("verdict")
    if verdict is None:
        return None
    status = int(getattr(response, "status_code", 0) or 0)
    if not verdict:  # the check never ran: the user crashed between answer and verdict
        verdict = {"mode": "none", "decision": "error", "expected": False, "reason": repr(exception)[:120]}
    return Sample(t_s=start_time or time.time(), operation=name, mode=verdict["mode"],
                  decision=verdict["decision"], status=status, latency_ms=round(response_time, 2),
                  expected=bool(verdict["expected"]), reason=str(verdict.get("reason", ""))[:160])


def install(environment: Any, is_worker: bool) -> None:
    """Wire the listener and the messages into this process's runner."""
    def on_request(**kwargs: Any) -> None:
        sample = sample_of(**kwargs)
        if sample is None:
            return
        if is_worker:
            STATE.pending_rows.append(sample.to_row())
        else:
            STATE.samples.append(sample)
            STATE.by_node["local"] += 1

    environment.events.request.add_listener(on_request)
    runner = environment.runner
    if is_worker:
        runner.register_message(T0_MSG, lambda environment, msg, **_: _set_t0(msg.data))
        runner.register_message(SHARED_MSG, lambda environment, msg, **_: STATE.shared.update(msg.data or {}))
    elif hasattr(runner, "clients"):  # the master
        runner.register_message(SAMPLES_MSG, lambda environment, msg, **_: merge(msg.data))


def _set_t0(t0: float) -> None:
    STATE.t0 = float(t0)


def merge(data: dict) -> None:
    rows = data.get("rows", [])
    STATE.samples.extend(Sample.from_row(r) for r in rows)
    STATE.by_node[f"worker-{data.get('node', '?')}"] += len(rows)


def flush(runner: Any) -> None:
    """A worker sends what it has gathered since the last flush."""
    rows, STATE.pending_rows = STATE.pending_rows, []
    if rows:
        runner.send_message(SAMPLES_MSG, {"node": getattr(runner, "worker_index", -1), "rows": rows})


def status_point(t_s: float, status: dict) -> StatusPoint | None:
    """A StatusPoint from the gateway's /v1/status answer; None if it has no journal."""
    journal = status.get("journal")
    if not isinstance(journal, dict):
        return None
    breaker = status.get("breaker")
    state = breaker.get("state") if isinstance(breaker, dict) else breaker
    return StatusPoint(round(t_s, 3), str(state or "none"), int(journal.get("pending") or 0),
                       int(journal.get("recorded") or 0), int(journal.get("drained") or 0))


def control(control_url: str, method: str, path: str, **kw: Any) -> requests.Response:
    """A call to the platform's control API with the admin token (SIM_ADMIN_TOKEN)."""
    token = os.environ.get("SIM_ADMIN_TOKEN", "")
    return requests.request(method, control_url.rstrip("/") + path,
                            headers={"Authorization": f"Bearer {token}"}, timeout=3, **kw)


def gateway_status(gateway_url: str | None) -> dict:
    """The gateway's /v1/status, or {} when it does not answer (or is not a gateway)."""
    try:
        r = requests.get((gateway_url or "").rstrip("/") + "/v1/status", timeout=1)
        return r.json() if r.status_code == 200 else {}
    except (requests.RequestException, ValueError):
        return {}
