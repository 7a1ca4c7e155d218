"""The platform's abuse controls behind the `simulator.guard` seam.

`build_login_throttle(store)` counts failed logins at the token endpoint (logins.py).
`build_guard(settings, store)` is what `simulator/app.py` calls: a per-account token
bucket (429 + Retry-After) unless `rate_per_s <= 0`, and enumeration detection with
automatic suspension unless `--detection off`. Both keep their state in the shared SQLite
store, so every gunicorn worker sees the same bucket and the same window.

Cost on the hot path, measured on the dev laptop (benchmarks in the report): one short
write transaction in `admit` (the bucket) and one in `observe_lookup` (the lookup row,
plus the window query only when the proof of possession failed).
"""
from __future__ import annotations

import logging
import os
from dataclasses import fields, replace

from tiers_payant.httpkit import log_event
from tiers_payant.privacy import beneficiary_key
from tiers_payant.problems import Problem

from ..guard import NoGuard
from .detection import Lookup, Thresholds, classify
from .logins import LoginPolicy, LoginThrottle
from .ratelimit import SharedRateLimiter, retry_after_header
from .suspension import LookupWatch

log = logging.getLogger("simulator.security")


class SecurityGuard:
    def __init__(self, limiter: SharedRateLimiter | None, watch: LookupWatch | None, log_key: bytes) -> None:
        self.limiter, self.watch, self.log_key = limiter, watch, log_key

    def admit(self, client_id: str, now: float) -> None:
        if self.limiter is None:
            return
        taken = self.limiter.admit(client_id, now)
        if not taken.allowed:
            raise Problem("RATE_LIMITED", f"over {self.limiter.rate_per_s:g} requests per second for this account",
                          headers={"Retry-After": retry_after_header(taken.retry_after_s)})

    def observe_lookup(self, client_id: str, req, answer: dict, now: float) -> None:
        if self.watch is None:
            return
        b = req.beneficiary
        ok, with_card = classify(answer)
        key = beneficiary_key(self.log_key, b.nir, b.birth_date, b.birth_rank)
        verdict, first = self.watch.record(client_id, Lookup(now, key, ok, with_card), now)
        if verdict is None:
            return
        if first:
            log_event(log, "account_suspended", logging.WARNING, client=client_id, rule=verdict.rule,
                      detail=verdict.detail)
        # The probe that tipped the account over gets no answer either, unless the answer is
        # an agreement already stored (a PEC number must reach the caller it was issued to).
        if not answer.get("pec_number"):
            raise Problem("ACCOUNT_SUSPENDED", "this account was suspended for abnormal lookups; ask the platform's "
                                               "support")

    def observe_offline(self, client_id: str, gateway_key: str, ok: bool, with_card: bool, at: float) -> None:
        """A gateway's offline lookup, judged in the windows of its own time: an account that
        probed during the cut is suspended as of then (later advices of it are rejected)."""
        if self.watch is None:
            return
        verdict, first = self.watch.record(client_id, Lookup(at, "gw:" + gateway_key, ok, with_card), at)
        if verdict is not None and first:
            log_event(log, "account_suspended", logging.WARNING, client=client_id, rule=verdict.rule,
                      detail=verdict.detail, offline=True)


def _from_env(default, prefix: str, env: dict[str, str]):
    for f in fields(default):
        raw = env.get(prefix + f.name.upper())
        if raw is not None:
            default = replace(default, **{f.name: type(getattr(default, f.name))(raw)})
    return default


def thresholds_from_env(env: dict[str, str]) -> Thresholds:
    """`SIM_DETECT_<FIELD>` overrides any threshold (e.g. SIM_DETECT_MAX_DISTINCT_PROBED=10)."""
    return _from_env(Thresholds(), "SIM_DETECT_", env)


def login_policy_from_env(env: dict[str, str]) -> LoginPolicy:
    """`SIM_LOGIN_<FIELD>` overrides the failed-login policy (e.g. SIM_LOGIN_MAX_DELAY_S=5)."""
    return _from_env(LoginPolicy(), "SIM_LOGIN_", env)


def build_login_throttle(store) -> LoginThrottle:
    return LoginThrottle(store, login_policy_from_env(dict(os.environ)))


def build_guard(settings, store, thresholds: Thresholds | None = None):
    limiter = SharedRateLimiter(store, settings.rate_per_s, settings.rate_burst) if settings.rate_per_s > 0 else None
    watch = LookupWatch(store, thresholds or thresholds_from_env(dict(os.environ))) if settings.detection else None
    if limiter is None and watch is None:
        return NoGuard()
    return SecurityGuard(limiter, watch, settings.log_key)
