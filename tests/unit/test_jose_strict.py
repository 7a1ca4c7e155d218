"""JOSE strictness (RFC 7515, 7517, 7519, 8725): crit, base64url spelling, typ, time claims, aud, iss, JWK use."""
from __future__ import annotations

import base64
import json
from datetime import date

import jwt
import pytest

from simulator.keys import Keyring
from simulator.population import Population, card_of
from tiers_payant.cards import jwk_public_key, keys_from_jwks, looks_like_jws, sign_card, verify_card
from tiers_payant.problems import Problem
from tiers_payant.tokens import AUDIENCE, CLOCK_LEEWAY_S, ISSUER, issue_token, verify_token

POP = Population(seed=42, size=200, reference_date=date(2026, 11, 28))
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
RING = Keyring.in_memory([a.number for a in POP.amcs])  # random keys, as a state directory's
KEYS = keys_from_jwks(RING.jwks(0))
TOKEN_KID, TOKEN_KEY = RING.signer("token")


def card_kid(c) -> str:
    return RING.card_signer(c.amc.number)[0]


def card_key(c):
    return RING.card_signer(c.amc.number)[1]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _card_with_header(**extra) -> str:
    c = POP.contract(3)
    payload = json.dumps(card_of(c).to_json(), separators=(",", ":")).encode()
    return jwt.PyJWS().encode(payload, card_key(c), algorithm="EdDSA",
                              headers={"kid": card_kid(c), "typ": "tp-card+jws", **extra})


def test_a_card_with_an_unknown_crit_extension_is_refused_though_its_signature_holds():
    ok = _card_with_header()
    assert verify_card(ok, KEYS.get)[1] is None
    assert verify_card(_card_with_header(crit=["x-unknown"], **{"x-unknown": 1}), KEYS.get) == (None, "CARD_SIGNATURE_INVALID")
    assert verify_card(_card_with_header(crit=[]), KEYS.get) == (None, "CARD_SIGNATURE_INVALID")


def test_a_card_without_its_explicit_type_is_refused():
    c = POP.contract(3)
    payload = json.dumps(card_of(c).to_json()).encode()
    untyped = jwt.PyJWS().encode(payload, card_key(c), algorithm="EdDSA", headers={"kid": card_kid(c)})
    assert verify_card(untyped, KEYS.get) == (None, "CARD_SIGNATURE_INVALID")


@pytest.mark.parametrize("respell", [
    lambda s: s + "==",                                              # padding
    lambda s: s.replace("-", "+").replace("_", "/") if ("-" in s or "_" in s) else s + "=",  # standard alphabet
    lambda s: s[:-1] + _ALPHABET[_ALPHABET.index(s[-1]) ^ 1],        # an unused trailing bit set
])
def test_a_signature_spelled_another_way_is_refused(respell):
    token = _card_with_header()
    head, payload, sig = token.split(".")
    assert len(sig) % 4 == 2  # 64 bytes: the last character carries 4 unused bits
    other = respell(sig)
    assert other != sig
    assert verify_card(f"{head}.{payload}.{other}", KEYS.get) == (None, "CARD_SIGNATURE_INVALID")
    assert not looks_like_jws(f"{head}.{payload}.{other}")


def _token(now: float = 1000.0, **claims) -> str:
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "opt-000001", "rpps": "10000000001", "profession": "28", "cv": 0,
            "iat": int(now), "exp": int(now) + 60, "jti": "j"}
    base.update(claims)
    base = {k: v for k, v in base.items() if v is not None}
    headers = {"kid": TOKEN_KID}
    headers.update(claims.pop("_headers", {}) if "_headers" in claims else {})
    return jwt.encode(base, TOKEN_KEY, algorithm="EdDSA", headers=headers)


def _refused(token: str, now: float = 1001.0) -> str:
    with pytest.raises(Problem) as exc:
        verify_token(token, KEYS, now)
    assert exc.value.code == "UNAUTHORIZED" and "invalid_token" in exc.value.headers["WWW-Authenticate"]
    return exc.value.detail


def test_issued_tokens_carry_iss_aud_iat_and_verify():
    tok = issue_token(TOKEN_KEY, TOKEN_KID, client_id="opt-000001", rpps="1", profession="28",
                      credential_version=0, now=1000.0, ttl_s=60, jti="x")
    claims = jwt.decode(tok, options={"verify_signature": False})
    assert claims["iss"] == ISSUER and claims["aud"] == AUDIENCE and claims["iat"] == 1000
    assert verify_token(tok, KEYS, 1001.0).client_id == "opt-000001"


@pytest.mark.parametrize("claims,why", [({"aud": "someone-else"}, "audience"), ({"aud": None}, "audience"),
                                        ({"iss": "another-issuer"}, "verify"), ({"exp": None}, "verify"),
                                        ({"exp": "2000"}, "verify"), ({"nbf": True}, "verify")])
def test_wrong_or_missing_claims_are_refused(claims, why):
    assert why in _refused(_token(**claims))


def test_iat_and_nbf_in_the_future_are_tolerated_within_the_leeway_only():
    now = 1000.0
    assert verify_token(_token(iat=int(now + CLOCK_LEEWAY_S - 1), exp=int(now) + 300), KEYS, now)
    assert "not valid yet" in _refused(_token(iat=int(now + CLOCK_LEEWAY_S + 5), exp=int(now) + 300), now)
    assert verify_token(_token(nbf=int(now + CLOCK_LEEWAY_S - 1), exp=int(now) + 300), KEYS, now)
    assert "not valid yet" in _refused(_token(nbf=int(now + CLOCK_LEEWAY_S + 5), exp=int(now) + 300), now)


def test_a_token_with_an_unknown_crit_is_refused():
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "s", "rpps": "1", "profession": "28", "cv": 0, "iat": 1000,
            "exp": 1060}
    tok = jwt.encode(base, TOKEN_KEY, algorithm="EdDSA",
                     headers={"kid": TOKEN_KID, "crit": ["x-unknown"], "x-unknown": True})
    assert "header" in _refused(tok)


def test_a_card_cannot_pass_as_a_token():
    c = POP.contract(3)
    card = sign_card(card_of(c), card_key(c), card_kid(c))
    _refused(card)


def test_the_published_jwks_has_use_not_key_ops_and_a_jwk_with_both_is_refused():
    keys = RING.jwks(0)["keys"]
    assert all(k["use"] == "sig" and "key_ops" not in k for k in keys)
    with pytest.raises(ValueError):
        jwk_public_key({**keys[0], "key_ops": ["verify"]})
    with pytest.raises(ValueError):
        jwk_public_key({**keys[0], "use": "enc"})
    assert jwk_public_key({k: v for k, v in keys[0].items() if k != "use"} | {"key_ops": ["verify"]})
