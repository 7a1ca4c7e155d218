"""`/problems` and `/problems/<slug>`: where problem `type` URIs resolve (RFC 9457 section 3.1.1).

One short page per code of the registry, on both services, so a `type` read in any answer
(the gateway relays the platform's problems as they are) can be opened where it was read.
"""
from __future__ import annotations

import html

from flask import Blueprint, Response

from .problems import REGISTRY, Problem, code_of_slug, registry_table

bp = Blueprint("problems", __name__)
_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _page(title: str, body: str) -> Response:
    resp = Response(f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
                    f"</head><body>{body}</body></html>", mimetype="text/html")
    resp.headers["Content-Security-Policy"] = _CSP
    resp.headers["Cache-Control"] = "public, max-age=3600"
    return resp


def codes_table() -> str:
    rows = "".join(f'<tr><td><a href="{c["type"]}"><code>{c["code"]}</code></a></td><td>{c["status"]}</td>'
                   f"<td>{'decline (200, reason)' if c['decline'] else 'problem document'}</td>"
                   f"<td>{html.escape(c['title'])}</td></tr>" for c in registry_table())
    return ("<table border=\"1\"><tr><th>code</th><th>status</th><th>kind</th><th>meaning</th></tr>"
            f"{rows}</table>")


@bp.get("/problems")
def index() -> Response:
    return _page("Reason and problem codes", "<h1>Reason and problem codes</h1>" + codes_table())


@bp.get("/problems/<name>")
def page(name: str) -> Response:
    code = code_of_slug(name)
    if code is None:
        raise Problem("NOT_FOUND", "no problem type of that name; see /problems")
    c = REGISTRY[code]
    if c.decline:
        how = (f"A business decline: the answer is 200 with <code>decision</code> not_eligible or refused and "
               f"<code>reason</code> {c.code}." + (f" Raised as a problem it is HTTP {c.status}." if c.status != 200 else ""))
    else:
        how = (f"A problem document (<code>application/problem+json</code>) with HTTP status {c.status} and "
               f"<code>code</code> {c.code}; <code>errors[]</code> lists the fields at fault (JSON pointers).")
    return _page(c.code, f"<h1><code>{c.code}</code></h1><p>{html.escape(c.title)}.</p><p>{how}</p>"
                         '<p><a href="/problems">All codes</a></p>')
