"""throttle: the platform sheds load. Half of the calls get 429 Too Many Requests.

A platform protecting itself answers 429 with Retry-After. The gateway honours it within
its deadline (a retry after the second the platform asks for), never hammers, and a 429
that outlives the retries is relayed to the shop (the gateway's documented choice: a
platform saying "slow down" is up, no reason to stand in). Retries should turn most
429s into answers: a gateway that gave up at once would relay half of them.

Phases
    healthy   12 s  30 users (10/s)  platform up
    throttle  25 s  30 users         429 on 50% of calls, Retry-After: 1
    return    12 s  30 users         platform up
    drain     10 s  30 users         platform up
SLOs
    no unexpected answer; at most 35% of the throttled phase's requests see a relayed
    429 (`throttle.relayed_429_share`; 50% without retries, 25% with one); p95 <= 2000 ms
    while throttled (the deadline holds, Retry-After included); journal drained.
"""
from loadtests.scenarios import PlannedPhase, timeline_from
from loadtests.slo import Slo

PHASES = [
    PlannedPhase("healthy", 12, 30, 10),
    PlannedPhase("throttle", 25, 30, 10, {"mode": "throttle", "rate": 0.5, "retry_after": 1}, "outage"),
    PlannedPhase("return", 12, 30, 10, {"mode": "up"}, "recovering"),
    PlannedPhase("drain", 10, 30, 10, {"mode": "up"}, "healthy"),
]
TIMELINE = timeline_from(PHASES)
SLOS = [
    Slo("no unexpected answer", "unexpected", "==", 0),
    Slo("retries turn most 429s into answers", "throttle.relayed_429_share", "<=", 0.35),
    Slo("deadline holds while throttled", "p95_ms", "<=", 2000, phase="throttle"),
    Slo("journal drained (drained == recorded)", "drain.undrained", "==", 0),
    Slo("nothing pending", "journal.pending", "==", 0),
]

EXTRA_METRICS = ("throttle.relayed_429", "throttle.relayed_429_share")


def extra_summary(samples, status, phases, capture=None):
    """How often a shop saw the platform's 429 relayed while the platform throttled."""
    throttled = next(p for p in phases if p.name == "throttle")
    inside = [s for s in samples if throttled.contains(s.t_s)]
    relayed = sum(s.status == 429 for s in inside)
    return {"throttle": {"relayed_429": relayed,
                         "relayed_429_share": round(relayed / len(inside), 4) if inside else None}}
