"""Pseudonyms for logs and journals: identity data never appears in clear.

A keyed hash (HMAC-SHA256) lets an operator correlate lines about the same beneficiary
without being able to read or brute-force the NIR from a log (the NIR space is small
enough that an unkeyed hash would be reversible).
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import date


def pseudonym(key: bytes, *parts: object) -> str:
    msg = "\x1f".join(str(p) for p in parts).encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:20]


def beneficiary_key(key: bytes, nir: str, birth_date: date | str, birth_rank: int) -> str:
    return "b-" + pseudonym(key, nir, birth_date, birth_rank)


def secrets_equal(a: str, b: str) -> bool:
    """Constant-time comparison for tokens and client secrets. Total on any str: JSON lets a
    client send a lone surrogate, which a plain `.encode()` turns into a 500."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def secret_digest(secret: str) -> str:
    """Stored and compared form of a client secret. Secrets are 128-bit random strings, so a
    fast hash suffices (there is no dictionary to slow down); comparing digests keeps the
    comparison constant-time whatever length is sent."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
