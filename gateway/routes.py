"""The gateway's HTTP surface: the platform's professional operations, plus its own status."""
from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, request

from gateway.background import health
from gateway.contract import gateway_openapi
from gateway.metrics import render
from tiers_payant.httpkit import json_response, read_json_body
from tiers_payant.idempotency import check_key
from tiers_payant.problems import Problem

bp = Blueprint("gateway", __name__)
_PEC_NUMBER = re.compile(r"[A-Za-z0-9-]{1,64}")


def svc():
    return current_app.extensions["gateway"]


def _answer(a) -> Response:
    resp = Response(a.body, status=a.status, content_type=a.content_type)
    resp.headers["X-Gateway-Mode"] = a.mode
    if a.retry_after:
        resp.headers["Retry-After"] = a.retry_after
    if a.status == 401:  # the platform's challenge, else ours: every 401 carries one
        resp.headers["WWW-Authenticate"] = a.www_authenticate or 'Bearer realm="tiers-payant"'
    return resp


def _idempotency_key() -> str | None:
    return check_key(request.headers.get("Idempotency-Key"))


@bp.post("/v1/eligibility")
def eligibility():
    return _answer(svc().gateway.eligibility(read_json_body(), request.headers.get("Authorization")))


@bp.post("/v1/pec")
def pec():
    key = _idempotency_key()
    return _answer(svc().gateway.pec(read_json_body(), request.headers.get("Authorization"), key))


@bp.get("/v1/pec/<pec_number>")
def pec_status(pec_number: str):
    if not _PEC_NUMBER.fullmatch(pec_number):  # ASCII only: it goes into the platform's URL as it is
        raise Problem("NOT_FOUND", "no such PEC")
    return _answer(svc().gateway.pec_status(pec_number, request.headers.get("Authorization")))


@bp.post("/v1/quotes")
def quote():
    return _answer(svc().gateway.quote(read_json_body(), request.headers.get("Authorization")))


def _pec_number(pec_number: str) -> str:
    if not _PEC_NUMBER.fullmatch(pec_number):  # ASCII only: it goes into the platform's URL as it is
        raise Problem("NOT_FOUND", "no such PEC")
    return pec_number


@bp.post("/v1/pec/<pec_number>/cancel")
def cancel(pec_number: str):
    key = _idempotency_key()
    raw = read_json_body() if request.content_length else b""  # no body: the default reason
    return _answer(svc().gateway.cancel(_pec_number(pec_number), raw, request.headers.get("Authorization"), key))


@bp.post("/v1/pec/<pec_number>/invoice")
def invoice(pec_number: str):
    key = _idempotency_key()
    return _answer(svc().gateway.invoice(_pec_number(pec_number), read_json_body(),
                                         request.headers.get("Authorization"), key))


@bp.get("/v1/status")
def status():
    return json_response(svc().status())


@bp.get("/metrics")
def metrics():
    body, content_type = render(svc().status)
    return Response(body, content_type=content_type)


@bp.get("/healthz")
def healthz():
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready when the offline stand-in has its caches, or when the platform answers."""
    s = svc()
    full = s.settings.resilience == "full"
    caches = full and s.cached.loaded()
    platform = caches or s.upstream.platform_answers()
    if not (caches or platform):
        raise Problem("SERVICE_UNAVAILABLE", "not ready: the offline snapshot (keys, revocations, stand-in policy)"
                                             " was never loaded and the platform does not answer")
    missing = health.not_ready_reasons(health.read(s.cached.disk)) if full else []
    if missing:
        raise Problem("SERVICE_UNAVAILABLE", "not ready: " + "; ".join(missing))
    return json_response({"ready": True, "caches_loaded": caches, "resilience": s.settings.resilience})


@bp.get("/openapi.json")
def openapi():
    return json_response(gateway_openapi())
