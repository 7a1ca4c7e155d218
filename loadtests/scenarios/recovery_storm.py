"""recovery-storm: a long outage, a deep journal, then everyone back at once.

When the 2024 platforms reopened, forced password resets made every professional log in
at the same moment and the surge overloaded them again. Here the platform stays down long
enough for the journal to grow deep, then comes back while users jump from 15 to 60 in one
second (each logging in anew) and the journal drains beside them. The drain must be
bounded so that live traffic is not starved, and must still finish.

Phases
    healthy  10 s  15 users (5/s)    platform up
    outage   45 s  15 users          platform down       the journal grows
    storm    20 s  60 users (60/s)   platform up         logins, live traffic, drain
    drain    20 s  60 users          platform up         journal empties
SLOs
    no unexpected answer; p95 <= 1500 ms in the storm (live traffic not starved);
    something journaled and all of it drained; nothing pending.
"""
from loadtests.scenarios import PlannedPhase, timeline_from
from loadtests.slo import Slo

PHASES = [
    PlannedPhase("healthy", 10, 15, 5),
    PlannedPhase("outage", 45, 15, 5, {"mode": "down"}, "outage"),
    PlannedPhase("storm", 20, 60, 60, {"mode": "up"}, "recovering"),
    PlannedPhase("drain", 20, 60, 60, {"mode": "up"}, "healthy"),
]
TIMELINE = timeline_from(PHASES)
SLOS = [
    Slo("no unexpected answer", "unexpected", "==", 0),
    Slo("live traffic not starved by the drain", "p95_ms", "<=", 1500, phase="storm"),
    Slo("offline acceptances journaled", "journal.recorded", ">=", 1),
    Slo("journal drained (drained == recorded)", "drain.undrained", "==", 0),
    Slo("nothing pending", "journal.pending", "==", 0),
]
