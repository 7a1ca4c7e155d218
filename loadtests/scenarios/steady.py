"""steady: an ordinary morning. The platform is healthy all along.

Opticians and audioprothésistes check their customers' rights and ask a PEC for some of
them; every answer comes from the platform, online, and matches the sandbox case. This is
the baseline the other scenarios are read against, and the quickest smoke test of a stack.

Phases
    ramp     5 s   0 -> 30 users at 10/s   platform up
    steady  40 s   30 users                platform up
SLOs
    no unexpected answer; no offline answer at all; p95 of the steady phase <= 300 ms.
"""
from loadtests.scenarios import PlannedPhase, timeline_from
from loadtests.slo import Slo

PHASES = [
    PlannedPhase("ramp", 5, 30, 10),
    PlannedPhase("steady", 40, 30, 10),
]
TIMELINE = timeline_from(PHASES)
SLOS = [
    Slo("no unexpected answer", "unexpected", "==", 0),
    Slo("some traffic", "requests", ">=", 1),
    Slo("all online (the platform is healthy)", "by_mode.offline", "==", 0),
    Slo("p95 while steady", "p95_ms", "<=", 300, phase="steady"),
]
