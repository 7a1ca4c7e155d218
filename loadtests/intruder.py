"""The intruder's own facts, shared by the scenario (`scenarios/phished_account.py`, which
judges it) and the Locust users (`attacker.py`, `attacker_offline.py`, which play it)
without either importing the other. Pure.

Four phished accounts, one per attack, so that one attack's suspension or reset does not
decide another's outcome. They are the last four sandbox
accounts (`INTRUDER_ACCOUNTS`), which shops never take (even numbers are opticians, odd ones
audioprothésistes).
"""
from __future__ import annotations

import random
from datetime import date

from tiers_payant.nir import is_valid_nir, make_nir

ATTACK = "attack"  # the operation name of the online enumerator's samples
OFFLINE_PROBE = "attack-offline"  # the prober at the offline gateway
STOLEN = "attack-stolen"  # the stolen token, kept across a credential reset
FORGED = "attack-forged"  # PECs on forged cards, offline
OPERATIONS = (ATTACK, OFFLINE_PROBE, STOLEN, FORGED)

ATTACKER_ACCOUNT = 998  # optician: enumerates online until suspended
ATTACKER_CLIENT_ID = f"opt-{ATTACKER_ACCOUNT:06d}"  # an optician's id (even k): it does not depend on the seed
PROBER_ACCOUNT = 996  # optician: enumerates through the gateway while it is offline
FORGER_ACCOUNT = 997  # audioprothésiste: hearing-aid PECs on forged cards, offline
THIEF_ACCOUNT = 999  # audioprothésiste: its token is stolen, then support resets its credentials
ACCOUNTS = {ATTACK: ATTACKER_ACCOUNT, OFFLINE_PROBE: PROBER_ACCOUNT, FORGED: FORGER_ACCOUNT, STOLEN: THIEF_ACCOUNT}
INTRUDER_ACCOUNTS = tuple(sorted(ACCOUNTS.values()))  # shops never take these (loadtests.sandbox, users)


def client_id(k: int) -> str:
    """Sandbox account k's client id (`opt-000998`): it does not depend on the seed."""
    return f"{'opt' if k % 2 == 0 else 'aud'}-{k:06d}"


INTRUDER_CLIENT_IDS = tuple(client_id(k) for k in INTRUDER_ACCOUNTS)


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
