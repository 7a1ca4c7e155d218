"""The platform's contract: OpenAPI 3.1 and a human page (operations, codes, sandbox catalogue)."""
from __future__ import annotations

import html
import time

from flask import Blueprint, Response, current_app

from tiers_payant import openapi_examples as ex
from tiers_payant.answers import AdvicesAnswer, OfflineLookupsAnswer, Health, Jwks, OAuthError, Revocations, StandinPolicies, TokenAnswer
from tiers_payant.httpkit import json_response
from tiers_payant.openapi import (ANY, AUTH, BODY, PLATFORM_FAULTS, document, merge, operation, problem_response,
                                  professional_paths, ref, shared_paths)
from tiers_payant.problem_pages import codes_table
from tiers_payant.problems import PROBLEM_CONTENT_TYPE
from tiers_payant.schemas import AdvicesRequest, OfflineLookupsRequest

from ..catalogue import case_table
from ..key_rotation import TOKEN_FAMILY, card_family
from .examples import catalogue_examples

bp = Blueprint("docs", __name__)

DESCRIPTION = ("Mock third-party-payer platform (tiers payant) for optics and audio: synthetic insured, signed "
               "digital cards, rights checks and PEC, sandbox accounts. Every error is application/problem+json.")
_TOKEN_FORM = {"type": "object", "required": ["grant_type"], "properties": {
    "grant_type": {"type": "string", "const": "client_credentials"},
    "client_id": {"type": "string", "minLength": 1, "maxLength": 64, "description": "or HTTP Basic (client_secret_basic)"},
    "client_secret": {"type": "string", "minLength": 1, "maxLength": 128}, "scope": {"type": "string"}}}


TOKEN_CODES = {400: ["BAD_REQUEST", "MALFORMED_JSON", "VALIDATION_FAILED", "INVALID_REQUEST", "UNSUPPORTED_GRANT_TYPE",
                     "INVALID_SCOPE"], 401: ["INVALID_CLIENT"],
               403: ["ACCOUNT_SUSPENDED"], 413: ["PAYLOAD_TOO_LARGE"], 415: ["UNSUPPORTED_MEDIA_TYPE"],
               422: ["VALIDATION_FAILED"], 429: ["LOGIN_THROTTLED"]}


def token_operation() -> dict:
    problems = merge(ANY, PLATFORM_FAULTS, TOKEN_CODES)
    op = operation("OAuth2 client-credentials grant (RFC 6749 section 4.4)", TokenAnswer, problems, auth=False,
                   answer_examples={"sandbox": {"summary": "a sandbox account's token", "value": ex.TOKEN_ANSWER}},
                   description="Credentials in the form body (client_secret_post) or as HTTP Basic "
                               "(client_secret_basic). Errors 400 (`invalid_request`, `unsupported_grant_type`) and "
                               "401 (`invalid_client`) carry RFC 6749's `error` member, as a problem document's "
                               "extension or as a plain RFC 6749 answer.")
    form = {"schema": _TOKEN_FORM, "examples": {"sandbox": {"summary": "a sandbox account (`accounts --count 1`)",
                                                            "value": {"grant_type": "client_credentials",
                                                                      "client_id": "opt-000000",
                                                                      "client_secret": "see accounts"}}}}
    op["requestBody"] = {"required": True, "content": {"application/x-www-form-urlencoded": form,
                                                       "application/json": {"schema": _TOKEN_FORM}}}
    for status in (400, 401):  # RFC 6749 section 5.2 answers, in either shape
        resp = problem_response(status, problems[status], {"application/json": {"schema": ref(OAuthError)}})
        problem = resp["content"][PROBLEM_CONTENT_TYPE]
        problem["schema"] = {"anyOf": [problem["schema"], ref(OAuthError)]}
        op["responses"][str(status)] = resp
    op["security"] = [{}, {"basic": []}]
    return op


def _one(summary: str, value) -> dict:
    return {"example": {"summary": summary, "value": value}}


def platform_openapi() -> dict:
    services = current_app.extensions["platform"]
    s = services.settings
    examples = catalogue_examples(services.population, services.platform.keys, s.seed, s.today())
    every = merge(ANY, PLATFORM_FAULTS)
    first_amc = services.population.amcs[0]
    live_keys = services.platform.keys.jwks(time.time(), {card_family(first_amc.number), TOKEN_FAMILY})
    live_policy = {"policies": [services.policies[first_amc.number].to_json()]}
    paths = professional_paths("platform", examples)
    paths["/oauth/token"] = {"post": token_operation()}
    paths["/v1/advices"] = {"post": operation(
        "Store-and-forward replay of a gateway's offline decisions (idempotent by advice_id)", AdvicesAnswer,
        merge(every, AUTH, BODY, {403: ["FORBIDDEN"]}), request=AdvicesRequest,
        answer_examples={"confirmed": {"summary": "one advice, confirmed", "value": ex.ADVICES_ANSWER}},
        description="Gateways' service accounts only (`gw-N`); others get 403 FORBIDDEN.")}
    paths["/v1/offline-lookups"] = {"post": operation(
        "A gateway's declined offline lookups, for detection (each attributed by the professional's token)",
        OfflineLookupsAnswer, merge(every, AUTH, BODY, {403: ["FORBIDDEN"]}), request=OfflineLookupsRequest,
        answer_examples={"counted": {"summary": "one declined lookup, counted", "value": ex.OFFLINE_LOOKUPS_ANSWER}},
        description="Gateways' service accounts only (`gw-N`); others get 403 FORBIDDEN. Idempotent by `id`.")}
    paths["/v1/keys"] = {"get": operation("JWKS: AMC card keys and the token-signing key", Jwks, every, auth=False,
                                          etag=True, answer_examples=_one("one AMC's key and the token key (of "
                                                                          f"{len(services.population.amcs)} + 1)",
                                                                          live_keys))}
    paths["/v1/revocations"] = {"get": operation(
        "Revoked cards and suspended accounts, versioned", Revocations, merge(every, AUTH, {422: ["VALIDATION_FAILED"]}),
        etag=True, answer_examples={"full": {"summary": "the whole list (since=0)", "value": ex.REVOCATIONS_ANSWER}},
        parameters=[{"name": "since", "in": "query", "required": False, "description": "a version seen before",
                     "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"}}])}
    paths["/v1/standin-policy"] = {"get": operation("Per-AMC degraded-mode limits", StandinPolicies,
                                                    merge(every, AUTH),
                                                    answer_examples=_one("the first AMC's policy", live_policy))}
    paths["/healthz"] = {"get": operation("Liveness", Health, ANY, auth=False,
                                          answer_examples=_one("the default sandbox", ex.HEALTH))}
    paths["/docs"] = {"get": operation("This contract for people: operations, codes, sandbox catalogue",
                                       {"type": "string"}, every, auth=False, media="text/html",
                                       answer_examples=_one("the page", ex.DOCS_PAGE))}
    paths.update(shared_paths("platform"))
    doc = document("Tiers-payant platform simulator", DESCRIPTION, paths)
    doc["components"]["securitySchemes"]["basic"] = {"type": "http", "scheme": "basic",
                                                     "description": "client_id and client_secret (token endpoint)"}
    return doc


@bp.get("/openapi.json")
def openapi():
    return json_response(platform_openapi())


@bp.get("/docs")
def docs() -> Response:
    s = current_app.extensions["platform"]
    ops = "".join(f"<li><code>{m.upper()} {html.escape(p)}</code>: {html.escape(o.get('summary', ''))}</li>"
                  for p, item in platform_openapi()["paths"].items() for m, o in item.items())
    cases = "".join(f"<tr><td><code>{r['case']}</code></td><td>{r['domain'] or ''}</td><td>{html.escape(r['eligibility'])}"
                    f"</td><td>{html.escape(r['pec'])}</td></tr>"
                    for r in case_table(s.population, s.settings.today()))
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tiers-payant platform simulator</title></head>
<body><h1>Tiers-payant platform simulator</h1><p>{html.escape(DESCRIPTION)}</p>
<p>Population: {s.population.size} contracts, {len(s.population.amcs)} AMCs. Card and token keys are random
to this platform's state directory, and client secrets are issued once and stored hashed.
Machine-readable contract: <a href="/openapi.json">/openapi.json</a>. Amounts are decimal strings (<code>"30.00"</code>).</p>
<h2>Operations</h2><ul>{ops}</ul>
<h2>Sandbox catalogue</h2><p>One case of a kind, signed with this platform's keys:
<code>python -m simulator cards --state-dir DIR --case NAME</code> (or the control API's <code>GET /v1/sandbox/cases</code>)
(<code>--list-cases</code> prints this table, <code>--count N</code> gives N cases). Each case holds the card, the
beneficiary's proof of possession, a quote and the answers a fresh sandbox gives. Sandbox accounts, each secret shown once:
<code>python -m simulator accounts --state-dir DIR --count 10</code> (control API <code>POST /v1/sandbox/accounts</code>). Cases get used up (an accepted PEC records
consumption): <code>python -m simulator sandbox reset</code> (control API <code>POST /v1/sandbox/reset</code>) forgets
PECs, consumption and suspensions.</p>
<table border="1"><tr><th>case</th><th>domain</th><th>rights check</th><th>PEC</th></tr>{cases}</table>
<h2>Reason and problem codes</h2><p>Each code has its page at <code>/problems/&lt;code&gt;</code>, the <code>type</code>
of problem documents (<a href="/problems">all codes</a>).</p>{codes_table()}
</body></html>"""
    resp = Response(body, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return resp
