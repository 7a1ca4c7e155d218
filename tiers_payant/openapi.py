"""OpenAPI 3.1 documents generated from the same pydantic models that validate requests.

Both services describe their operations from the tables below; the gateway's document is
the platform's professional operations (with the gateway's own failure answers) plus its
status endpoints. Every status an operation can answer is listed with the problem codes it
can carry (the `code` member is an enum per status), so a client generated from the
document, or a conformance checker, knows the whole contract. The conformance tests
(tests/integration/test_openapi_conformance.py) replay the sandbox catalogue and every
error class through openapi-core against the served documents: an undocumented status or
code fails them.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import openapi_examples as ex
from .answers import ANSWER_MODELS, OfflineCancellation, OfflineInvoice, PecStatus
from .problems import PROBLEM_CONTENT_TYPE, REGISTRY
from .schemas import (AdvicesRequest, CancelIn, EligibilityAnswer, EligibilityRequest, InvoiceIn,
                      OfflineLookupsRequest, PecAnswer, PecRequest, ProblemDocument)

MODELS: list[type[BaseModel]] = [EligibilityRequest, PecRequest, AdvicesRequest, OfflineLookupsRequest,
                                 EligibilityAnswer, PecAnswer, CancelIn, InvoiceIn,
                                 ProblemDocument, *ANSWER_MODELS]
Codes = dict[int, list[str]]

# Any request may meet gunicorn's limits or an unexpected error.
ANY: Codes = {414: ["URI_TOO_LONG"], 431: ["HEADERS_TOO_LARGE"], 500: ["INTERNAL_ERROR"]}
AUTH: Codes = {401: ["UNAUTHORIZED"], 403: ["ACCOUNT_SUSPENDED"], 429: ["RATE_LIMITED"]}
BODY: Codes = {400: ["MALFORMED_JSON"], 413: ["PAYLOAD_TOO_LARGE"], 415: ["UNSUPPORTED_MEDIA_TYPE"],
               422: ["VALIDATION_FAILED"]}
# The sandbox's HTTP-level faults (control API) answer these on every platform route but /healthz.
PLATFORM_FAULTS: Codes = {429: ["RATE_LIMITED"], 500: ["INTERNAL_ERROR"], 502: ["UPSTREAM_ERROR"],
                          503: ["SERVICE_UNAVAILABLE"], 504: ["UPSTREAM_TIMEOUT"]}
# The gateway relays the platform's answers and adds its own when the platform gives none.
GATEWAY_FAILURES: Codes = {500: ["INTERNAL_ERROR"], 502: ["UPSTREAM_ERROR"],
                           503: ["PLATFORM_UNAVAILABLE", "SERVICE_UNAVAILABLE"], 504: ["UPSTREAM_TIMEOUT"]}
REASONS = {200: "answer", 304: "not modified: the If-None-Match ETag is current", 400: "bad request",
           401: "authentication required or failed", 403: "forbidden", 404: "not found", 409: "conflict",
           413: "content too large", 414: "URI too long", 415: "unsupported media type", 422: "invalid content",
           429: "too many requests", 431: "header fields too large", 500: "internal error", 502: "bad gateway",
           503: "unavailable", 504: "gateway timeout"}
HEADERS = {409: {"Retry-After": "seconds to wait before retrying with the same key"},
           401: {"WWW-Authenticate": "the authentication scheme and, for a bad token, error=\"invalid_token\""},
           429: {"Retry-After": "seconds to wait before the next request"},
           503: {"Retry-After": "seconds to wait, when known"}}


def merge(*tables: Codes) -> Codes:
    out: Codes = {}
    for t in tables:
        for status, codes in t.items():
            out[status] = sorted(set(out.get(status, [])) | set(codes))
    for status, codes in out.items():
        assert all(c in REGISTRY for c in codes), codes
    return dict(sorted(out.items()))


def ref(model: type[BaseModel] | str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model if isinstance(model, str) else model.__name__}"}


def _headers(status: int) -> dict[str, Any]:
    return {name: {"description": text, "schema": {"type": "string"}} for name, text in HEADERS.get(status, {}).items()}


def problem_response(status: int, codes: list[str], extra: dict | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"allOf": [ref(ProblemDocument),
                                        {"properties": {"status": {"const": status}, "code": {"enum": codes}}}]}
    content = {PROBLEM_CONTENT_TYPE: {"schema": schema}}
    if extra:
        content.update(extra)
    resp: dict[str, Any] = {"description": f"{REASONS.get(status, 'problem')}; problem codes: "
                                           + ", ".join(f"`{c}`" for c in codes), "content": content}
    if _headers(status):
        resp["headers"] = _headers(status)
    return resp


def operation(summary: str, answer: type[BaseModel] | dict, problems: Codes, *, request: type[BaseModel] | None = None,
              auth: bool = True, description: str = "", request_examples: dict | None = None,
              answer_examples: dict | None = None, parameters: list | None = None, etag: bool = False,
              media: str = "application/json") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {}}
    if description:
        op["description"] = description
    if request is not None:
        body: dict[str, Any] = {"schema": ref(request)}
        if request_examples:
            body["examples"] = request_examples
        op["requestBody"] = {"required": True, "content": {"application/json": body}}
    ok: dict[str, Any] = {"schema": ref(answer) if isinstance(answer, type) else answer}
    if answer_examples:
        ok["examples"] = answer_examples
    op["responses"]["200"] = {"description": REASONS[200], "content": {media: ok}}
    if etag:
        op["responses"]["200"]["headers"] = {"ETag": {"description": "strong validator of this answer",
                                                      "schema": {"type": "string"}}}
        op["responses"]["304"] = {"description": REASONS[304]}
        parameters = [*(parameters or []), {"name": "If-None-Match", "in": "header", "required": False,
                                            "schema": {"type": "string"}}]
    for status, codes in problems.items():
        op["responses"][str(status)] = problem_response(status, codes)
    op["security"] = [{"bearer": []}] if auth else []
    if parameters:
        op["parameters"] = parameters
    return op


IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "description": "the same key with the same payload answers the first decision again, byte for "
                                  "byte; with another payload, 422 IDEMPOTENCY_KEY_REUSED; while the first is still "
                                  "being decided, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After",
                   "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[\\x20-\\x7e]+$"}}
PEC_NUMBER = {"name": "pec_number", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,64}$"}, "example": "PEC-3F9A0C2B7D1E4A55"}


def professional_paths(service: str, examples: dict[str, dict] | None = None) -> dict[str, Any]:
    """The three professional operations; `service` is "platform" or "gateway" (its failure answers)."""
    failures = PLATFORM_FAULTS if service == "platform" else GATEWAY_FAILURES
    e = examples or {}
    # FORBIDDEN: a gateway's service account may not act as a professional
    eligibility_problems = merge(ANY, AUTH, BODY, {403: ["FORBIDDEN"], 422: ["NIR_INVALID"]}, failures)
    quote_problems = merge(eligibility_problems, {403: ["FORBIDDEN"], 422: ["QUOTE_SHAPE_INVALID"]})
    pec_problems = merge(quote_problems, {400: ["BAD_REQUEST"], 409: ["IDEMPOTENCY_IN_PROGRESS"],
                                          422: ["IDEMPOTENCY_KEY_REUSED"]})
    life_problems = merge(ANY, AUTH, BODY, failures, {400: ["BAD_REQUEST"], 403: ["FORBIDDEN"], 404: ["NOT_FOUND"],
                                                      409: ["PEC_NOT_OPEN", "IDEMPOTENCY_IN_PROGRESS"],
                                                      422: ["IDEMPOTENCY_KEY_REUSED"], 503: ["SERVICE_UNAVAILABLE"]},
                          {503: ["PLATFORM_UNAVAILABLE"]} if service == "gateway" else {})
    invoice_problems = merge(life_problems, {422: ["INVOICE_ABOVE_AGREEMENT", "INVOICE_OUTSIDE_VALIDITY"]},
                             {409: ["PEC_PROVISIONAL"]} if service == "gateway" else {})
    cancel = operation("Annulation: cancels an agreement not yet invoiced and frees its reservation",
                       {"anyOf": [ref(PecStatus), ref(OfflineCancellation)]},
                       life_problems, request=CancelIn, parameters=[PEC_NUMBER, IDEMPOTENCY_KEY],
                       request_examples={"abandoned": {"summary": "the customer walked away",
                                                       "value": {"reason": "abandoned"}}},
                       description="The body may be empty (reason `abandoned`). Cancelling twice answers the same "
                                   "state. At the gateway an offline agreement (J-...) is cancelled through the "
                                   "journal, `provisional` until the platform judges it.")
    cancel["requestBody"]["required"] = False
    status_problems = merge(ANY, AUTH, {403: ["FORBIDDEN"], 404: ["NOT_FOUND"]}, failures,
                            {503: ["PLATFORM_UNAVAILABLE"]} if service == "gateway" else {})
    offline = (" At the gateway, when the platform gives no answer, the offline stand-in decides: `mode` offline, "
               "`provisional` true, `offline_cause` and, for an acceptance, `journal_reference`."
               if service == "gateway" else "")
    return {
        "/v1/eligibility": {"post": operation(
            "Rights check: is this beneficiary covered for this domain", EligibilityAnswer, eligibility_problems,
            request=EligibilityRequest, request_examples=e.get("eligibility"), answer_examples=ex.ELIGIBILITY_ANSWERS,
            description="Business declines are 200 answers with `decision: not_eligible` and a `reason`." + offline)},
        "/v1/pec": {"post": operation(
            "Prise en charge: a quote in, an agreement with AMO/AMC/patient amounts out", PecAnswer, pec_problems,
            request=PecRequest, request_examples=e.get("pec"), answer_examples=ex.PEC_ANSWERS,
            parameters=[IDEMPOTENCY_KEY],
            description="Amounts are decimal strings (`\"30.00\"`); a JSON number is refused (422). "
                        "Refusals are 200 answers with `decision: refused` and `reasons`." + offline)},
        "/v1/pec/{pec_number}": {"get": operation(
            "State (accepted, cancelled, invoiced, expired) and history of an agreement", PecStatus, status_problems,
            parameters=[PEC_NUMBER], answer_examples=ex.PEC_STATUS_ANSWERS)},
        "/v1/quotes": {"post": operation(
            "Cotation: the same request as a PEC, the same amounts; nothing reserved or recorded", PecAnswer,
            quote_problems, request=PecRequest, request_examples=e.get("pec"),
            description="`pec_number` and `expires_on` are null." + offline.replace(
                "and, for an acceptance, `journal_reference`", "and nothing journaled"))},
        "/v1/pec/{pec_number}/cancel": {"post": cancel},
        "/v1/pec/{pec_number}/invoice": {"post": operation(
            "Facturation: the delivery invoiced against the agreement; consumption recorded, agreement closed",
            {"anyOf": [ref(PecStatus), ref(OfflineInvoice)]} if service == "gateway" else PecStatus,
            invoice_problems, request=InvoiceIn, parameters=[PEC_NUMBER, IDEMPOTENCY_KEY],
            request_examples={"agreed": {"summary": "a classe I aid invoiced at the agreed amounts",
                                         "value": {"invoice_number": "F-2025-0001", "amo": "240.00",
                                                   "amc": "710.00"}}},
            description="Amounts at most those agreed plus the documented tolerance; delivered between the "
                        "agreement's day and `expires_on`." + (
                            " At the gateway: refused while the platform is down (503 PLATFORM_UNAVAILABLE); an "
                            "offline agreement (J-...) the platform agreed is invoiced online under the platform's "
                            "number (409 PEC_NOT_OPEN if it refused it); one not judged yet is refused (409 "
                            "PEC_PROVISIONAL) unless the stand-in policy GW_OFFLINE_INVOICES is on: then the "
                            "invoice is journaled and answered `provisional` (OfflineInvoice)."
                            if service == "gateway" else ""))},
    }


def shared_paths(service: str) -> dict[str, Any]:
    """Pages both services serve: problem types, metrics, this document and liveness."""
    faults = PLATFORM_FAULTS if service == "platform" else {}
    text = {"type": "string"}
    return {
        "/problems/{name}": {"get": {**operation(
            "A problem type's page (the `type` of problem documents resolves here)", text,
            merge(ANY, faults, {404: ["NOT_FOUND"]}), auth=False, media="text/html",
            answer_examples=ex.text("the page of NIR_INVALID", ex.PROBLEM_PAGE),
            parameters=[{"name": "name", "in": "path", "required": True, "example": "nir-invalid",
                         "schema": {"type": "string", "pattern": "^[a-z0-9-]{1,64}$"}}])}},
        "/problems": {"get": operation("Every reason and problem code, linked to its page", text, merge(ANY, faults),
                                       auth=False, media="text/html",
                                       answer_examples=ex.text("the table of codes", ex.PROBLEMS_PAGE))},
        "/metrics": {"get": operation("Prometheus metrics (text exposition format)", text, merge(ANY, faults),
                                      auth=False, media="text/plain",
                                      answer_examples=ex.text("a few lines", ex.METRICS[service]))},
        "/openapi.json": {"get": operation("This document", {"type": "object"}, merge(ANY, faults), auth=False,
                                           answer_examples={"head": {"summary": "its first members", "value": {
                                               "openapi": "3.1.0", "info": {"title": "…", "version": "1.1.0"}}}})},
    }


def document(title: str, description: str, paths: dict[str, Any]) -> dict[str, Any]:
    _, schemas = models_json_schema([(m, "validation") for m in MODELS], by_alias=True,
                                    ref_template="#/components/schemas/{model}")
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.1.0",
                 "description": description + "\n\nAmounts are decimal strings in euros with two decimals "
                 "(`\"240.00\"`), in requests and answers; a JSON number is refused with 422. Every error is "
                 "`application/problem+json` (RFC 9457) with a stable `code`; its `type` is the relative URI of "
                 "the code's page on this service (`/problems/<code>`, all listed at `/problems`). Any request "
                 "may also be answered 405 (with `Allow`) on a path that exists for another method."},
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {}),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                                      "description": "a token from POST /oauth/token on the "
                                                                     "platform (the gateway accepts the same)"}}},
    }
