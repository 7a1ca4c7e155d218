"""Offline lookups go to the platform in batches its body limit accepts: each carries a whole
bearer token, and a batch of 200 of them was refused (413) for ever after a busy cut."""
import json
import uuid

from gateway.offline.lookup_log import within_bytes
from gateway.settings import Settings
from tiers_payant.parsing import MAX_BODY_BYTES


def lookup(token_chars=700):
    return {"id": uuid.uuid4().hex, "at": 1_800_000_000.123, "beneficiary_key": "k" * 43, "ok": False,
            "with_card": True, "operation": "eligibility", "token": "t" * token_chars}


def test_a_batch_of_real_size_lookups_fits_the_platforms_body_limit():
    batch = [lookup() for _ in range(200)]
    assert len(json.dumps({"lookups": batch})) > MAX_BODY_BYTES  # what was sent before
    bound = Settings().drain_batch_bytes
    kept = within_bytes(batch, bound)
    assert kept == batch[:len(kept)] and 10 < len(kept) < 200
    assert len(json.dumps({"lookups": kept})) <= bound < MAX_BODY_BYTES
    assert len(json.dumps({"lookups": batch[:len(kept) + 1]})) > bound  # as many as fit, not fewer


def test_small_batches_go_whole_and_one_lookup_always_goes():
    small = [lookup(50) for _ in range(20)]
    assert within_bytes(small, 48_000) == small
    huge = [lookup(60_000), lookup()]
    assert within_bytes(huge, 48_000) == huge[:1]  # never stuck: the platform judges it alone
    assert within_bytes([], 48_000) == []
