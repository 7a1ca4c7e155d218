"""The PEC's life over HTTP: cotation, state, cancellation, invoicing (simulator.pec_life)."""
from __future__ import annotations

import time

from flask import Blueprint, Response, request

from tiers_payant.httpkit import json_response, read_json_body
from tiers_payant.parsing import parse_model
from tiers_payant.problems import Problem
from tiers_payant.schemas import CancelIn, InvoiceIn, PecRequest

from .routes import _idempotency_key, _principal, svc

bp = Blueprint("pec_life", __name__)


def _number(pec_number: str) -> str:
    if len(pec_number) > 64 or not pec_number.isascii():
        raise Problem("NOT_FOUND", "no such PEC")
    return pec_number


def _replayable(answer: dict, body: bytes, replayed: bool) -> Response:
    resp = Response(body, status=200, content_type="application/json")
    if replayed:
        resp.headers["Idempotent-Replayed"] = "true"
    return resp


@bp.post("/v1/quotes")
def quote():
    p = _principal()
    req = parse_model(PecRequest, read_json_body())
    answer = svc().life.quote(req, p, time.time())
    svc().guard.observe_lookup(p.client_id, req, answer, time.time())  # a cotation names a beneficiary too
    return json_response(answer)


@bp.get("/v1/pec/<pec_number>")
def pec_status(pec_number: str):
    p = _principal()
    return json_response(svc().life.state(_number(pec_number), p, time.time()))


@bp.post("/v1/pec/<pec_number>/cancel")
def cancel(pec_number: str):
    p = _principal()
    idem = _idempotency_key()
    raw = read_json_body() if request.content_length else b"{}"  # no body: the default reason
    return _replayable(*svc().life.cancel(_number(pec_number), parse_model(CancelIn, raw), p, idem, raw,
                                          time.time()))


@bp.post("/v1/pec/<pec_number>/invoice")
def invoice(pec_number: str):
    p = _principal()
    idem = _idempotency_key()
    raw = read_json_body()
    return _replayable(*svc().life.invoice(_number(pec_number), parse_model(InvoiceIn, raw), p, idem, raw,
                                           time.time()))
