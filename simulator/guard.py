"""Abuse controls on professional accounts: rate limits and enumeration detection.

`admit` runs before an operation (token bucket per account), `observe_lookup` after a
rights check or PEC (what did this account look up, did it prove possession). This module
is the seam; the policies live in `simulator/security/`.
"""
from __future__ import annotations


class NoGuard:
    """Used when detection and rate limiting are both switched off."""

    def admit(self, client_id: str, now: float) -> None:
        return None

    def observe_offline(self, client_id: str, gateway_key: str, ok: bool, with_card: bool, at: float) -> None:
        return None

    def observe_lookup(self, client_id: str, req, answer: dict, now: float) -> None:
        return None
