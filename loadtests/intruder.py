"""The intruder's own facts, shared by the scenario (`scenarios/phished_account.py`, which
judges it) and the Locust user (`attacker.py`, which plays it) without either importing the
other. Pure."""
from __future__ import annotations

import random
from datetime import date

from tiers_payant.nir import is_valid_nir, make_nir

ATTACK = "attack"  # the operation name of the intruder's samples
ATTACKER_ACCOUNT = 998  # one of the last two sandbox accounts, which shops never take (loadtests.users)
ATTACKER_CLIENT_ID = f"opt-{ATTACKER_ACCOUNT:06d}"  # an optician's id (even k): it does not depend on the seed


def random_identity(rng: random.Random, seen: set) -> dict:
    """A plausible identity never tried before: a valid-key NIR born in mainland France,
    and a birth date in the NIR's year and month."""
    while True:
        year, month = rng.randint(1940, 2005), rng.randint(1, 12)
        dept = f"{rng.choice([d for d in range(1, 96) if d != 20]):02d}"  # 20: Corsica is 2A/2B
        nir = make_nir(rng.choice((1, 2)), year, month, dept, f"{rng.randint(1, 999):03d}", rng.randint(1, 999))
        birth = date(year, month, rng.randint(1, 28)).isoformat()
        if is_valid_nir(nir) and (nir, birth) not in seen:
            seen.add((nir, birth))
            return {"nir": nir, "birth_date": birth, "birth_rank": 1}
