"""phished-account: shops at work while an intruder uses a professional's stolen login.

Early 2024 the platform was entered through a phished professional account and
beneficiaries' civil status, birth dates, NIRs, insurers and guarantees were taken. Here
the intruder holds valid credentials (an optician's sandbox account of its own) and
works through the gateway like any shop. Proof of possession already means an answer
about a person needs their card, NIR and birth date, so what it can still do is use the
answers as an oracle: one genuine card with a fresh random identity each time (a
valid-key NIR, a birth date that agrees with it), mixed with requests without a usable
card (see `loadtests/attacker.py`). It paces itself under the per-account rate limit, so
only enumeration detection can stop it: the platform should suspend the account within
a few dozen identities while the honest shops see nothing unusual. With `--detection off`
the same day fails: the intruder is never stopped.

Phases
    opening   8 s   20 shops (10/s)      shops at work; the intruder waits
    attack   32 s   20 shops + intruder  it probes at 10 lookups/s until refused
SLOs
    the intruder is suspended (`attack.suspended`), within 50 distinct identities
    answered (`attack.distinct_beneficiaries_answered` <= 50; the platform's rules aim
    for about 20); the shops see no unexpected answer (`unexpected`, their requests only:
    the intruder's samples are kept apart) and were served at all (`requests` >= 1).

`attack` in summary.json: `distinct_beneficiaries_answered` counts the identities the
platform gave the intruder a verdict on (covered, or "not on this card": either tells it
something about that person), from its own answers, since it never repeats an identity;
`suspended` and `suspended_after_s` (seconds from the test start) come from the control
API (`GET /v1/accounts/<id>`, read by the master when the test stops, while the platform
still runs); `platform` is that account report's lookup counts, kept only while
detection is on.
"""
from __future__ import annotations

from collections import Counter

from loadtests.intruder import ATTACK, ATTACKER_ACCOUNT, random_identity  # noqa: F401  (random_identity: tests)
from loadtests.scenarios import PlannedPhase, timeline_from
from loadtests.slo import Slo
from simulator.accounts import account
from simulator.security.detection import CARD_LEVEL

ATTACKER_CLIENT_ID = account(0, ATTACKER_ACCOUNT).client_id  # "opt-000998": the id does not depend on the seed
PLATFORM_FIELDS = ("lookups", "probes", "without_usable_card", "distinct_beneficiaries_answered",
                   "distinct_identities_probed", "lookups_until_suspension")

PHASES = [
    PlannedPhase("opening", 8, 21, 10),
    PlannedPhase("attack", 32, 21, 10),
]
TIMELINE = timeline_from(PHASES)  # no fault: the platform is up all day
USERS = {"Optician": 3, "Audiologist": 2, "Attacker": 1}  # the Attacker is one user (fixed_count)
APART = (ATTACK,)
EXTRA_METRICS = tuple(f"attack.{k}" for k in (
    "requests", "distinct_beneficiaries_answered", "without_usable_card", "answered_after_suspension",
    "started_after_s", "suspended", "suspended_after_s", "detected_in_s"))
SLOS = [
    Slo("the intruder is suspended", "attack.suspended", "==", 1),
    Slo("within 50 distinct identities answered", "attack.distinct_beneficiaries_answered", "<=", 50),
    Slo("shops see no unexpected answer", "unexpected", "==", 0),
    Slo("shops were served", "requests", ">=", 1),
]


def user_classes():
    from loadtests.attacker import Attacker  # Locust only where Locust runs
    return [Attacker]


def on_test_start(control):
    """Re-enable the intruder's account: a platform reused from an earlier run keeps it
    suspended, and the run must watch it being caught again."""
    control("POST", f"/v1/accounts/{ATTACKER_CLIENT_ID}/enable")


def on_test_stop(control):
    """The control API's report of the intruder's account, while the platform still runs."""
    r = control("GET", f"/v1/accounts/{ATTACKER_CLIENT_ID}")
    r.raise_for_status()
    return {"account": {k: v for k, v in r.json().items() if k != "alerts"}}


def answered(sample) -> bool:
    """The platform compared this identity with the card and said so."""
    return (sample.status == 200 and sample.mode == "online" and sample.decision in ("eligible", "not_eligible")
            and sample.reason not in CARD_LEVEL)


def extra_summary(samples, status, phases, capture=None):
    """The `attack` section. `suspended` is None (an SLO nobody measured fails) when the
    control API's report is missing; a suspension from before the test start is not this
    run's (the account was not re-enabled) and does not count."""
    mine = sorted((s for s in samples if s.operation == ATTACK), key=lambda s: s.t_s)
    capture = capture or {}
    account = (capture.get("scenario_capture") or {}).get("account")
    t0, at = capture.get("t0"), (account or {}).get("suspended_at")
    after = round(at - t0, 2) if at is not None and t0 else None
    suspended = None if account is None else bool(account.get("suspended")) and after is not None and after >= 0
    started = mine[0].t_s if mine else None
    problems = Counter(s.reason for s in mine if s.decision in ("problem", "error"))
    return {"attack": {
        "client_id": ATTACKER_CLIENT_ID,
        "requests": len(mine),
        "distinct_beneficiaries_answered": sum(answered(s) for s in mine),
        "without_usable_card": sum(s.reason in CARD_LEVEL for s in mine),
        "refused": dict(problems),
        "answered_after_suspension": sum(answered(s) for s in mine if after is not None and s.t_s >= after),
        "started_after_s": started,
        "suspended": suspended,
        "suspended_after_s": after,
        "detected_in_s": round(after - started, 2) if suspended and started is not None else None,
        "rule": ((account or {}).get("suspended_reason") or "").split(":")[0] or None,
        "platform": {k: (account or {}).get(k) for k in PLATFORM_FIELDS},
    }}


def plot_intruder(samples, summary):
    """The plot's intruder panel: identities answered so far, over time, and the suspension."""
    points, count = [(0.0, 0)], 0
    for s in sorted((s for s in samples if s.operation == ATTACK), key=lambda s: s.t_s):
        if answered(s):
            count += 1
            points.append((s.t_s, count))
    return {"points": points, "suspended_after_s": (summary.get("attack") or {}).get("suspended_after_s")}
