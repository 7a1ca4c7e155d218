"""Professional access tokens: short-lived EdDSA JWTs issued by the platform.

The gateway verifies them offline with the platform's JWKS, so a professional keeps
working during an outage with the token obtained before it, until that token expires.

Checks (RFC 7519 section 4.1, RFC 8725): the JWS rules of `cards.jws_header` (EdDSA only,
no unknown `crit`, canonical base64url); `typ` JWT; `iss` is this platform; `aud` names the
professional API (platform and gateways alike, which accept the same tokens); `exp`
required; `iat` and `nbf` may not be in the future by more than CLOCK_LEEWAY_S, the skew
tolerated between the platform's clock and a gateway's. `exp` gets no leeway: a token
refused a few seconds early costs a new login, one accepted late outlives a suspension.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import base64
import json

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .cards import jws_header, verify_compact
from .problems import Problem

ISSUER = "tiers-payant-sim"
AUDIENCE = "tiers-payant-professional-api"
CLOCK_LEEWAY_S = 30.0


@dataclass(frozen=True)
class Principal:
    client_id: str
    rpps: str
    profession: str
    credential_version: int
    expires_at: float
    not_before: float = 0.0  # the later of iat and nbf


def issue_token(key: Ed25519PrivateKey, kid: str, *, client_id: str, rpps: str, profession: str,
                credential_version: int, now: float, ttl_s: int, jti: str) -> str:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": client_id, "rpps": rpps, "profession": profession,
              "cv": credential_version, "iat": int(now), "exp": int(now) + ttl_s, "jti": jti}
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


def bearer(header: str | None) -> str:
    if not header or not header.startswith("Bearer ") or len(header) > 4096:
        raise Problem("UNAUTHORIZED", "send Authorization: Bearer <token> (POST /oauth/token)",
                      headers={"WWW-Authenticate": 'Bearer realm="tiers-payant"'})
    return header[7:].strip()


def token_identity(token: str) -> dict[str, Any]:
    """The claims that identify a token (`jti`, `sub`, `cv`, `iat`, `exp`), read WITHOUT
    verifying: call it only on a token `verify_token` accepted."""
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        return {}
    return {k: claims.get(k) for k in ("jti", "sub", "cv", "iat", "exp")} if isinstance(claims, dict) else {}


def verify_token(token: str, keys: dict[str, Ed25519PublicKey], now: float) -> Principal:
    """Signature checked once per (token, key); expiry checked on every call."""
    header = jws_header(token)
    key = keys.get(header["kid"]) if header is not None and header.get("typ", "JWT") == "JWT" else None
    if key is None:
        raise _invalid("the token's signing key is unknown or retired: log in again" if header is not None
                       else "the token's header is not acceptable")
    p = _verified(token, key.public_bytes_raw())
    if p.expires_at <= now:
        raise _invalid("the token has expired")
    if p.not_before > now + CLOCK_LEEWAY_S:
        raise _invalid("the token is not valid yet (iat or nbf in the future)")
    return p


def _invalid(detail: str) -> Problem:
    return Problem("UNAUTHORIZED", detail,
                   headers={"WWW-Authenticate": 'Bearer realm="tiers-payant", error="invalid_token"'})


def _number(claims: dict, name: str, required: bool) -> float:
    value = claims.get(name)
    if value is None and not required:
        return 0.0
    if type(value) not in (int, float):  # NumericDate (RFC 7519 section 2); bool is not a number here
        raise ValueError(name)
    return float(value)


def _audience_ok(aud: Any) -> bool:
    return aud == AUDIENCE or (isinstance(aud, list) and AUDIENCE in aud)


@lru_cache(maxsize=4096)
def _verified(token: str, raw_key: bytes) -> Principal:
    raw = verify_compact(token, Ed25519PublicKey.from_public_bytes(raw_key))  # same EdDSA check as cards; see cards.verify_compact
    try:
        claims: dict[str, Any] = json.loads(raw) if raw is not None else {}
        if not isinstance(claims, dict) or claims.get("iss") != ISSUER or "sub" not in claims:
            raise ValueError
        exp, iat, nbf = _number(claims, "exp", True), _number(claims, "iat", False), _number(claims, "nbf", False)
    except (ValueError, TypeError):
        raise _invalid("the token does not verify") from None
    if not _audience_ok(claims.get("aud")):
        raise _invalid(f"the token's audience is not {AUDIENCE}")
    try:
        return Principal(str(claims["sub"]), str(claims["rpps"]), str(claims["profession"]), int(claims["cv"]),
                         exp, max(iat, nbf))
    except (KeyError, ValueError, TypeError):
        raise _invalid("the token lacks claims") from None
