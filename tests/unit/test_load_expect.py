"""loadtests.expect: which answers are acceptable for a sandbox case, phase by phase."""
import pytest

from loadtests.expect import Answer, check, summarize

VALID = {"case": "opti-a", "expect": {"decision": "eligible", "reason": None},
         "expect_pec": {"decision": "accepted", "reason": None, "amc": "70.00"}}
REVOKED = {"case": "card-revoked", "expect": {"decision": "not_eligible", "reason": "CARD_REVOKED"},
           "expect_pec": {"decision": "refused", "reason": "CARD_REVOKED"}}
TERMINATED = {"case": "contract-terminated",
              "expect": {"decision": "not_eligible", "reason": "CONTRACT_TERMINATED"},
              "expect_pec": {"decision": "refused", "reason": "CONTRACT_TERMINATED"}}
BAD_NIR = {"case": "nir-invalid", "expect": {"status": 422, "code": "NIR_INVALID"},
           "expect_pec": {"status": 422, "code": "NIR_INVALID"}}


def online(decision, reason=None, **more):
    return {"decision": decision, "reason": reason, "mode": "online", "provisional": False, **more}


def offline(decision, reason=None, reference="J-1", provisional=True, **more):
    return {"decision": decision, "reason": reason, "mode": "offline", "provisional": provisional,
            "journal_reference": reference, **more}


def ok(case, op, body, kind, status=200):
    return check(case, Answer(op, status, body), kind)


@pytest.mark.parametrize("kind", ["healthy", "outage", "recovering"])
def test_the_platforms_own_answer_is_right_in_every_phase(kind):
    assert ok(VALID, "eligibility", online("eligible"), kind) == (True, "")
    assert ok(REVOKED, "eligibility", online("not_eligible", "CARD_REVOKED"), kind)[0]
    assert ok(VALID, "pec", online("accepted", amc="70.00"), kind)[0]


def test_a_wrong_online_answer_is_unexpected_with_a_reason():
    good, why = ok(REVOKED, "eligibility", online("eligible"), "healthy")
    assert not good and "CARD_REVOKED" in why and "eligible" in why
    good, why = ok(VALID, "pec", online("accepted", amc="12.00"), "healthy")
    assert not good and "70.00" in why


def test_an_offline_answer_while_healthy_is_unexpected():
    good, why = ok(VALID, "eligibility", offline("eligible"), "healthy")
    assert not good and "healthy" in why


@pytest.mark.parametrize("kind", ["outage", "recovering"])
def test_outage_a_valid_card_gets_a_recorded_provisional_acceptance(kind):
    assert ok(VALID, "eligibility", offline("eligible"), kind)[0]
    assert ok(VALID, "pec", offline("accepted", amc="60.00"), kind)[0]  # offline amounts may differ
    assert not ok(VALID, "eligibility", offline("eligible", reference=None), kind)[0]
    assert not ok(VALID, "eligibility", offline("eligible", provisional=False), kind)[0]


def test_outage_a_valid_card_may_be_declined_only_by_a_bounded_risk_rule():
    assert ok(VALID, "pec", offline("refused", "OFFLINE_LIMIT_EXCEEDED"), "outage")[0]
    assert ok(VALID, "eligibility", offline("not_eligible", "REVOCATIONS_STALE"), "outage")[0]
    good, why = ok(VALID, "eligibility", offline("not_eligible", "PLATFORM_UNAVAILABLE"), "outage")
    assert not good and "PLATFORM_UNAVAILABLE" in why


def test_outage_a_condemned_card_must_still_be_declined():
    assert ok(REVOKED, "eligibility", offline("not_eligible", "CARD_REVOKED", reference=None), "outage")[0]
    good, why = ok(REVOKED, "pec", offline("accepted"), "outage")
    assert not good and "CARD_REVOKED" in why


def test_outage_a_terminated_contract_may_be_accepted_offline_that_is_the_bounded_risk():
    assert ok(TERMINATED, "eligibility", offline("eligible"), "outage")[0]
    assert ok(TERMINATED, "pec", offline("refused", "OFFLINE_DEFAULT_DECLINE"), "outage")[0]


def test_consumption_by_an_earlier_pec_is_accepted():
    answer = online("refused", "RENEWAL_NOT_DUE", reasons=["RENEWAL_NOT_DUE"])
    assert ok(VALID, "pec", answer, "healthy") == (True, "RENEWAL_NOT_DUE")
    # ...but not where the case expected a decline for another reason
    assert not ok(REVOKED, "pec", answer, "healthy")[0]


def test_problem_expectations():
    problem = {"type": "x", "status": 422, "code": "NIR_INVALID"}
    assert ok(BAD_NIR, "eligibility", problem, "healthy", status=422) == (True, "NIR_INVALID")
    assert not ok(BAD_NIR, "eligibility", {"code": "VALIDATION_FAILED"}, "healthy", status=422)[0]
    assert ok(BAD_NIR, "eligibility", offline("not_eligible", "NIR_INVALID", reference=None), "outage")[0]
    assert not ok(BAD_NIR, "eligibility", online("eligible"), "healthy")[0]


@pytest.mark.parametrize("status,code", [(502, "UPSTREAM_ERROR"), (504, "UPSTREAM_TIMEOUT"), (429, "SOMETHING"),
                                         (403, "ACCOUNT_SUSPENDED"), (503, "PLATFORM_UNAVAILABLE")])
def test_errors_are_unexpected_in_every_phase(status, code):
    for kind in ("healthy", "outage", "recovering"):
        good, why = ok(VALID, "eligibility", {"code": code}, kind, status=status)
        assert not good and str(status) in why and code in why


def test_a_relayed_429_is_honest_while_the_platform_is_unwell_but_not_while_healthy():
    throttled = {"type": "x", "status": 429, "code": "RATE_LIMITED"}
    assert ok(VALID, "pec", throttled, "outage", status=429) == (True, "RATE_LIMITED")
    assert ok(VALID, "pec", throttled, "recovering", status=429)[0]
    good, why = ok(VALID, "pec", throttled, "healthy", status=429)
    assert not good and "429" in why


def test_no_answer_is_unexpected():
    good, why = check(VALID, Answer("eligibility", 0, None, "ConnectionRefusedError"), "outage")
    assert not good and "ConnectionRefusedError" in why


def test_summarize_gives_the_sample_fields():
    assert summarize(Answer("pec", 200, offline("accepted"))) == ("offline", "accepted", "")
    assert summarize(Answer("pec", 422, {"code": "NIR_INVALID"})) == ("none", "problem", "NIR_INVALID")
    assert summarize(Answer("pec", 502, None)) == ("none", "problem", "HTTP 502")
    assert summarize(Answer("pec", 0, None, "timeout")) == ("none", "error", "timeout")


PRESCRIBER = {"case": "prescriber-not-allowed", "expect": {"decision": "eligible", "reason": None},
              "expect_pec": {"decision": "refused", "reason": "PRESCRIBER_NOT_ALLOWED", "amc": "0.00"}}
EXPIRED_RX = {"case": "prescription-expired", "expect": {"decision": "eligible", "reason": None},
              "expect_pec": {"decision": "refused", "reason": "PRESCRIPTION_EXPIRED", "amc": "0.00"}}


@pytest.mark.parametrize("case", [PRESCRIBER, EXPIRED_RX])
def test_a_request_the_request_condemns_is_refused_offline_too(case):
    """The prescription's rules need no platform: the stand-in applies them, so an offline
    refusal with the same reason is right and an offline acceptance is the failure."""
    reason = case["expect_pec"]["reason"]
    assert ok(case, "pec", online("refused", reason, amc="0.00"), "healthy") == (True, reason)
    assert ok(case, "pec", offline("refused", reason, reference=None), "outage") == (True, reason)
    good, why = ok(case, "pec", offline("accepted"), "outage")
    assert not good and reason in why
    assert ok(case, "eligibility", offline("eligible"), "outage")[0]  # the rights check is not about prescriptions
