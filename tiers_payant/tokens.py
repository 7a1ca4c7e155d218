"""Professional access tokens: short-lived EdDSA JWTs issued by the platform.

The gateway verifies them offline with the platform's JWKS, so a professional keeps
working during an outage with the token obtained before it, until that token expires.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import base64
import json

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .cards import card_kid, verify_compact
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
    kid = card_kid(token)
    key = keys.get(kid) if kid is not None else None
    if key is None:
        raise Problem("UNAUTHORIZED", "unknown token key",
                      headers={"WWW-Authenticate": 'Bearer realm="tiers-payant", error="invalid_token"'})
    p = _verified(token, key.public_bytes_raw())
    if p.expires_at <= now:
        raise Problem("UNAUTHORIZED", "the token has expired",
                      headers={"WWW-Authenticate": 'Bearer realm="tiers-payant", error="invalid_token"'})
    return p


@lru_cache(maxsize=4096)
def _verified(token: str, raw_key: bytes) -> Principal:
    def fail(detail: str) -> Problem:
        return Problem("UNAUTHORIZED", detail,
                       headers={"WWW-Authenticate": 'Bearer realm="tiers-payant", error="invalid_token"'})
    raw = verify_compact(token, Ed25519PublicKey.from_public_bytes(raw_key))  # same EdDSA check as cards; see cards.verify_compact
    try:
        claims: dict[str, Any] = json.loads(raw) if raw is not None else {}
        if not isinstance(claims, dict) or claims.get("iss") != ISSUER or "exp" not in claims or "sub" not in claims:
            raise ValueError
        float(claims["exp"])
    except (ValueError, TypeError):
        raise fail("the token does not verify") from None
    try:
        return Principal(str(claims["sub"]), str(claims["rpps"]), str(claims["profession"]), int(claims["cv"]),
                         float(claims["exp"]))
    except (KeyError, ValueError, TypeError):
        raise fail("the token lacks claims") from None
