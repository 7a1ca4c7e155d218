"""schemathesis hooks (SCHEMATHESIS_HOOKS): data and state the JSON Schema cannot describe.

A NIR's last two digits are a mod-97 key of the first thirteen: no pattern can say so, so
the documents mark the field `format: nir` and this strategy generates valid NIRs for
schemathesis's positive cases (negative cases still break the pattern).
"""
from __future__ import annotations

import uuid

import schemathesis
from hypothesis import strategies as st

from tiers_payant.nir import make_nir

nirs = st.builds(make_nir, st.sampled_from([1, 2]), st.integers(1930, 2020), st.integers(1, 12),
                 st.sampled_from(["75", "13", "2A", "2B", "69", "33"]),
                 st.integers(1, 999).map(lambda n: f"{n:03d}"), st.integers(1, 999))
schemathesis.openapi.format("nir", nirs)


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    """A positive case's Idempotency-Key becomes unique per request: schemathesis generates few
    distinct keys, and a key reused with another payload is rightly 422 IDEMPOTENCY_KEY_REUSED
    (state JSON Schema cannot describe). Negative cases are left as generated: touching their
    headers would make schemathesis revalidate them as positive and restore what they omit."""
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str):
        case.headers["Idempotency-Key"] = "st-" + uuid.uuid4().hex
