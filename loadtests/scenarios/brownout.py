"""brownout: the platform does not fall, it sags. Slow, then failing half the time.

The hardest outage to see: nothing refuses connections, answers just take too long or
come back 502/503/504. The gateway's deadline (about 1.5 s) bounds how long a shop waits;
slow calls and failures open the breaker, and the offline stand-in answers until the
platform recovers. Nobody should wait for the platform's worst moments.

Phases
    healthy  12 s  30 users (10/s)  platform up
    slow     25 s  30 users         latency 1200 ms + up to 600 ms jitter
    errors   20 s  30 users         60% of calls answered 502, 503 or 504
    return   12 s  30 users         platform up           breaker closes, journal drains
    drain    10 s  30 users         platform up
SLOs
    no unexpected answer; p95 <= 2000 ms while slow and while failing (the deadline
    holds); breaker open within 10 s of the sag; journal drained.
"""
from loadtests.scenarios import PlannedPhase, timeline_from
from loadtests.slo import Slo

PHASES = [
    PlannedPhase("healthy", 12, 30, 10),
    PlannedPhase("slow", 25, 30, 10, {"mode": "latency", "ms": 1200, "jitter_ms": 600}, "outage"),
    PlannedPhase("errors", 20, 30, 10, {"mode": "errors", "rate": 0.6, "status": [502, 503, 504]}, "outage"),
    PlannedPhase("return", 12, 30, 10, {"mode": "up"}, "recovering"),
    PlannedPhase("drain", 10, 30, 10, {"mode": "up"}, "healthy"),
]
TIMELINE = timeline_from(PHASES)
SLOS = [
    Slo("no unexpected answer", "unexpected", "==", 0),
    Slo("deadline holds while slow", "p95_ms", "<=", 2000, phase="slow"),
    Slo("deadline holds while failing", "p95_ms", "<=", 2000, phase="errors"),
    Slo("breaker opens in the sag", "breaker.opened_after_s", "<=", 10),
    Slo("journal drained (drained == recorded)", "drain.undrained", "==", 0),
    Slo("nothing pending", "journal.pending", "==", 0),
]
