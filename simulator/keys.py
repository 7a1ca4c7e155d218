"""Signing keys derived from the seed: one Ed25519 pair per AMC, one for access tokens.

Deriving them (instead of storing them) keeps the sandbox reproducible: the same seed
gives the same cards on every machine, and the JWKS is a pure function of the seed.
"""
from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

TOKEN_KID = "token-1"


@lru_cache(maxsize=512)
def private_key(seed: int, kid: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"tp-sim:{seed}:{kid}".encode()).digest())


def public_jwk(key: Ed25519PublicKey, kid: str, use: str) -> dict[str, str]:
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid, "x": x,
            "tp_use": use}  # `use` only: RFC 7517 section 4.3 says not with key_ops too


def jwks(seed: int, amc_kids: list[str]) -> dict:
    keys = [public_jwk(private_key(seed, kid).public_key(), kid, "card") for kid in amc_kids]
    keys.append(public_jwk(private_key(seed, TOKEN_KID).public_key(), TOKEN_KID, "token"))
    return {"keys": keys}
