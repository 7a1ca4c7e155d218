"""Professional access tokens: short-lived EdDSA JWTs issued by the platform.

The gateway verifies them offline with the platform's JWKS, so a professional keeps
working during an outage with the token obtained before it, until that token expires.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .problems import Problem

ISSUER = "tiers-payant-sim"


@dataclass(frozen=True)
class Principal:
    client_id: str
    rpps: str
    profession: str
    credential_version: int
    expires_at: float


def issue_token(key: Ed25519PrivateKey, kid: str, *, client_id: str, rpps: str, profession: str,
                credential_version: int, now: float, ttl_s: int, jti: str) -> str:
    claims = {"iss": ISSUER, "sub": client_id, "rpps": rpps, "profession": profession,
              "cv": credential_version, "iat": int(now), "exp": int(now) + ttl_s, "jti": jti}
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


def bearer(header: str | None) -> str:
    if not header or not header.startswith("Bearer ") or len(header) > 4096:
        raise Problem("UNAUTHORIZED", "send Authorization: Bearer <token> (POST /oauth/token)",
                      headers={"WWW-Authenticate": 'Bearer realm="tiers-payant"'})
    return header[7:].strip()


def verify_token(token: str, keys: dict[str, Ed25519PublicKey], now: float) -> Principal:
    def fail(detail: str) -> Problem:
        return Problem("UNAUTHORIZED", detail,
                       headers={"WWW-Authenticate": 'Bearer realm="tiers-payant", error="invalid_token"'})
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise fail("unknown token key")
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=["EdDSA"], issuer=ISSUER,
                                            options={"verify_exp": False, "require": ["exp", "sub"]})
    except jwt.PyJWTError:
        raise fail("the token does not verify") from None
    if float(claims["exp"]) <= now:
        raise fail("the token has expired")
    try:
        return Principal(str(claims["sub"]), str(claims["rpps"]), str(claims["profession"]), int(claims["cv"]),
                         float(claims["exp"]))
    except (KeyError, ValueError, TypeError):
        raise fail("the token lacks claims") from None
