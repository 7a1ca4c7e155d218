"""One registry of reason codes and problem types.

Business declines (the card is revoked, the contract is terminated...) are 200 answers
carrying a `reason`; malformed or refused requests are problem documents (RFC 9457).
This module is the only place that turns a code into an HTTP status and a title.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Problem type URIs are relative references (RFC 9457 section 3.1.1) that resolve on the
# service that answered: both the platform and the gateway serve `/problems/<slug>`, a short
# page per code, so a problem relayed by the gateway still resolves where it was read.
PROBLEM_BASE = "/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"


@dataclass(frozen=True)
class Code:
    code: str
    status: int  # HTTP status when the code is raised as a problem
    title: str
    decline: bool = False  # True: may appear as the `reason` of a business decline


_CODES = [
    # Declines: answered 200 with decision not_eligible / refused and this reason.
    Code("CARD_SIGNATURE_INVALID", 200, "The card's signature does not verify", True),
    Code("CARD_EXPIRED", 200, "The card's validity period has ended", True),
    Code("CARD_NOT_YET_VALID", 200, "The card's validity period has not begun", True),
    Code("CARD_REVOKED", 200, "The card is on the revocation list", True),
    Code("UNKNOWN_AMC", 200, "The AMC named by the card is not served here", True),
    Code("CARD_KEY_RETIRED", 200, "The card was signed with a key its AMC no longer publishes: fetch a re-signed card",
         True),
    Code("BENEFICIARY_NOT_ON_CARD", 200, "No beneficiary of the card matches NIR, birth date and rank", True),
    Code("DOMAIN_NOT_COVERED", 200, "The domain is not open to tiers payant on this card or contract", True),
    Code("CONTRACT_TERMINATED", 200, "The contract behind the card was terminated", True),
    Code("CONTRACT_SUSPENDED", 200, "The contract behind the card is suspended", True),
    Code("RENEWAL_NOT_DUE", 200, "The renewal period for this equipment has not elapsed", True),
    Code("AMOUNT_ABOVE_CEILING", 200, "The price is above the regulated ceiling for this class", True),
    Code("PRESCRIPTION_EXPIRED", 200, "The prescription is past its validity for this age band", True),
    Code("PRESCRIBER_NOT_ALLOWED", 200, "This prescriber may not prescribe this equipment for this age", True),
    Code("OFFLINE_LIMIT_EXCEEDED", 200, "The amount is above the AMC's offline limit", True),
    Code("OFFLINE_VELOCITY_EXCEEDED", 200, "Too many or too large offline decisions for this beneficiary", True),
    Code("REVOCATIONS_STALE", 200, "The cached revocation list is too old to decide offline", True),
    Code("OFFLINE_DEFAULT_DECLINE", 200, "No offline rule covers this request; the AMC's default is to decline", True),
    Code("ADVICE_CREDENTIAL_INVALID", 200, "The advice's professional token was not valid for that professional at"
                                           " the decision's time (forged, expired, superseded by a reset)", True),
    Code("OFFLINE_ACCOUNT_LIMIT", 200, "This account passed its offline limits; it is refused offline until the"
                                       " platform is back", True),
    Code("PLATFORM_UNAVAILABLE", 503, "The platform cannot be reached and no offline decision could be recorded", True),
    # Problems: the request itself is refused.
    Code("QUOTE_SHAPE_INVALID", 422, "The lines do not make one equipment (class, frame, eyes, ears)"),
    Code("INVOICE_ABOVE_AGREEMENT", 422, "The invoiced amounts are above those agreed"),
    Code("INVOICE_OUTSIDE_VALIDITY", 422, "The delivery date is outside the agreement's validity"),
    Code("PEC_NOT_OPEN", 409, "The agreement is no longer open: cancelled, invoiced or expired"),
    Code("PEC_PROVISIONAL", 409, "The agreement is an offline, provisional one the platform has not confirmed yet"),
    Code("NIR_INVALID", 422, "The NIR is malformed or its key does not match"),
    Code("VALIDATION_FAILED", 422, "The request does not match the schema"),
    Code("MALFORMED_JSON", 400, "The body is not valid JSON"),
    Code("BAD_REQUEST", 400, "The request cannot be understood"),
    Code("UNAUTHORIZED", 401, "A valid bearer token is required"),
    # OAuth2 token endpoint (RFC 6749 section 5.2): each also carries `error` / `error_description`.
    Code("INVALID_REQUEST", 400, "The token request is malformed"),
    Code("UNSUPPORTED_GRANT_TYPE", 400, "Only the client_credentials grant is supported"),
    Code("INVALID_SCOPE", 400, "The requested scope is not granted to this client"),
    Code("INVALID_CLIENT", 401, "Unknown client or wrong secret"),
    Code("LOGIN_THROTTLED", 429, "Too many failed logins; retry after the delay given"),
    Code("FORBIDDEN", 403, "This account may not do this"),
    Code("HOST_NOT_ALLOWED", 403, "The Host header names a host this service does not answer for"),
    Code("ACCOUNT_SUSPENDED", 403, "The professional account is suspended"),
    Code("NOT_FOUND", 404, "No such resource"),
    Code("KEY_IS_CURRENT", 409, "A family's current signing key cannot be retired: rotate it first"),
    Code("METHOD_NOT_ALLOWED", 405, "Method not allowed on this resource"),
    Code("REQUEST_TIMEOUT", 408, "The request did not arrive in full within the read deadline"),
    Code("IDEMPOTENCY_KEY_REUSED", 422, "The idempotency key was used with another request payload"),
    Code("IDEMPOTENCY_IN_PROGRESS", 409, "A request with this idempotency key is still being decided"),
    Code("PAYLOAD_TOO_LARGE", 413, "The body is larger than allowed"),
    Code("URI_TOO_LONG", 414, "The request line is longer than the server reads"),
    Code("HEADERS_TOO_LARGE", 431, "A header field is too large, or there are too many"),
    Code("UNSUPPORTED_MEDIA_TYPE", 415, "The content type is not supported"),
    Code("RATE_LIMITED", 429, "Too many requests for this account"),
    Code("TOO_MANY_CONNECTIONS", 429, "Too many open connections from this address"),
    Code("INTERNAL_ERROR", 500, "Unexpected error"),
    Code("UPSTREAM_ERROR", 502, "The platform answered with an error"),
    Code("SERVICE_UNAVAILABLE", 503, "The service is unavailable"),
    Code("UPSTREAM_TIMEOUT", 504, "The platform did not answer in time"),
]

REGISTRY: dict[str, Code] = {c.code: c for c in _CODES}
DECLINE_CODES = frozenset(c.code for c in _CODES if c.decline)


@dataclass(frozen=True)
class FieldError:
    path: str  # JSON pointer, e.g. "/beneficiary/nir"
    message: str
    code: str = "VALIDATION_FAILED"


@dataclass
class Problem(Exception):
    """Raise anywhere in a request; the HTTP shell renders it."""

    code: str
    detail: str = ""
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None  # override of the registry's status (rare: 5xx from faults)
    members: dict[str, Any] = field(default_factory=dict)  # extension members (RFC 9457 section 3.2), e.g. OAuth2's `error`

    def __post_init__(self) -> None:
        if self.code not in REGISTRY:
            raise ValueError(f"unregistered code {self.code}")
        Exception.__init__(self, f"{self.code}: {self.detail}")

    @property
    def http_status(self) -> int:
        return self.status or REGISTRY[self.code].status

    def to_dict(self) -> dict[str, Any]:
        entry = REGISTRY[self.code]
        return {
            "type": problem_type(self.code),
            "title": entry.title,
            "status": self.http_status,
            "detail": self.detail or entry.title,
            "code": self.code,
            "errors": [{"path": e.path, "message": e.message, "code": e.code} for e in self.errors],
            **self.members,
        }


def slug(code: str) -> str:
    return code.lower().replace("_", "-")


def problem_type(code: str) -> str:
    return PROBLEM_BASE + slug(code)


def code_of_slug(value: str) -> str | None:
    code = value.upper().replace("-", "_")
    return code if code in REGISTRY and slug(code) == value else None


def registry_table() -> list[dict[str, Any]]:
    """For the human documentation page and the OpenAPI description."""
    return [{"code": c.code, "status": c.status, "title": c.title, "decline": c.decline, "type": problem_type(c.code)}
            for c in _CODES]
