"""Digital cards: JWS compact tokens (alg EdDSA, header `kid`) signed by the AMC's key.

Verification is shared: the platform checks cards online, the gateway offline with its
cached JWKS. A token that is not even a JWS is a malformed request (the caller's software
is broken); a JWS that does not verify is a business decline (the card may be forged).

Strict per RFC 7515 and RFC 8725: each part is base64url *without padding* in its one
canonical spelling (standard base64, `=` padding or non-zero trailing bits are refused, so
a card string is not malleable); a header naming `crit` extensions is refused, since this
code understands none (RFC 7515 section 4.1.11); cards carry `typ: tp-card+jws` and are
refused without it (explicit typing, RFC 8725 section 3.11), so a token cannot pass as a card.
"""
from __future__ import annotations

import base64
import json
import re
from typing import Any, Callable

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .model import Card

_JWS = jwt.PyJWS(algorithms=["EdDSA"])
MAX_CARD_CHARS = 8192


def sign_card(card: Card, key: Ed25519PrivateKey, kid: str) -> str:
    payload = json.dumps(card.to_json(), separators=(",", ":"), ensure_ascii=False).encode()
    return _JWS.encode(payload, key, algorithm="EdDSA", headers={"kid": kid, "typ": CARD_TYP})


CARD_TYP = "tp-card+jws"
UNDERSTOOD_CRIT: frozenset[str] = frozenset()  # no JWS extension is implemented here
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def looks_like_jws(token: str) -> bool:
    parts = token.split(".")
    if len(parts) != 3 or not all(parts) or len(token) > MAX_CARD_CHARS:
        return False
    try:
        for p in parts:
            _b64(p)
    except (ValueError, TypeError):
        return False
    return True


def _b64(part: str) -> bytes:
    """base64url without padding, canonical only (RFC 7515 section 2): anything else raises ValueError."""
    if not _B64URL.fullmatch(part) or len(part) % 4 == 1:
        raise ValueError("not base64url without padding")
    raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != part:  # non-zero trailing bits: a second spelling
        raise ValueError("non-canonical base64url")
    return raw


def jws_header(token: str) -> dict[str, Any] | None:
    """The protected header when it is acceptable: EdDSA, a string kid, no `crit` we do not understand."""
    try:
        header = json.loads(_b64(token.split(".", 1)[0]))
    except (ValueError, TypeError):
        return None
    if not isinstance(header, dict) or header.get("alg") != "EdDSA" or not isinstance(header.get("kid"), str):
        return None
    if "crit" in header:
        crit = header["crit"]
        if not (isinstance(crit, list) and crit and all(isinstance(c, str) and c in header for c in crit)
                and set(crit) <= UNDERSTOOD_CRIT):
            return None
    return header


def card_kid(token: str) -> str | None:
    header = jws_header(token)
    return header["kid"] if header is not None else None


def verify_compact(token: str, key: Ed25519PublicKey) -> bytes | None:
    """The payload of an EdDSA compact JWS whose signature holds, else None.

    Done by hand rather than with PyJWT's decoder: its per-character base64 check cost
    about 1 ms per card, a third of the platform's time per request; the cryptography
    that matters (Ed25519 verify) is the same library call.
    """
    try:
        head, payload, sig = token.split(".")
        key.verify(_b64(sig), f"{head}.{payload}".encode("ascii"))
        return _b64(payload)
    except (ValueError, TypeError, UnicodeEncodeError, InvalidSignature):
        return None


def peek_amc(token: str) -> str | None:
    """The AMC a card claims, without verifying: fault injection per AMC needs it cheaply."""
    try:
        part = token.split(".")[1]
        return str(json.loads(_b64(part))["amc"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


# Reasons given before the beneficiary is compared: the card itself is unusable (detection
# at the platform and the offline account watch count these alike).
CARD_LEVEL = frozenset({"CARD_SIGNATURE_INVALID", "UNKNOWN_AMC", "CARD_KEY_RETIRED", "CARD_EXPIRED",
                        "CARD_NOT_YET_VALID", "CARD_REVOKED"})


def verify_card(token: str, public_key: Callable[[str], Ed25519PublicKey | None],
                amc_known: Callable[[str], bool] | None = None) -> tuple[Card | None, str | None]:
    """(card, None) when the signature holds, else (None, reason code).

    Card keys are versioned (`amc-<number>-<version>`). A kid that names a known AMC but no
    published key of it was signed by a key the AMC has retired (or never published):
    `CARD_KEY_RETIRED`, so the insured knows to fetch a re-signed card. `amc_known` tells
    known AMCs apart; without it such a card is `UNKNOWN_AMC`."""
    header = jws_header(token)
    if header is None or header.get("typ") != CARD_TYP:
        return None, "CARD_SIGNATURE_INVALID"
    kid = header["kid"]
    family, _, version = kid.rpartition("-")
    if not (family.startswith("amc-") and version.isascii() and version.isdigit()):
        return None, "UNKNOWN_AMC"
    key = public_key(kid)
    if key is None:
        return None, ("CARD_KEY_RETIRED" if amc_known is not None and amc_known(family[4:]) else "UNKNOWN_AMC")
    raw = verify_compact(token, key)
    if raw is None:
        return None, "CARD_SIGNATURE_INVALID"
    try:
        claims: dict[str, Any] = json.loads(raw)
        card = Card.from_json(claims)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, "CARD_SIGNATURE_INVALID"
    if family != f"amc-{card.amc}":  # a card signed by one AMC's key cannot speak for another
        return None, "CARD_SIGNATURE_INVALID"
    return card, None


def jwk_public_key(jwk: dict[str, Any]) -> Ed25519PublicKey:
    """A JWKS entry (OKP, Ed25519, signature use) back to a key: the gateway verifies from its cached JWKS.

    RFC 7517 section 4.3: `use` and `key_ops` should not both be present; a key that has both,
    or that is not for signatures, is refused (ValueError) rather than guessed at.
    """
    if "use" in jwk and "key_ops" in jwk:
        raise ValueError("a JWK carries use or key_ops, not both")
    if jwk.get("use", "sig") != "sig" or ("key_ops" in jwk and "verify" not in jwk["key_ops"]):
        raise ValueError("not a signature-verification key")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 key")
    return Ed25519PublicKey.from_public_bytes(_b64(jwk["x"]))


def keys_from_jwks(jwks: dict[str, Any]) -> dict[str, Ed25519PublicKey]:
    out = {}
    for k in jwks.get("keys", []):
        try:
            out[k["kid"]] = jwk_public_key(k)
        except (KeyError, ValueError, TypeError):
            continue  # one unusable key does not hide the others
    return out
