"""The `phished-account` figures of the three offline attacks, from the intruders' samples
and the control API's reports (`scenarios/phished_account.py` documents each field). Pure.

The samples' `t_s` are seconds since the test start; `reset_after_s` is the support's
credential reset on the same clock; `phases` are the scaled `loadtests.samples.Phase`s
(a phase whose fault is not "up" is a cut: an answer given then came from the gateway alone).
"""
from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

from loadtests.intruder import FORGED, OFFLINE_PROBE, STOLEN
from loadtests.samples import NO_FAULT, Phase, Sample
from tiers_payant.cards import CARD_LEVEL  # answered before any identity is compared

ACCOUNT_LIMIT = "OFFLINE_ACCOUNT_LIMIT"
COMMITTED = "AMC "  # an accepted forged PEC's sample reason: "AMC <euros the gateway committed>"
POSITIVE = ("accepted", "partial")


def _mine(samples: Iterable[Sample], operation: str) -> list[Sample]:
    return sorted((s for s in samples if s.operation == operation), key=lambda s: s.t_s)


def _problems(samples: Iterable[Sample]) -> dict[str, int]:
    return dict(Counter(s.reason for s in samples if s.decision in ("problem", "error")))


def during_cut(t_s: float, phases: Sequence[Phase]) -> bool:
    return any(p.contains(t_s) and p.fault not in NO_FAULT for p in phases)


def offline_probe(samples: Iterable[Sample], account: Mapping[str, Any] | None) -> dict[str, Any]:
    """The prober at the offline gateway: answered about a person, or refused past the
    account's offline limits; then, from the platform's report after the drain, whether its
    offline lookups reached detection (`undetected`: offline answers the platform never counted)."""
    mine = _mine(samples, OFFLINE_PROBE)
    offline = [s for s in mine if s.mode == "offline"]
    refused = [s for s in offline if s.reason == ACCOUNT_LIMIT]
    answered = [s for s in offline if s.decision in ("eligible", "not_eligible")
                and s.reason not in CARD_LEVEL and s.reason != ACCOUNT_LIMIT]
    online = sum(s.mode == "online" for s in mine)
    lookups = (account or {}).get("lookups")
    counted = None if lookups is None else max(0, int(lookups) - online)  # what it asked online is not the drain's
    first = refused[0].t_s if refused else None
    return {
        "requests": len(mine), "offline": len(offline), "online": online,
        "answered_offline": len(answered), "refused_offline": len(refused),
        "without_usable_card": sum(s.reason in CARD_LEVEL for s in offline),
        "answered_before_refusal": sum(s.t_s < first for s in answered) if first is not None else len(answered),
        "first_refused_after_s": first, "refused": _problems(mine),
        "reached_detection": counted,
        "undetected": None if counted is None else max(0, len(offline) - counted),
        "suspended_after_drain": None if account is None else bool(account.get("suspended")),
        "platform": {k: (account or {}).get(k) for k in ("lookups", "probes", "without_usable_card",
                                                         "distinct_identities_probed", "suspended_reason")},
    }


def stolen_token(samples: Iterable[Sample], phases: Sequence[Phase], reset_after_s: float | None,
                 token_obtained: bool | None) -> dict[str, Any]:
    """The stolen token before and after the support's reset, online and at the offline
    gateway (a sample during a cut): accepted means the gateway gave an answer (200)."""
    mine = _mine(samples, STOLEN)
    after = [s for s in mine if reset_after_s is not None and s.t_s >= reset_after_s]
    before = [s for s in mine if reset_after_s is None or s.t_s < reset_after_s]
    split = {True: [s for s in after if during_cut(s.t_s, phases) or s.mode == "offline"]}
    split[False] = [s for s in after if s not in split[True]]

    def first_refusal(group: list[Sample]) -> float | None:
        t = next((s.t_s for s in group if s.status == 401), None)
        return None if t is None or reset_after_s is None else round(t - reset_after_s, 3)

    return {
        "token_obtained": token_obtained, "requests": len(mine), "reset_after_s": reset_after_s,
        "accepted_before_reset": sum(s.status == 200 for s in before),
        "online_accepted_after_reset": sum(s.status == 200 for s in split[False]),
        "online_refused": sum(s.status == 401 for s in split[False]),
        "online_refused_after_s": first_refusal(split[False]),
        "offline_accepted_after_reset": sum(s.status == 200 for s in split[True]),
        "offline_refused": sum(s.status == 401 for s in split[True]),
        "offline_refused_after_s": first_refusal(split[True]),
        "refused": _problems(after),
    }


def forged_cards(samples: Iterable[Sample]) -> dict[str, Any]:
    """PECs on forged cards: accepted (and the AMC euros the gateway committed on them),
    declined by reason."""
    mine = _mine(samples, FORGED)
    accepted = [s for s in mine if s.decision in POSITIVE]
    committed = sum((Decimal(s.reason[len(COMMITTED):]) for s in accepted if s.reason.startswith(COMMITTED)),
                    Decimal(0))
    declined = Counter(s.reason for s in mine if s.decision == "refused")
    return {
        "requests": len(mine), "offline": sum(s.mode == "offline" for s in mine),
        "online": sum(s.mode == "online" for s in mine),
        "accepted": len(accepted), "accepted_offline": sum(s.mode == "offline" for s in accepted),
        "declined": sum(declined.values()), "declined_signature": declined.get("CARD_SIGNATURE_INVALID", 0),
        "declined_by_reason": dict(declined), "committed_eur": f"{committed:.2f}", "refused": _problems(mine),
    }
