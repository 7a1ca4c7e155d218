"""The offline stand-in: one test per rule (both sides), precedence, 100% Santé, default answer."""
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from gateway.offline.decide import (OfflineCounts, OfflineRequest, RevocationSnapshot, check_beneficiary,
                             check_default, check_domain, check_freshness, check_policy,
                             check_revoked, check_signature, check_single_ceiling, check_validity,
                             check_velocity, decide_offline)
from tiers_payant.model import Card, CardBeneficiary, StandinPolicy

QuoteLine = pytest.importorskip("tiers_payant.coverage").QuoteLine

NIR = "185057800608491"
TODAY = date(2024, 2, 1)
NOW = datetime(2024, 2, 1, 12, 0, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
BENEF = CardBeneficiary("MARTIN", "Lea", date(1985, 5, 14), 1, NIR)
TWIN = CardBeneficiary("MARTIN", "Zoe", date(1985, 5, 14), 2, "285057800608412")
CARD = Card(amc="123456789", convention="TP1", routing="R1", member="M0001",
            valid_from=date(2024, 1, 1), valid_to=date(2024, 12, 31),
            beneficiaries=(BENEF, TWIN), domains=("OPTI", "AUDI", "PHAR"), serial="S-1",
            responsable=True)
POLICY = StandinPolicy(amc="123456789",
                       single_ceiling_eur=(("AUDI", Decimal("800")), ("OPTI", Decimal("300"))),
                       cumulative_ceiling_eur=Decimal("1000"), cumulative_count=3, period_days=30,
                       max_revocation_age_s=3600, stale_list_allows_100_sante=True)
FRESH = RevocationSnapshot(7, NOW - 60, frozenset({"S-OTHER"}), frozenset())
STALE = replace(FRESH, fetched_at=NOW - 7200)
NONE_YET = OfflineCounts(0, Decimal(0))
FRAME_B = QuoteLine("OPT-B-FRAME", "B", None, Decimal("150"), 1)
FRAME_A = QuoteLine("OPT-A-FRAME", "A", None, Decimal("30"), 1)
AID_I = QuoteLine("AUD-I-ADULT", "I", "right", Decimal("950"), 1)


def pec(lines=(FRAME_B,), domain="OPTI", **kw):
    return OfflineRequest(domain, NIR, BENEF.birth_date, 1, tuple(lines), **kw)


ELIG = OfflineRequest("OPTI", NIR, BENEF.birth_date, 1)


def decide(card=CARD, req=None, policy=POLICY, revocations=FRESH, counts=NONE_YET, card_error=None,
           **kw):
    kw.setdefault("today", TODAY)
    return decide_offline(card, card_error, req or pec(), policy, revocations, counts, NOW,
                          amc_amount_eur=kw.pop("amc", Decimal("120")), **kw)


# --- the whole ladder --------------------------------------------------------------------

def test_pec_accepted_within_every_limit():
    d = decide()
    assert d.accepted and d.reason is None and d.amc_eur == Decimal("120.00")
    assert d.reasons == ("signature", "validity", "beneficiary", "domain", "policy", "revocation",
                         "freshness", "single_ceiling", "velocity")


def test_eligibility_accepted_commits_nothing_and_skips_amount_rules():
    d = decide(req=ELIG, counts=OfflineCounts(99, Decimal("9999")))
    assert d.accepted and d.amc_eur == 0 and "velocity" not in d.reasons


# --- one rule at a time, both sides -------------------------------------------------------

@pytest.mark.parametrize("error", ["CARD_SIGNATURE_INVALID", "UNKNOWN_AMC"])
def test_signature_or_unknown_amc(error):
    assert check_signature(None, error) == error and check_signature(CARD, None) is None
    d = decide(card=None, card_error=error)
    assert not d.accepted and d.reason == error and d.reasons == (error,)


def test_no_card_and_no_error_is_a_bad_signature():
    assert decide(card=None).reason == "CARD_SIGNATURE_INVALID"


@pytest.mark.parametrize("today,code", [
    (date(2023, 12, 31), "CARD_NOT_YET_VALID"), (date(2024, 1, 1), None),
    (date(2024, 12, 31), None), (date(2025, 1, 1), "CARD_EXPIRED"),
])
def test_validity_dates_inclusive(today, code):
    assert check_validity(CARD, today) == code
    assert decide(today=today).reason == code


def test_validity_uses_the_paris_date_of_now():
    last_evening = datetime(2024, 12, 31, 23, 30, tzinfo=ZoneInfo("Europe/Paris")).timestamp()
    # 22:30 UTC: still the 31st in Paris, so the card is valid.
    d = decide_offline(CARD, None, ELIG, POLICY, replace(FRESH, fetched_at=last_evening),
                       NONE_YET, last_evening)
    assert d.accepted
    assert not decide_offline(CARD, None, ELIG, POLICY, replace(FRESH, fetched_at=last_evening + 3600),
                              NONE_YET, last_evening + 3600).accepted


@pytest.mark.parametrize("nir,birth,rank,ok", [
    (NIR, BENEF.birth_date, 1, True), ("1 85 05 78 006 084 91", BENEF.birth_date, 1, True),
    (NIR, BENEF.birth_date, 2, False),  # the twin's rank with Lea's NIR
    (NIR, date(1985, 5, 15), 1, False), ("185057800608400", BENEF.birth_date, 1, False),
])
def test_beneficiary_match(nir, birth, rank, ok):
    req = OfflineRequest("OPTI", nir, birth, rank, (FRAME_B,))
    assert (check_beneficiary(CARD, req) is None) is ok
    assert decide(req=req).accepted is ok


def test_domain_open_on_card():
    assert check_domain(CARD, "OPTI") is None and check_domain(CARD, "DENT") == "DOMAIN_NOT_COVERED"
    assert decide(req=pec(domain="DENT")).reason == "DOMAIN_NOT_COVERED"


def test_no_policy_for_the_amc_declines_by_default():
    assert check_policy(CARD, POLICY) is None
    assert check_policy(CARD, None) == check_policy(CARD, replace(POLICY, amc="999999999")) \
        == "OFFLINE_DEFAULT_DECLINE"
    assert decide(policy=None).reason == "OFFLINE_DEFAULT_DECLINE"
    assert decide(req=ELIG, policy=None).reason == "OFFLINE_DEFAULT_DECLINE"


def test_revoked_serial():
    revoked = replace(FRESH, cards=frozenset({"S-1"}))
    assert check_revoked(CARD, FRESH) is None and check_revoked(CARD, revoked) == "CARD_REVOKED"
    assert decide(revocations=revoked).reason == "CARD_REVOKED"


@pytest.mark.parametrize("fetched_ago,code", [(3600, None), (3601, "REVOCATIONS_STALE")])
def test_freshness_boundary(fetched_ago, code):
    snapshot = replace(FRESH, fetched_at=NOW - fetched_ago)
    assert check_freshness(POLICY, snapshot, NOW, regulated_only=False) == code
    assert decide(revocations=snapshot).reason == code


def test_no_snapshot_is_stale():
    assert decide(revocations=None).reason == "REVOCATIONS_STALE"


def test_single_ceiling():
    assert check_single_ceiling(POLICY, "OPTI", Decimal("300")) is None
    assert check_single_ceiling(POLICY, "OPTI", Decimal("300.01")) == "OFFLINE_LIMIT_EXCEEDED"
    assert decide(amc=Decimal("300")).accepted
    assert decide(amc=Decimal("300.01")).reason == "OFFLINE_LIMIT_EXCEEDED"


@pytest.mark.parametrize("count,amount,ok", [
    (2, Decimal("880"), True),  # third decision, 1000.00 in all: at the limits
    (3, Decimal("0"), False),  # a fourth decision
    (2, Decimal("880.01"), False),  # over the cumulative amount
])
def test_velocity(count, amount, ok):
    counts = OfflineCounts(count, amount)
    assert (check_velocity(POLICY, counts, Decimal("120")) is None) is ok
    d = decide(counts=counts)
    assert d.accepted is ok and (ok or d.reason == "OFFLINE_VELOCITY_EXCEEDED")


# --- 100% Santé on a stale list -----------------------------------------------------------

def test_stale_list_allows_regulated_items_only():
    d = decide(req=pec((FRAME_A,)), revocations=STALE, regulated_only=True)
    assert d.accepted and "stale_list_100_sante" in d.reasons
    assert decide(req=pec([AID_I], domain="AUDI"), revocations=None, regulated_only=True).accepted
    # Free-priced lines veto the shell's claim; a policy that forbids it declines.
    assert decide(req=pec((FRAME_A, FRAME_B)), revocations=STALE,
                  regulated_only=True).reason == "REVOCATIONS_STALE"
    assert decide(req=pec((FRAME_A,)), revocations=STALE,
                  regulated_only=False).reason == "REVOCATIONS_STALE"
    strict = replace(POLICY, stale_list_allows_100_sante=False)
    assert decide(req=pec((FRAME_A,)), policy=strict, revocations=STALE,
                  regulated_only=True).reason == "REVOCATIONS_STALE"


def test_stale_list_still_declines_a_known_revoked_card():
    stale_revoked = replace(STALE, cards=frozenset({"S-1"}))
    d = decide(req=pec((FRAME_A,)), revocations=stale_revoked, regulated_only=True)
    assert d.reason == "CARD_REVOKED"


# --- default answer for a domain without a ceiling ----------------------------------------

def test_default_decline_for_a_domain_without_ceiling():
    assert check_default(POLICY, "PHAR") == "OFFLINE_DEFAULT_DECLINE"
    assert check_default(POLICY, "OPTI") is None
    assert decide(req=pec(domain="PHAR")).reason == "OFFLINE_DEFAULT_DECLINE"


def test_default_accept_for_a_domain_without_ceiling_still_meets_velocity():
    lenient = replace(POLICY, default="accept")
    d = decide(req=pec(domain="PHAR"), policy=lenient)
    assert d.accepted and "default_accept" in d.reasons and d.amc_eur == Decimal("120.00")
    assert decide(req=pec(domain="PHAR"), policy=lenient,
                  counts=OfflineCounts(3, Decimal(0))).reason == "OFFLINE_VELOCITY_EXCEEDED"


# --- precedence ---------------------------------------------------------------------------

def test_every_failure_listed_first_one_wins():
    d = decide(req=OfflineRequest("DENT", NIR, BENEF.birth_date, 2, (FRAME_B,)),
               revocations=replace(STALE, cards=frozenset({"S-1"})), today=date(2025, 6, 1),
               amc=Decimal("5000"), counts=OfflineCounts(3, Decimal(0)))
    assert not d.accepted and d.amc_eur == 0
    assert d.reasons == ("CARD_EXPIRED", "BENEFICIARY_NOT_ON_CARD", "DOMAIN_NOT_COVERED", "CARD_REVOKED",
                         "REVOCATIONS_STALE", "OFFLINE_VELOCITY_EXCEEDED", "OFFLINE_DEFAULT_DECLINE")
    assert d.reason == "CARD_EXPIRED"


def test_limit_before_velocity_before_stale_order():
    d = decide(revocations=STALE, amc=Decimal("400"), counts=OfflineCounts(3, Decimal(0)))
    assert d.reasons == ("REVOCATIONS_STALE", "OFFLINE_LIMIT_EXCEEDED", "OFFLINE_VELOCITY_EXCEEDED")


def test_default_decline_once_even_when_policy_missing_and_domain_unknown():
    d = decide(req=pec(domain="DENT"), policy=None)
    assert d.reasons == ("DOMAIN_NOT_COVERED", "OFFLINE_DEFAULT_DECLINE")
