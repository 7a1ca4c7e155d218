"""outage: the seed's day. The platform is cut off; the gateway keeps shops working.

Early 2024: a phished professional account, the platform disconnected, opticians and
audioprothésistes unable to get a PEC. Here the same cut happens under load. With
`--resilience full` the breaker opens within seconds, valid cards get provisional offline
acceptances written to the journal, condemned cards are still declined, and when the
platform returns the journal drains as advices while live traffic goes online again.
With `--resilience naive` the same day fails: errors and timeouts, the gate goes red.

Phases
    healthy   12 s  30 users (10/s)  platform up           online answers
    cut        8 s  30 users         platform down         the breaker opens
    degraded  30 s  30 users         platform down         offline stand-in
    return    15 s  30 users         platform up           breaker closes, journal drains
    drain     15 s  30 users         platform up           all online, journal empty
SLOs
    no unexpected answer; a majority of offline answers while degraded; offline p95
    <= 300 ms; breaker open within 5 s of the cut and closed within 10 s of the return;
    something journaled, and all of it drained (drained == recorded, nothing pending).
"""
from loadtests.scenarios import PlannedPhase, timeline_from
from loadtests.slo import Slo

UP, DOWN = {"mode": "up"}, {"mode": "down"}
PHASES = [
    PlannedPhase("healthy", 12, 30, 10, UP, "healthy"),
    PlannedPhase("cut", 8, 30, 10, DOWN, "outage"),
    PlannedPhase("degraded", 30, 30, 10, DOWN, "outage"),
    PlannedPhase("return", 15, 30, 10, UP, "recovering"),
    PlannedPhase("drain", 15, 30, 10, UP, "healthy"),
]
TIMELINE = timeline_from(PHASES)
SLOS = [
    Slo("no unexpected answer", "unexpected", "==", 0),
    Slo("majority offline while degraded", "offline_share", ">=", 0.5, phase="degraded"),
    Slo("offline answers are fast", "p95_ms", "<=", 300, phase="degraded"),
    Slo("breaker opens after the cut", "breaker.opened_after_s", "<=", 5),
    Slo("breaker closes after the return", "breaker.closed_after_s", "<=", 10),
    Slo("offline acceptances journaled", "journal.recorded", ">=", 1),
    Slo("journal drained (drained == recorded)", "drain.undrained", "==", 0),
    Slo("nothing pending", "journal.pending", "==", 0),
]
