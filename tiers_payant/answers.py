"""Answer models of the operations that have no request model: the OpenAPI response schemas.

Like `schemas.py`, the one source of the documented wire format; the conformance tests
replay live answers through openapi-core against the documents built from these models.
Amounts are decimal strings in euros (`EurString`).
"""
from __future__ import annotations

from datetime import date as Date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .schemas import EurString, LineAnswer

OFFLINE_CAUSE = Literal["unreachable", "timeout", "breaker_open"]


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenAnswer(Closed):
    access_token: str = Field(description="EdDSA JWT; send it as `Authorization: Bearer <token>`")
    token_type: Literal["Bearer", "bearer"]
    expires_in: int = Field(gt=0, description="seconds (SIM_TOKEN_TTL_S)")
    scope: str | None = None


class OAuthError(BaseModel):
    """RFC 6749 section 5.2; the platform may send these members inside a problem document too."""
    error: Literal["invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
                   "unsupported_grant_type", "invalid_scope"]
    error_description: str | None = None
    error_uri: str | None = None


class Jwk(Closed):
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    alg: Literal["EdDSA"]
    use: Literal["sig"]
    kid: str = Field(pattern=r"^(amc-[0-9]{9}|token)-[1-9][0-9]{0,5}$")  # family and version (simulator.key_rotation)
    x: str = Field(pattern=r"^[A-Za-z0-9_-]{43}$", description="public key, base64url without padding")
    tp_use: Literal["card", "token"] = Field(description="what the key signs: AMC cards or access tokens")


class Jwks(Closed):
    keys: list[Jwk]


class CredentialReset(Closed):
    client_id: str
    version: int = Field(ge=0)


class Revocations(Closed):
    version: int = Field(ge=0, description="ask `since=version` next time for the changes only")
    since: int = Field(ge=0)
    complete: bool = Field(description="true when since=0: the whole list")
    cards: list[str] = Field(description="serials of revoked cards")
    accounts: list[str] = Field(description="suspended professional accounts (client_id)")
    restored_accounts: list[str] = Field(description="accounts enabled again since `since`")
    credentials: list[CredentialReset] = Field(default_factory=list,
                                               description="credential resets: tokens of a lower version are void")


class StandinPolicy(Closed):
    amc: str = Field(pattern=r"^[0-9]{9}$")
    single_ceiling_eur: dict[str, str] = Field(description="per domain, the largest AMC amount of one offline PEC")
    cumulative_ceiling_eur: str = EurString
    cumulative_count: int = Field(ge=0)
    period_days: int = Field(ge=1)
    max_revocation_age_s: int = Field(ge=0)
    stale_list_allows_100_sante: bool
    default: Literal["decline", "accept"]


class StandinPolicies(Closed):
    policies: list[StandinPolicy]


class Reconciliation(Closed):
    state: str
    verdict: Literal["confirmed", "adjusted", "rejected"] | None
    reason: str | None
    platform_amc_eur: str | None
    pec_number: str | None = Field(default=None, description="the platform's number of an offline agreement it"
                                                              " agreed: invoices go there (the gateway forwards an"
                                                              " invoice of the J- number to it)")


class PecEvent(BaseModel):
    at: str = Field(description="ISO 8601 instant, or the day for an expiry")
    event: Literal["accepted", "cancelled", "invoiced", "expired"]
    detail: dict = Field(default_factory=dict)


class PecStatus(BaseModel):
    pec_number: str
    state: Literal["accepted", "cancelled", "invoiced", "expired", "rejected"] | None = Field(
        default=None, description="the agreement's life (docs/RULEBOOK.md §9); rejected: an offline agreement the "
                                  "platform refused at reconciliation")
    status: Literal["valid", "expired", "closed", "provisional", "adjusted", "rejected"] = Field(
        description="platform: valid, expired, or closed (cancelled or invoiced); an offline PEC at the gateway: "
                    "provisional until reconciled")
    decision: Literal["accepted", "partial"]
    amo: str = EurString
    amc: str = EurString
    patient: str = EurString
    expires_on: Date | None
    lines: list[LineAnswer]
    mode: Literal["online", "offline"] | None = None
    provisional: bool | None = None
    journal_reference: str | None = None
    reconciliation: Reconciliation | None = None
    history: list[PecEvent] = Field(default_factory=list)
    invoice: dict | None = None
    cancellation: dict | None = Field(default=None, description="gateway: an offline cancellation and its verdict")


class OfflineCancellation(BaseModel):
    """A cancellation the gateway journaled while the platform could not be asked."""

    pec_number: str
    state: Literal["cancelled"]
    status: Literal["closed"]
    mode: Literal["offline"]
    provisional: Literal[True]
    journal_reference: str
    offline_cause: Literal["unreachable", "timeout", "breaker_open"] | None
    request_id: str


class OfflineInvoice(BaseModel):
    """An invoice the gateway's stand-in accepted against an offline agreement (GW_OFFLINE_INVOICES)."""

    pec_number: str
    state: Literal["invoiced"]
    status: Literal["closed"]
    invoice: dict = Field(description="invoice_number, delivered_on, amo, amc as invoiced")
    mode: Literal["offline"]
    provisional: Literal[True]
    journal_reference: str
    offline_cause: Literal["unreachable", "timeout", "breaker_open"] | None
    request_id: str


class AdviceResult(Closed):
    advice_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    verdict: Literal["confirmed", "adjusted", "rejected", "pending"]
    reason: str | None
    platform_amc_eur: str | None
    pec_number: str | None = None
    duplicate: bool = Field(description="true when this advice_id was received before (answered as then)")


class AdvicesAnswer(Closed):
    results: list[AdviceResult]


class OfflineLookupResult(Closed):
    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    accepted: bool = Field(description="counted by detection (false: token invalid or time outside the window)")
    reason: str | None
    duplicate: bool | None = None


class OfflineLookupsAnswer(Closed):
    results: list[OfflineLookupResult]


class Health(BaseModel):
    status: Literal["ok"]
    contracts: int | None = None
    beneficiaries_approx: int | None = None


class Ready(BaseModel):
    ready: Literal[True]
    caches_loaded: bool
    resilience: Literal["full", "naive"]


class GatewayStatus(BaseModel):
    """Open to new members (additionalProperties): monitoring may read more than documented here."""
    resilience: Literal["full", "naive"]
    platform: str
    breaker: dict = Field(description="`state` (closed, open, half_open, disabled) and window counts")
    journal: dict[str, int] = Field(description="recorded, pending, drained")
    reconciliation: dict = Field(description="confirmed, adjusted, rejected, exposure_eur (decimal string)")
    caches: dict[str, float | None] = Field(description="age in seconds of each cache, null until loaded")


ANSWER_MODELS: list[type[BaseModel]] = [TokenAnswer, OAuthError, Jwks, Revocations, StandinPolicies, PecStatus,
                                        OfflineCancellation, OfflineInvoice, AdvicesAnswer, OfflineLookupsAnswer, Health, Ready, GatewayStatus]
