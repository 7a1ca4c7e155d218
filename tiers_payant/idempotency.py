"""What both services share about the `Idempotency-Key` header (IETF httpapi draft).

A key is scoped to the account that sent it. Two requests with one key are "the same
payload" when their JSON bodies are equal once canonicalised (keys sorted, no insignificant
white space, numbers and strings as parsed): a client that re-serialises its body on a retry
is not punished, while any change of a value, a line or a field is a different payload and
gets 422 IDEMPOTENCY_KEY_REUSED. Pure.
"""
from __future__ import annotations

import hashlib
import json

from .problems import Problem

KEY_MAX_LENGTH = 128
# How long a concurrent request with the same key waits for the first one's decision before
# it is answered 409 IDEMPOTENCY_IN_PROGRESS (with Retry-After). Decisions take milliseconds;
# a wait this long means the deciding request is stuck behind a lock.
IN_PROGRESS_WAIT_S = 5.0


def fingerprint(raw: bytes) -> str:
    """sha256 of the canonical JSON of `raw` (which the caller has already parsed once)."""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except ValueError:  # not JSON: compare the bytes themselves
        return hashlib.sha256(raw).hexdigest()
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    """The header's value, or a 400 problem naming what is wrong with it."""
    if key is not None and not (1 <= len(key) <= KEY_MAX_LENGTH and key.isascii() and key.isprintable()):
        raise Problem("BAD_REQUEST", f"Idempotency-Key must be 1-{KEY_MAX_LENGTH} printable ASCII characters")
    return key


def reused() -> Problem:
    return Problem("IDEMPOTENCY_KEY_REUSED",
                   "this Idempotency-Key was already used with another payload; use a new key for a new request")


def in_progress() -> Problem:
    return Problem("IDEMPOTENCY_IN_PROGRESS", "a request with this Idempotency-Key is still being decided; retry",
                   headers={"Retry-After": "1"})
