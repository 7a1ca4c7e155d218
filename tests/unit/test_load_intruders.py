"""The phished-account scenario's offline attacks without Locust: the forgery, and the
`attack_offline`, `attack_stolen`, `attack_forged` figures on hand-made samples."""
import ast
import random
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from loadtests import forgery
from loadtests.intruder import FORGED, OFFLINE_PROBE, STOLEN
from loadtests.intruder_figures import forged_cards, offline_probe, stolen_token
from loadtests.samples import Phase, Sample
from tiers_payant.cards import sign_card, verify_card
from tiers_payant.model import Card, CardBeneficiary

IDENTITY = {"nir": "293033521273954", "birth_date": "1993-03-08", "birth_rank": 1}
PHASES = [Phase("before", 0, 10, "up"), Phase("cut", 10, 20, "down"), Phase("back", 20, 30, "up"),
          Phase("recut", 30, 40, "down")]


def genuine_card(key: Ed25519PrivateKey, kid="amc-178632991-1") -> str:
    card = Card("178632991", "TPS", "48", "96192213559", date(2026, 1, 1), date(2026, 12, 31),
                (CardBeneficiary("Henry", "Margot", date(1960, 5, 2), 1, "160052112345678"),),
                ("OPTI", "AUDI"), "C2C874A542082", True, (("AUDI", "ECO"), ("OPTI", "ECO")), "responsable")
    return sign_card(card, key, kid)


def s(op, t, mode="offline", decision="not_eligible", status=200, reason="BENEFICIARY_NOT_ON_CARD"):
    return Sample(t, op, mode, decision, status, 10.0, True, reason)


# -- the forgery ---------------------------------------------------------------------------
def test_a_forged_card_verifies_under_the_old_seed_derived_key_and_names_the_forgers_beneficiary():
    old = forgery.old_card_key(42, "amc-178632991-1")
    forged = forgery.forge_card(genuine_card(Ed25519PrivateKey.generate()), IDENTITY, 42, random.Random(3),
                                date(2026, 12, 1))
    header, claims = forgery.card_parts(forged)
    assert header == {"alg": "EdDSA", "kid": "amc-178632991-1", "typ": "tp-card+jws"}  # the card's real kid
    card, error = verify_card(forged, {"amc-178632991-1": old.public_key()}.get)
    assert error is None and card.amc == "178632991" and card.serial != "C2C874A542082"
    assert [(b.nir, b.birth_date.isoformat()) for b in card.beneficiaries] == [(IDENTITY["nir"], IDENTITY["birth_date"])]
    assert card.guarantee("AUDI") == "PREMIUM" and "AUDI" in card.domains and card.valid_to == date(2026, 12, 31)


def test_a_forged_card_fails_under_a_key_that_is_not_derived_from_the_seed():
    forged = forgery.forge_card(genuine_card(Ed25519PrivateKey.generate()), IDENTITY, 42, random.Random(3),
                                date(2026, 12, 1))
    assert verify_card(forged, {"amc-178632991-1": Ed25519PrivateKey.generate().public_key()}.get) == \
        (None, "CARD_SIGNATURE_INVALID")
    other_seed = forgery.old_card_key(43, "amc-178632991-1").public_key()
    assert verify_card(forged, {"amc-178632991-1": other_seed}.get)[1] == "CARD_SIGNATURE_INVALID"


def test_the_forgery_derives_its_key_itself_and_never_imports_the_simulators_keys():
    tree = ast.parse(Path(forgery.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | \
        {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m and m.startswith("simulator") for m in imported)


# -- attack_offline --------------------------------------------------------------------------
def prober_day():
    samples = [s(OFFLINE_PROBE, 10 + i * 0.1) for i in range(10)]
    samples += [s(OFFLINE_PROBE, 11.1, reason="CARD_EXPIRED")]
    samples += [s(OFFLINE_PROBE, 11.2 + i * 0.1, reason="OFFLINE_ACCOUNT_LIMIT") for i in range(5)]
    samples += [s(OFFLINE_PROBE, 9.9, mode="online")]  # asked just before the cut: the platform's own
    return samples


def test_offline_probes_answered_then_refused_and_all_of_them_counted_by_the_platform():
    o = offline_probe(prober_day() + [s(STOLEN, 12)], {"lookups": 17, "probes": 10, "suspended": False})
    assert (o["requests"], o["offline"], o["online"]) == (17, 16, 1)
    assert (o["answered_offline"], o["refused_offline"], o["without_usable_card"]) == (10, 5, 1)
    assert o["answered_before_refusal"] == 10 and o["first_refused_after_s"] == 11.2
    assert (o["reached_detection"], o["undetected"], o["suspended_after_drain"]) == (16, 0, False)
    assert o["platform"]["probes"] == 10


def test_offline_probes_the_platform_never_heard_of_are_undetected_and_unknown_without_its_report():
    assert offline_probe(prober_day(), {"lookups": 5})["undetected"] == 12  # 16 offline, 4 counted
    blind = offline_probe(prober_day(), None)
    assert blind["reached_detection"] is None and blind["undetected"] is None  # an SLO on it fails


# -- attack_stolen ---------------------------------------------------------------------------
def refused(t):
    return s(STOLEN, t, "none", "problem", 401, "UNAUTHORIZED")


def test_the_stolen_token_before_and_after_the_reset_online_and_offline():
    samples = [s(STOLEN, 21 + i * 0.5, "online", "eligible", reason="") for i in range(6)]  # before the reset at 24
    samples += [refused(24.2), refused(24.7), refused(30.5), refused(31)]
    o = stolen_token(samples, PHASES, 24.0, True)
    assert o["token_obtained"] is True and o["reset_after_s"] == 24.0 and o["requests"] == 10
    assert o["accepted_before_reset"] == 6
    assert (o["online_accepted_after_reset"], o["online_refused"], o["online_refused_after_s"]) == (0, 2, 0.2)
    assert (o["offline_accepted_after_reset"], o["offline_refused"], o["offline_refused_after_s"]) == (0, 2, 6.5)
    assert o["refused"] == {"UNAUTHORIZED": 4}


def test_an_old_token_answered_after_the_reset_is_counted_where_it_was_answered():
    samples = [s(STOLEN, 25, "online", "eligible", reason=""), s(STOLEN, 32, "offline", "eligible", reason=""),
               s(STOLEN, 25.5, "offline", "eligible", reason="")]  # a stand-in answer while up (hedge): offline
    o = stolen_token(samples, PHASES, 24.0, True)
    assert (o["online_accepted_after_reset"], o["offline_accepted_after_reset"]) == (1, 2)
    assert o["online_refused_after_s"] is None and o["offline_refused"] == 0


def test_without_a_reset_nothing_is_after_it():
    o = stolen_token([s(STOLEN, 25, "online", "eligible", reason="")], PHASES, None, False)
    assert o["accepted_before_reset"] == 1 and o["online_refused"] == 0 and o["online_refused_after_s"] is None


# -- attack_forged ---------------------------------------------------------------------------
def test_forged_pecs_accepted_commit_their_amc_amounts_and_declines_count_by_reason():
    samples = [s(FORGED, 11, decision="accepted", reason="AMC 1460.00"),
               s(FORGED, 11.2, decision="partial", reason="AMC 300.50"),
               s(FORGED, 11.4, decision="refused", reason="CARD_SIGNATURE_INVALID"),
               s(FORGED, 11.6, decision="refused", reason="CARD_SIGNATURE_INVALID"),
               s(FORGED, 11.8, decision="refused", reason="OFFLINE_ACCOUNT_LIMIT"),
               s(FORGED, 9.5, "online", "refused", reason="CARD_SIGNATURE_INVALID"),
               s(FORGED, 12, "none", "problem", 503, "PLATFORM_UNAVAILABLE")]
    f = forged_cards(samples)
    assert (f["requests"], f["offline"], f["online"]) == (7, 5, 1)
    assert (f["accepted"], f["accepted_offline"], f["committed_eur"]) == (2, 2, "1760.50")
    assert (f["declined"], f["declined_signature"]) == (4, 3)
    assert f["declined_by_reason"] == {"CARD_SIGNATURE_INVALID": 3, "OFFLINE_ACCOUNT_LIMIT": 1}
    assert f["refused"] == {"PLATFORM_UNAVAILABLE": 1}


def test_all_forged_cards_declined_commit_nothing():
    f = forged_cards([s(FORGED, 11 + i / 4, decision="refused", reason="CARD_SIGNATURE_INVALID") for i in range(20)])
    assert f["committed_eur"] == "0.00" and f["accepted"] == 0 and f["declined_signature"] == 20
