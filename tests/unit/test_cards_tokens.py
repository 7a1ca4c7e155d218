"""Card signatures, tamper detection, tokens and the problem registry."""
from __future__ import annotations

import base64
import json
from datetime import date

import pytest

from simulator.keys import Keyring, new_key
from simulator.population import Population, card_of
from tiers_payant.cards import keys_from_jwks, looks_like_jws, peek_amc, sign_card, verify_card
from tiers_payant.problems import DECLINE_CODES, REGISTRY, Problem
from tiers_payant.tokens import issue_token, verify_token
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

POP = Population(seed=42, size=1000, reference_date=date(2026, 11, 28))
RING = Keyring.in_memory([a.number for a in POP.amcs])  # random keys, as a state directory's


def _card(i: int = 3) -> tuple[str, dict]:
    c = POP.contract(i)
    kid, key = RING.card_signer(c.amc.number)
    return sign_card(card_of(c), key, kid), keys_from_jwks(RING.jwks(0))


def test_a_signed_card_verifies_with_the_published_jwks():
    token, keys = _card()
    card, error = verify_card(token, keys.get)
    assert error is None and card == card_of(POP.contract(3))
    assert looks_like_jws(token) and peek_amc(token) == card.amc


@pytest.mark.parametrize("field,value", [("member", "00000000000"), ("domains", ["OPTI", "AUDI", "DENT", "PHAR"]),
                                         ("valid_to", "2099-12-31")])
def test_any_change_to_the_payload_breaks_the_signature(field, value):
    token, keys = _card()
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims[field] = value
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert verify_card(f"{head}.{forged}.{sig}", keys.get) == (None, "CARD_SIGNATURE_INVALID")


def test_a_card_signed_by_another_amcs_key_is_refused():
    c = POP.contract(3)
    other = next(a for a in POP.amcs if a.kid != c.amc.kid)
    _, keys = _card()
    token = sign_card(card_of(c), *reversed(RING.card_signer(other.number)))  # kid says other AMC, payload c's
    assert verify_card(token, keys.get) == (None, "CARD_SIGNATURE_INVALID")


def test_unknown_key_and_garbage():
    _, keys = _card()
    rogue_key = Ed25519PrivateKey.from_private_bytes(new_key()[1])
    rogue = sign_card(card_of(POP.contract(3)), rogue_key, "amc-000000000-1")
    assert verify_card(rogue, keys.get) == (None, "UNKNOWN_AMC")
    unversioned = sign_card(card_of(POP.contract(3)), rogue_key, f"amc-{POP.contract(3).amc.number}")
    assert verify_card(unversioned, keys.get) == (None, "UNKNOWN_AMC")
    assert verify_card("a.b.c", keys.get) == (None, "CARD_SIGNATURE_INVALID")
    assert not looks_like_jws("not a token")


def test_tokens_expire_and_must_be_signed_by_the_token_key():
    keys = keys_from_jwks(RING.jwks(0, {"token"}))
    kid, key = RING.signer("token")
    tok = issue_token(key, kid, client_id="opt-000001", rpps="10000000001",
                      profession="28", credential_version=0, now=1000.0, ttl_s=60, jti="x")
    assert verify_token(tok, keys, now=1030.0).client_id == "opt-000001"
    with pytest.raises(Problem) as exc:
        verify_token(tok, keys, now=1061.0)
    assert exc.value.code == "UNAUTHORIZED"
    forged = issue_token(RING.card_signer(POP.amcs[0].number)[1], kid, client_id="opt-000001", rpps="1", profession="28",
                         credential_version=0, now=1000.0, ttl_s=60, jti="y")
    with pytest.raises(Problem):
        verify_token(forged, keys, now=1001.0)


def test_problem_documents_follow_rfc_9457_with_a_stable_code():
    doc = Problem("NIR_INVALID", "key mismatch").to_dict()
    assert set(doc) == {"type", "title", "status", "detail", "code", "errors"}
    assert doc["status"] == 422 and doc["code"] == "NIR_INVALID" and doc["type"].endswith("nir-invalid")
    with pytest.raises(ValueError):
        Problem("NOT_A_CODE")
    design_codes = {"CARD_SIGNATURE_INVALID", "CARD_EXPIRED", "CARD_NOT_YET_VALID", "CARD_REVOKED", "UNKNOWN_AMC",
                    "BENEFICIARY_NOT_ON_CARD", "NIR_INVALID", "DOMAIN_NOT_COVERED", "CONTRACT_TERMINATED",
                    "RENEWAL_NOT_DUE", "AMOUNT_ABOVE_CEILING", "OFFLINE_LIMIT_EXCEEDED", "OFFLINE_VELOCITY_EXCEEDED",
                    "REVOCATIONS_STALE", "PLATFORM_UNAVAILABLE", "ACCOUNT_SUSPENDED", "RATE_LIMITED"}
    assert design_codes <= set(REGISTRY)
    assert "CARD_REVOKED" in DECLINE_CODES and "NIR_INVALID" not in DECLINE_CODES
