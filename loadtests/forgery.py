"""Card forgery as an attacker who read the simulator's old source would do it. Pure.

Until the trust model of issue 11, every AMC's card-signing key was the SHA-256 of
`tp-sim:<seed>:<kid>` (and the seed was printed by `GET /docs`): whoever knew that could
sign cards that every gateway accepts offline. The derivation is written out here on
purpose, not imported from `simulator.keys`: the attack must keep trying the *old* way
after the platform's keys become random per state directory, and must then fail
(`CARD_SIGNATURE_INVALID`). The forged card copies a genuine card's claims (its AMC, its
real `kid`) and replaces what an attacker wants: a beneficiary of its own making, a fresh
serial, the best audio guarantee, this year's validity.
"""
from __future__ import annotations

import base64
import hashlib
import json
import random
from datetime import date

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

CARD_TYP = "tp-card+jws"  # the explicit type cards carry (tiers_payant.cards)
BEST_AUDIO = "PREMIUM"  # the AMC pays the most per hearing aid at this level
FIRST_NAMES = ("Camille", "Dominique", "Claude", "Alix", "Sacha")
LAST_NAMES = ("Martin", "Bernard", "Petit", "Durand", "Leroy")


def old_card_key(seed: int, kid: str) -> Ed25519PrivateKey:
    """The card-signing key as the simulator derived it before issue 11."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"tp-sim:{seed}:{kid}".encode()).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def card_parts(token: str) -> tuple[dict, dict]:
    """(header, claims) of a compact JWS, unverified: what anyone holding a card can read."""
    head, payload, _ = token.split(".")
    unb64 = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return unb64(head), unb64(payload)


def forge_card(genuine: str, identity: dict, seed: int, rng: random.Random, today: date) -> str:
    """A card with `genuine`'s AMC and kid naming `identity` (nir, birth_date, birth_rank) as
    its only beneficiary, signed with the old derivation's key."""
    header, claims = card_parts(genuine)
    kid = header["kid"]
    claims.update(
        beneficiaries=[{"last_name": rng.choice(LAST_NAMES), "first_name": rng.choice(FIRST_NAMES), **identity}],
        serial=f"{rng.getrandbits(52):013X}", valid_from=f"{today.year}-01-01", valid_to=f"{today.year}-12-31",
        domains=sorted({*claims.get("domains", ()), "AUDI"}),
        guarantees={**claims.get("guarantees", {}), "AUDI": BEST_AUDIO},
        responsable=True, contract_type="responsable")
    signing_input = ".".join((
        _b64(json.dumps({"alg": "EdDSA", "kid": kid, "typ": CARD_TYP}, separators=(",", ":")).encode()),
        _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())))
    signature = old_card_key(seed, kid).sign(signing_input.encode("ascii"))
    return f"{signing_input}.{_b64(signature)}"
