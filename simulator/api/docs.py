"""The platform's contract: OpenAPI 3.1 and a human page (operations, codes, sandbox)."""
from __future__ import annotations

import html

from flask import Blueprint, Response, current_app

from tiers_payant.httpkit import json_response
from tiers_payant.openapi import _problems, document, operation, professional_paths
from tiers_payant.problems import registry_table
from tiers_payant.schemas import AdvicesRequest

bp = Blueprint("docs", __name__)

DESCRIPTION = ("Mock third-party-payer platform (tiers payant) for optics and audio: synthetic insured, signed "
               "digital cards, rights checks and PEC, sandbox accounts. Every error is application/problem+json.")


def platform_openapi() -> dict:
    paths = professional_paths()
    paths["/v1/advices"] = {"post": operation("Store-and-forward replay of a gateway's offline decisions (idempotent "
                                              "by advice_id)", AdvicesRequest, {"type": "object"})}
    paths["/v1/keys"] = {"get": operation("JWKS: AMC card keys and the token-signing key", None, {"type": "object"},
                                          (), auth=False)}
    paths["/v1/revocations"] = {"get": {**operation("Revoked cards and suspended accounts, versioned", None,
                                                    {"type": "object"}, (401, 422)),
                                        "parameters": [{"name": "since", "in": "query", "required": False,
                                                        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"}}]}}
    paths["/v1/standin-policy"] = {"get": operation("Per-AMC degraded-mode limits", None, {"type": "object"}, (401,))}
    paths["/oauth/token"] = {"post": {"summary": "Client-credentials login (form or JSON body)",
                                      "requestBody": {"content": {"application/x-www-form-urlencoded": {
                                          "schema": {"type": "object", "properties": {
                                              "grant_type": {"const": "client_credentials"},
                                              "client_id": {"type": "string"}, "client_secret": {"type": "string"}}}}}},
                                      "responses": {"200": {"description": "token"},
                                                    "401": {"description": "problem document"}}}}
    paths["/oauth/token"]["post"]["responses"].update(_problems(400, 401, 403, 413, 415, 429))  # RFC 6749 `error` too
    paths["/healthz"] = {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}}
    return document("Tiers-payant platform simulator", DESCRIPTION, paths)


@bp.get("/openapi.json")
def openapi():
    return json_response(platform_openapi())


@bp.get("/docs")
def docs() -> Response:
    s = current_app.extensions["platform"]
    ops = "".join(f"<li><code>{m.upper()} {html.escape(p)}</code>: {html.escape(o.get('summary', ''))}</li>"
                  for p, item in platform_openapi()["paths"].items() for m, o in item.items())
    codes = "".join(f"<tr><td><code>{c['code']}</code></td><td>{c['status']}</td><td>{'decline' if c['decline'] else 'problem'}"
                    f"</td><td>{html.escape(c['title'])}</td></tr>" for c in registry_table())
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tiers-payant platform simulator</title></head>
<body><h1>Tiers-payant platform simulator</h1><p>{html.escape(DESCRIPTION)}</p>
<p>Population: seed {s.settings.seed}, {s.population.size} contracts, {len(s.population.amcs)} AMCs.
Machine-readable contract: <a href="/openapi.json">/openapi.json</a>.</p>
<h2>Operations</h2><ul>{ops}</ul>
<h2>Reason and problem codes</h2><table border="1"><tr><th>code</th><th>status</th><th>kind</th><th>meaning</th></tr>{codes}</table>
<h2>Sandbox catalogue</h2><p>Test cases with their expected answers:
<code>python -m simulator cards --count 200 --seed {s.settings.seed} --beneficiaries {s.settings.beneficiaries}</code>;
sandbox accounts: <code>python -m simulator accounts --count 10 --seed {s.settings.seed}</code>.
Each case line holds the card, the beneficiary's proof of possession, a quote and the answer the platform gives.</p>
</body></html>"""
    resp = Response(body, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return resp
