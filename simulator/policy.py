"""Per-AMC stand-in policies: the limits each insurer allows in degraded mode.

Derived from the seed like everything else, with a spread that makes the classroom see
differences: most AMCs decline what no rule covers, a few accept; ceilings vary.
Figures are assumptions (no public source gives insurers' offline limits).
"""
from __future__ import annotations

import hashlib
from decimal import Decimal

from tiers_payant.model import StandinPolicy

from .population import Amc

OPTI_CEILINGS = (Decimal("400"), Decimal("600"), Decimal("800"))
AUDI_CEILINGS = (Decimal("1500"), Decimal("2000"), Decimal("3000"))


def standin_policy(seed: int, amc: Amc) -> StandinPolicy:
    h = hashlib.blake2b(f"policy:{seed}:{amc.number}".encode(), digest_size=8).digest()
    return StandinPolicy(
        amc=amc.number,
        single_ceiling_eur=(("AUDI", AUDI_CEILINGS[h[0] % 3]), ("OPTI", OPTI_CEILINGS[h[1] % 3])),
        cumulative_ceiling_eur=Decimal("3500.00"),
        cumulative_count=4,
        period_days=30,
        max_revocation_age_s=(86_400, 43_200, 14_400)[h[2] % 3],
        stale_list_allows_100_sante=h[3] % 4 != 0,
        default="accept" if h[4] % 8 == 0 else "decline",
    )
