"""The offline account watch (pure): which answers are failed proofs, when an account is refused."""
from __future__ import annotations

from gateway.offline.account_watch import (AccountActivity, AccountLimits, account_refusal, classify,
                                           refused_for_proofs)

LIMITS = AccountLimits(window_s=600.0, max_failed_proofs=10, max_distinct_beneficiaries=30)


def test_answers_are_classified_as_the_platforms_detection_does():
    assert classify("BENEFICIARY_NOT_ON_CARD") == (False, True)  # a probe: the card held, the identity did not
    assert classify("CARD_KEY_RETIRED") == (False, False) and classify("UNKNOWN_AMC") == (False, False)
    assert classify(None) == (True, True) and classify("RENEWAL_NOT_DUE") == (True, True)


def test_an_account_is_refused_at_either_limit_and_only_the_proof_limit_marks_a_prober():
    """9 failed proofs and 29 people: served. The 10th failure, or the 30th person, refuses
    the account offline; only the first makes its further attempts count as failed proofs."""
    assert account_refusal(AccountActivity(9, 29), LIMITS) is None
    proofs, people = AccountActivity(10, 3), AccountActivity(0, 30)
    assert account_refusal(proofs, LIMITS) == account_refusal(people, LIMITS) == "OFFLINE_ACCOUNT_LIMIT"
    assert refused_for_proofs(proofs, LIMITS) and not refused_for_proofs(people, LIMITS)
