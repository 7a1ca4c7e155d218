"""The gateway's OpenAPI 3.1 document: the platform's professional operations with the
gateway's own failure answers (503 PLATFORM_UNAVAILABLE, 502/504 in naive mode), plus its
status endpoints. Request examples come from the default sandbox's catalogue (seed 42,
200,000 beneficiaries: what `python -m simulator serve` starts without options), their
cards signed with throwaway keys: a platform's keys are random to its state directory and
never leave it, so live cards come from that platform (`GET /v1/sandbox/cases` on its
control API, or `python -m simulator cards --state-dir DIR`).
"""
from __future__ import annotations

from functools import lru_cache

from tiers_payant import openapi_examples as ex
from tiers_payant.answers import GatewayStatus, Health, Ready
from tiers_payant.openapi import ANY, document, merge, operation, professional_paths, shared_paths

DESCRIPTION = ("The platform's professional operations with degraded mode. Answers carry `mode` (online/offline) "
               "and `provisional`; offline acceptances carry `journal_reference`. The platform's answers, problems "
               "included, are relayed as they are; when the platform gives no answer and no offline decision can "
               "be recorded, 503 PLATFORM_UNAVAILABLE.")


def _examples() -> dict:
    try:  # the sandbox's catalogue, when the simulator is installed beside the gateway (it is, in this repository)
        from simulator.api.examples import catalogue_examples
        from simulator.keys import Keyring
        from simulator.population import Population
        from simulator.settings import Settings
    except ImportError:
        return {}
    s = Settings()
    pop = Population(seed=s.seed, size=s.contracts, amc_count=s.amc_count, reference_date=s.today())
    return catalogue_examples(pop, Keyring.in_memory([a.number for a in pop.amcs]), s.seed, s.today())


def _one(summary: str, value: dict) -> dict:
    return {"example": {"summary": summary, "value": value}}


@lru_cache(maxsize=1)
def gateway_openapi() -> dict:
    own = {"/v1/status": {"get": operation("Gateway status: breaker, journal, reconciliation, caches", GatewayStatus,
                                           ANY, auth=False, answer_examples=_one("after an outage, drained",
                                                                                 ex.GATEWAY_STATUS))},
           "/healthz": {"get": operation("Liveness", Health, ANY, auth=False,
                                         answer_examples=_one("alive", {"status": "ok"}))},
           "/readyz": {"get": operation("Readiness: caches loaded, or the platform answers", Ready,
                                        merge(ANY, {503: ["SERVICE_UNAVAILABLE"]}), auth=False,
                                        answer_examples=_one("ready", ex.READY))}}
    return document("Tiers-payant eligibility gateway", DESCRIPTION,
                    {**professional_paths("gateway", _examples()), **own, **shared_paths("gateway")})
