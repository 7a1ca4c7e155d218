"""Faults of the mock platform.

`plan` is the pure core (which fault is in force, what it does to a request); `proxy`
is the socket-level shell in front of the platform's server. Import the proxy from
`simulator.faults.proxy` explicitly, so pure callers never pull in sockets.
"""
from simulator.faults.plan import (
    HTTP_MODES,
    MODES,
    PASS,
    UP,
    Action,
    Fault,
    FaultPlan,
    PlanError,
    Step,
    applied_history,
    fault_at,
    http_action,
    parse_fault,
    parse_timeline,
    plan_from_json,
    single_fault_plan,
    transport_action,
)

__all__ = [
    "HTTP_MODES", "MODES", "PASS", "UP", "Action", "Fault", "FaultPlan", "PlanError", "Step",
    "applied_history", "fault_at", "http_action", "parse_fault", "parse_timeline", "plan_from_json",
    "single_fault_plan", "transport_action",
]
