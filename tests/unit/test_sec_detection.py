"""Enumeration rules: the attacker of the issue is caught within 50 probes, honest traffic never."""
from __future__ import annotations

import random

import pytest

from simulator.security.detection import (Lookup, Thresholds, WindowStats, classify, judge_long_window, judge_window,
                                          summarise)

T = Thresholds()


def first_verdict(lookups: list[Lookup], t: Thresholds = T):
    """Judge after every lookup, as the platform does; (index 1-based, verdict) of the first hit."""
    for i, l in enumerate(lookups, 1):
        verdict = judge_window(summarise(lookups[:i], l.at - t.window_s), t)
        if verdict:
            return i, verdict
    return None, None


@pytest.mark.parametrize("answer,expected", [
    ({"decision": "eligible", "reason": None}, (True, True)),
    ({"decision": "partial", "reason": "AMOUNT_ABOVE_CEILING"}, (True, True)),
    ({"decision": "not_eligible", "reason": "BENEFICIARY_NOT_ON_CARD"}, (False, True)),
    ({"decision": "refused", "reason": "BENEFICIARY_NOT_ON_CARD"}, (False, True)),
    ({"decision": "not_eligible", "reason": "CARD_SIGNATURE_INVALID"}, (False, False)),
    ({"decision": "not_eligible", "reason": "CARD_REVOKED"}, (False, False)),
    ({"decision": "not_eligible", "reason": "CONTRACT_TERMINATED"}, (True, True)),
    ({"decision": "refused", "reason": "RENEWAL_NOT_DUE"}, (True, True)),
])
def test_classify_reads_the_proof_from_the_answer(answer, expected):
    assert classify(answer) == expected


def test_one_real_card_and_random_nirs_is_caught_within_50_probes():
    probes = [Lookup(1000 + i * 0.1, f"probe-{i}", False, True) for i in range(50)]
    n, verdict = first_verdict(probes)
    assert n is not None and n <= 50
    assert verdict.rule in ("failed_proofs", "enumeration")


def test_diluted_probing_is_still_caught_by_distinct_identities():
    """Half the calls repeat the attacker's one real beneficiary: the share stays at 50%,
    the distinct probed identities still pile up."""
    rows = []
    for i in range(60):
        rows.append(Lookup(1000 + i * 0.2, "the-real-one", True, True))
        rows.append(Lookup(1000 + i * 0.2 + 0.1, f"probe-{i}", False, True))
    n, verdict = first_verdict(rows)
    assert verdict is not None and verdict.rule == "enumeration"
    assert n <= 2 * (T.max_distinct_probed + 1)


def test_slow_probing_slips_under_the_minute_and_is_caught_by_the_hour():
    """One probe every 4 s: 15 a minute, under rules 1-2; rule 4 sees the hour."""
    probes = [Lookup(1000 + i * 4.0, f"probe-{i}", False, True) for i in range(200)]
    assert first_verdict(probes) == (None, None)
    hour = [p for p in probes if p.at > probes[-1].at - T.long_window_s]
    keys = {p.beneficiary_key for p in hour}
    assert judge_long_window(len(keys), len(keys)).rule == "slow_enumeration"
    assert judge_long_window(100, 100) is None


def test_honest_account_at_10_per_second_with_real_cards_is_never_judged():
    rows = [Lookup(1000 + i / 10, f"patient-{i}", True, True) for i in range(600 * 5)]  # five minutes
    assert first_verdict(rows[:1200]) == (None, None)
    assert judge_long_window(len({r.beneficiary_key for r in rows}), 0) is None


def test_catalogue_mix_at_10_per_second_stays_under_every_threshold():
    """A load test replaying the sandbox catalogue: ~3% probes, ~14% unusable cards, drawn
    from a catalogue of 1,000 cases (34 probe cases, 140 unusable ones)."""
    rng = random.Random(7)
    rows = []
    for i in range(1200):  # two minutes at 10/s
        r = rng.random()
        if r < 0.034:
            rows.append(Lookup(i / 10, f"probe-case-{rng.randrange(34)}", False, True))
        elif r < 0.17:
            rows.append(Lookup(i / 10, f"card-case-{rng.randrange(140)}", False, False))
        else:
            rows.append(Lookup(i / 10, f"ok-case-{rng.randrange(826)}", True, True))
    assert first_verdict(rows) == (None, None)


def test_share_rule_waits_for_enough_lookups():
    assert judge_window(WindowStats(lookups=19, probes=19, without_card=0, distinct_probed=1)) is None
    assert judge_window(WindowStats(lookups=20, probes=11, without_card=0, distinct_probed=1)).rule == "failed_proofs"
    assert judge_window(WindowStats(lookups=20, probes=10, without_card=0, distinct_probed=1)) is None


def test_unusable_cards_do_not_count_as_probes():
    """A shop whose customers bring expired or revoked cards is not an enumerator."""
    rows = [Lookup(1000 + i, f"expired-{i % 12}", False, False) for i in range(40)]
    assert first_verdict(rows) == (None, None)


def test_each_rule_fires_just_above_its_threshold():
    assert judge_window(WindowStats(100, 0, 0, 20)) is None
    assert judge_window(WindowStats(100, 21, 0, 21)).rule == "enumeration"
    assert judge_window(WindowStats(1000, 0, 201, 0)).rule == "no_usable_card"
    assert judge_window(WindowStats(1000, 0, 200, 0)) is None
    assert judge_long_window(3600, 0) is None and judge_long_window(3601, 0).rule == "bulk_lookups"


def test_old_lookups_leave_the_window():
    rows = [Lookup(float(i), f"p{i}", False, True) for i in range(30)]
    assert summarise(rows, since=100.0) == WindowStats(0, 0, 0, 0)
    assert summarise(rows, since=9.5).lookups == 20


def test_verdict_details_carry_no_keys():
    probes = [Lookup(1000 + i, f"b-secretkey{i}", False, True) for i in range(30)]
    _, verdict = first_verdict(probes)
    assert "secretkey" not in verdict.detail
