"""phished-account: shops at work while an intruder uses professionals' stolen logins.

Early 2024 the platform was entered through a phished professional account and
beneficiaries' civil status, birth dates, NIRs, insurers and guarantees were taken. Here
the intruder holds valid credentials (sandbox accounts of its own, one per attack) and
works through the gateway like any shop. Proof of possession already means an answer
about a person needs their card, NIR and birth date, so what it can still do is use the
answers as an oracle: one genuine card with a fresh random identity each time (a
valid-key NIR, a birth date that agrees with it), mixed with requests without a usable
card (see `loadtests/attacker.py`). It paces itself under the per-account rate limit, so
only enumeration detection can stop it: the platform should suspend the account within
a few dozen identities while the honest shops see nothing unusual. With `--detection off`
the same day fails: the intruder is never stopped.

Then it tries what a real intruder would next (`loadtests/attacker_offline.py`):
- the gateway while the platform is cut: another account probes the same way, and only
  the gateway's own per-account limits can refuse it (OFFLINE_ACCOUNT_LIMIT); after the
  return the gateway replays its offline lookups to the platform's detection;
- forged cards: hearing-aid PECs on cards it signed with the simulator's old seed-derived
  key derivation (`loadtests/forgery.py`), offline, where the gateway commits the AMC's
  money on the card's word. With keys random per state directory: all declined
  CARD_SIGNATURE_INVALID, 0 € committed (with seed-derived keys they are accepted: the
  gate fails, as it should);
- a stolen token: it never had the secret, only a token taken from a shop; support
  resets that account's credentials (control API) at the start of `reset` and the platform
  is cut again in `recut`: the old token must be refused online at once, and offline (the
  gateway holds the reset within one refresh interval, GW_REFRESH_INTERVAL_S, 3 s by
  default: `reset` lasts longer than that; a DURATION under about 40 s squeezes it below
  3 s, so lower GW_REFRESH_INTERVAL_S with it, as the e2e test does).

Phases
    opening   6 s  up    20 shops              shops at work; the intruders wait
    attack   10 s  up    + online intruder     it probes at 10 lookups/s until refused
    offline  14 s  down  + prober, forger      the offline gateway: probes, 20 forged PECs
    return   12 s  up    + token thief         drain (advices, offline lookups); the stolen token works
    reset     6 s  up                          support resets the thief's credentials at its start
    recut    10 s  down                        the stolen token at the offline gateway
    drain     8 s  up                          the platform back; the run ends
SLOs
    online: the intruder is suspended (`attack.suspended`), within 50 distinct identities
    answered (`attack.distinct_beneficiaries_answered` <= 50; the platform's rules aim for
    about 20); the shops see no unexpected answer (`unexpected`, their requests only: the
    intruders' samples are kept apart) and were served at all (`requests` >= 1).
    offline probing: refused offline at all (`attack_offline.refused_offline` >= 1), after
    at most the gateway's default 10 failed proofs answered (`answered_offline` <= 10), and
    every offline lookup reached the platform's detection after the drain (`undetected` == 0).
    stolen token: it worked before the reset (`accepted_before_reset` >= 1), never after
    (`online_accepted_after_reset` == 0, `offline_accepted_after_reset` == 0) and was tried
    at the offline gateway (`offline_refused` >= 1).
    forged cards: tried offline (`attack_forged.offline` >= 1), 0 € committed
    (`attack_forged.committed_eur` == 0).

`attack` in summary.json (the online intruder, `opt-000998`): `distinct_beneficiaries_answered`
counts the identities the platform gave it a verdict on (covered, or "not on this card":
either tells it something about that person), from its own answers, since it never repeats
an identity; `suspended` and `suspended_after_s` (seconds from the test start) come from
the control API (`GET /v1/accounts/<id>`, read by the master when the test stops, while the
platform still runs), `detected_in_s` from its first request (`started_after_s`) to the
suspension; `requests`, `without_usable_card`, `refused` (by problem code) and
`answered_after_suspension` (should be 0) are what it sent and got; `platform` is that
account report's lookup counts, kept only while detection is on.

`attack_offline` (the prober, `opt-000996`): `offline` answers the gateway gave it alone,
of which `answered_offline` about a person and `refused_offline` OFFLINE_ACCOUNT_LIMIT
(`first_refused_after_s`, `answered_before_refusal`); `reached_detection` its lookups the
platform counted after the drain (its account report, less what it asked online), and
`undetected` offline answers beyond those; `suspended_after_drain`, `platform` as above.

`attack_stolen` (the thief, `aud-000999`): `token_obtained` (the master logged in for it),
`reset_after_s` (the reset's answer, seconds from the test start), `accepted_before_reset`,
then after the reset `online_accepted_after_reset` / `online_refused` and, during a cut,
`offline_accepted_after_reset` / `offline_refused`, each first refusal's delay from the
reset (`online_refused_after_s`, `offline_refused_after_s`), `refused` by problem code.

`attack_forged` (the forger, `aud-000997`): `requests`, `offline`, `accepted` (and
`accepted_offline`), `declined` (`declined_signature`: CARD_SIGNATURE_INVALID,
`declined_by_reason`), `committed_eur`: the AMC euros the gateway committed on them.
"""
from __future__ import annotations

import time
from collections import Counter

from gateway.offline.account_watch import AccountLimits
from loadtests.intruder import (ACCOUNTS, ATTACK, ATTACKER_ACCOUNT, FORGED, OFFLINE_PROBE, OPERATIONS, STOLEN,
                                THIEF_ACCOUNT, client_id, random_identity)  # noqa: F401  (random_identity: tests)
from loadtests.intruder_figures import forged_cards, offline_probe, stolen_token
from loadtests.scenarios import PlannedPhase, timeline_from
from loadtests.slo import Slo
from simulator.security.detection import CARD_LEVEL

ATTACKER_CLIENT_ID = client_id(ATTACKER_ACCOUNT)  # "opt-000998"
CLIENT_IDS = {op: client_id(k) for op, k in ACCOUNTS.items()}
PLATFORM_FIELDS = ("lookups", "probes", "without_usable_card", "distinct_beneficiaries_answered",
                   "distinct_identities_probed", "lookups_until_suspension")
RESET_PHASE = "reset"

UP, DOWN = {"mode": "up"}, {"mode": "down"}
PHASES = [
    PlannedPhase("opening", 6, 24, 10, UP, "healthy"),
    PlannedPhase("attack", 10, 24, 10, UP, "healthy"),
    PlannedPhase("offline", 14, 24, 10, DOWN, "outage"),
    PlannedPhase("return", 12, 24, 10, UP, "recovering"),
    PlannedPhase(RESET_PHASE, 6, 24, 10, UP, "healthy"),
    PlannedPhase("recut", 10, 24, 10, DOWN, "outage"),
    PlannedPhase("drain", 8, 24, 10, UP, "recovering"),
]
TIMELINE = timeline_from(PHASES)
# One of each intruder (fixed_count), the rest shops.
USERS = {"Optician": 3, "Audiologist": 2, "Attacker": 1, "OfflineProber": 1, "Forger": 1, "TokenThief": 1}
APART = OPERATIONS
EXTRA_METRICS = (
    *(f"attack.{k}" for k in ("requests", "distinct_beneficiaries_answered", "without_usable_card",
                              "answered_after_suspension", "started_after_s", "suspended", "suspended_after_s",
                              "detected_in_s")),
    *(f"attack_offline.{k}" for k in ("requests", "offline", "answered_offline", "refused_offline",
                                      "reached_detection", "undetected", "first_refused_after_s")),
    *(f"attack_stolen.{k}" for k in ("requests", "accepted_before_reset", "online_accepted_after_reset",
                                     "online_refused", "online_refused_after_s", "offline_accepted_after_reset",
                                     "offline_refused", "offline_refused_after_s")),
    *(f"attack_forged.{k}" for k in ("requests", "offline", "accepted", "declined", "declined_signature",
                                     "committed_eur")),
)
SLOS = [
    Slo("the intruder is suspended", "attack.suspended", "==", 1),
    Slo("within 50 distinct identities answered", "attack.distinct_beneficiaries_answered", "<=", 50),
    Slo("shops see no unexpected answer", "unexpected", "==", 0),
    Slo("shops were served", "requests", ">=", 1),
    Slo("the offline prober is refused offline", "attack_offline.refused_offline", ">=", 1),
    Slo("offline: at most the failed proofs allowed answered", "attack_offline.answered_offline", "<=",
        AccountLimits().max_failed_proofs),
    Slo("offline probes reach detection after the drain", "attack_offline.undetected", "==", 0),
    Slo("the stolen token worked before the reset", "attack_stolen.accepted_before_reset", ">=", 1),
    Slo("the old token is refused online after the reset", "attack_stolen.online_accepted_after_reset", "==", 0),
    Slo("the old token is refused offline after the reset", "attack_stolen.offline_accepted_after_reset", "==", 0),
    Slo("the old token was tried offline", "attack_stolen.offline_refused", ">=", 1),
    Slo("forged-card PECs were tried offline", "attack_forged.offline", ">=", 1),
    Slo("0 € committed on forged cards", "attack_forged.committed_eur", "==", 0),
]
_RESET: dict = {}  # the master's record: token stolen, and the support's reset (on_test_start schedules it)


def user_classes():
    from loadtests.attacker import Attacker, OfflineProber  # Locust only where Locust runs
    from loadtests.attacker_offline import Forger, TokenThief
    return [Attacker, OfflineProber, Forger, TokenThief]


def on_test_start(control, state=None, spawn_later=None, post=None, credentials=None):
    """Re-enable the intruders' accounts (a platform reused from an earlier run keeps them
    suspended, and the run must watch them being caught again), steal the thief's token
    (`credentials`: the run's issued secrets, `loadtests.sandbox`), and schedule the
    support's reset at the start of `reset` (`spawn_later(delay_s, fn)`: a greenlet of the
    master). Returns what the users share: the stolen token."""
    if state is None:
        from loadtests.collect import STATE as state
    if spawn_later is None:
        import gevent
        spawn_later = gevent.spawn_later
    if credentials is None:
        from loadtests.sandbox import credentials_from_env
        credentials = credentials_from_env()
    for cid in CLIENT_IDS.values():
        control("POST", f"/v1/accounts/{cid}/enable")
    _RESET.clear()
    thief = next((c.client_secret for c in credentials if c.client_id == CLIENT_IDS[STOLEN]), None)
    token = login(post, state.login_url, CLIENT_IDS[STOLEN], thief) if thief else None
    _RESET["token_obtained"] = token is not None
    at = reset_at_s(state.scenario.phases) if state.scenario else None
    if at is not None:
        spawn_later(max(0.0, at - state.elapsed()), lambda: reset(control, state.t0))
    return {"stolen_token": token} if token else {}


def login(post, login_url: str, client_id_: str, secret: str) -> str | None:
    """The thief's token, as the shop's workstation had it: the master logs in with the
    account's secret; the thief user never reads it."""
    import requests
    answer = (post or requests.post)(login_url + "/oauth/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": client_id_, "client_secret": secret})
    return answer.json().get("access_token") if answer.status_code == 200 else None


def reset_at_s(phases) -> float | None:
    at = 0.0
    for p in phases:
        if p.name == RESET_PHASE:
            return at
        at += p.duration_s
    return None


def reset(control, t0: float | None, clock=time.time) -> None:
    """Support resets the thief's credentials; `after_s` is when the answer came back (any
    request started later must be refused)."""
    r = control("POST", f"/v1/accounts/{CLIENT_IDS[STOLEN]}/reset-credentials")
    _RESET.update(status=r.status_code, after_s=round(clock() - t0, 3) if t0 else None,
                  credential_version=(r.json() or {}).get("credential_version") if r.status_code == 200 else None)


def on_test_stop(control):
    """The control API's reports of the intruders' accounts, while the platform still runs."""
    reports = {}
    for op, cid in CLIENT_IDS.items():
        r = control("GET", f"/v1/accounts/{cid}")
        r.raise_for_status()
        reports[op] = {k: v for k, v in r.json().items() if k != "alerts"}
    return {"account": reports[ATTACK], "accounts": reports, "reset": dict(_RESET)}


def answered(sample) -> bool:
    """The platform compared this identity with the card and said so."""
    return (sample.status == 200 and sample.mode == "online" and sample.decision in ("eligible", "not_eligible")
            and sample.reason not in CARD_LEVEL)


def extra_summary(samples, status, phases, capture=None):
    """The `attack*` sections. `suspended` is None (an SLO nobody measured fails) when the
    control API's report is missing; a suspension from before the test start is not this
    run's (the account was not re-enabled) and does not count."""
    mine = sorted((s for s in samples if s.operation == ATTACK), key=lambda s: s.t_s)
    capture = capture or {}
    got = capture.get("scenario_capture") or {}
    account = got.get("account")
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
    },
        "attack_offline": {"client_id": CLIENT_IDS[OFFLINE_PROBE],
                           **offline_probe(samples, (got.get("accounts") or {}).get(OFFLINE_PROBE))},
        "attack_stolen": {"client_id": CLIENT_IDS[STOLEN],
                          **stolen_token(samples, phases, (got.get("reset") or {}).get("after_s"),
                                         (got.get("reset") or {}).get("token_obtained"))},
        "attack_forged": {"client_id": CLIENT_IDS[FORGED], **forged_cards(samples)},
    }


def report_lines(summary):
    """What `make load` prints after the SLOs: one line per attack."""
    a, o, t, f = (summary.get(k) or {} for k in ("attack", "attack_offline", "attack_stolen", "attack_forged"))
    return [
        f"online intruder: {a.get('distinct_beneficiaries_answered')} identities answered, suspended "
        f"{a.get('detected_in_s')} s after it started (rule {a.get('rule')})",
        f"offline prober: {o.get('offline')} offline answers, {o.get('answered_offline')} about a person, "
        f"{o.get('refused_offline')} OFFLINE_ACCOUNT_LIMIT; {o.get('reached_detection')} reached detection after "
        f"the drain, {o.get('undetected')} not",
        f"stolen token: {t.get('accepted_before_reset')} answers before the reset; after it "
        f"{t.get('online_accepted_after_reset')} online / {t.get('offline_accepted_after_reset')} offline answers, "
        f"refused online after {t.get('online_refused_after_s')} s, offline after {t.get('offline_refused_after_s')} s",
        f"forged cards: {f.get('offline')} hearing-aid PECs offline, {f.get('accepted')} accepted, "
        f"{f.get('declined_signature')} declined CARD_SIGNATURE_INVALID, {f.get('committed_eur')} EUR committed",
    ]


def plot_intruder(samples, summary):
    """The plot's intruder panel: identities answered so far, over time, and the suspension."""
    points, count = [(0.0, 0)], 0
    for s in sorted((s for s in samples if s.operation == ATTACK), key=lambda s: s.t_s):
        if answered(s):
            count += 1
            points.append((s.t_s, count))
    return {"points": points, "suspended_after_s": (summary.get("attack") or {}).get("suspended_after_s")}
