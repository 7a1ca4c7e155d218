"""schemathesis hooks (SCHEMATHESIS_HOOKS): data the JSON Schema cannot describe.

A NIR's last two digits are a mod-97 key of the first thirteen: no pattern can say so, so
the documents mark the field `format: nir` and this strategy generates valid NIRs for
schemathesis's positive cases (negative cases still break the pattern).
"""
from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

from tiers_payant.nir import make_nir

nirs = st.builds(make_nir, st.sampled_from([1, 2]), st.integers(1930, 2020), st.integers(1, 12),
                 st.sampled_from(["75", "13", "2A", "2B", "69", "33"]),
                 st.integers(1, 999).map(lambda n: f"{n:03d}"), st.integers(1, 999))
schemathesis.openapi.format("nir", nirs)
