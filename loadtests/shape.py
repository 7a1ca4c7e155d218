"""The load over time: a `LoadTestShape` that walks a scenario's phases.

`tick()` returns (users, spawn rate) of the phase in force, then, after the last phase,
`TAIL_S` seconds with no user, then None (the run ends). The tail matters when running
distributed: workers send their last samples within a second of their users stopping,
and the master must still be listening when they arrive. The arithmetic is the pure
`Scenario.load_at`; this class only binds it to Locust's clock.
"""
from __future__ import annotations

from locust import LoadTestShape

from loadtests.scenarios import Scenario

TAIL_S = 3.0


class ScenarioShape(LoadTestShape):
    """Set `scenario` (already scaled) before the test starts; the locustfile does."""

    scenario: Scenario | None = None

    def tick(self) -> tuple[int, float] | None:
        if self.scenario is None:
            return None
        return self.scenario.load_at(self.get_run_time(), TAIL_S)
