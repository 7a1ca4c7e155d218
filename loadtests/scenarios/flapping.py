"""flapping: the platform comes and goes, 3 s down, 4 s up, again and again.

A half-repaired network link. A naive breaker would oscillate with it and let shops hit
the platform at its worst moments; the gateway's half-open probes should let a few calls
test the water, go back online when the platform holds, and fall back when it drops.
The journal must not grow without bound: it drains in the up periods and after.

Phases
    healthy   10 s  30 users (10/s)  platform up
    flapping  35 s  30 users         flap: down 3 s, up 4 s
    calm      15 s  30 users         platform up            journal drains
SLOs
    no unexpected answer; p95 <= 1600 ms while flapping; journal drained by the end.
"""
from loadtests.scenarios import PlannedPhase, timeline_from
from loadtests.slo import Slo

PHASES = [
    PlannedPhase("healthy", 10, 30, 10),
    PlannedPhase("flapping", 35, 30, 10, {"mode": "flap", "down_s": 3, "up_s": 4}, "recovering"),
    PlannedPhase("calm", 15, 30, 10, {"mode": "up"}, "healthy"),
]
TIMELINE = timeline_from(PHASES)
SLOS = [
    Slo("no unexpected answer", "unexpected", "==", 0),
    Slo("p95 while flapping", "p95_ms", "<=", 1600, phase="flapping"),
    Slo("journal drained (drained == recorded)", "drain.undrained", "==", 0),
    Slo("nothing pending", "journal.pending", "==", 0),
]
