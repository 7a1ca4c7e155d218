"""classroom: you hold the scissors. Shops work steadily; cut and restore the platform
yourself from the live page (`/live` on Locust's web UI).

Start Locust with its web UI (`locust -f loadtests/locustfile.py --scenario classroom
--host http://127.0.0.1:8080`), press Start, open http://127.0.0.1:8089/live and use the
buttons. Nothing is cut on a timeline: the platform only changes when someone presses a
button, so every phase accepts both worlds (online answers, or offline ones that respect
the stand-in's rules); a wrong answer is still a wrong answer in either.

Phases
    open  600 s  20 users (10/s)  whatever the teacher chooses
SLOs
    no unexpected answer.
"""
from loadtests.scenarios import PlannedPhase, timeline_from
from loadtests.slo import Slo

PHASES = [PlannedPhase("open", 600, 20, 10, {"mode": "up"}, "recovering")]
TIMELINE = timeline_from(PHASES)
SLOS = [Slo("no unexpected answer", "unexpected", "==", 0)]
