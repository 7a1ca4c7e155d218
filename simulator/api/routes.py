"""The platform's public operations (DESIGN.md section 4), one thin function each."""
from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, g, request

from tiers_payant.httpkit import conditional, json_response, read_json_body
from tiers_payant.idempotency import check_key
from tiers_payant.parsing import parse_model
from tiers_payant.problems import Problem
from tiers_payant.schemas import AdvicesRequest, EligibilityRequest, OfflineLookupsRequest, PecRequest

from ..metrics import render

bp = Blueprint("platform", __name__)


def svc():
    return current_app.extensions["platform"]


def _principal(service: bool | None = False):
    """The caller; `service` operations are the gateways' (their service accounts may do
    nothing else), the others the professionals' (least privilege both ways)."""
    p = svc().auth.principal()
    if service is not None and p.client_id.startswith("gw-") != service:
        raise Problem("FORBIDDEN", "this operation is for gateways' service accounts" if service
                      else "a gateway's service account may not do this")
    g.client_id = p.client_id
    svc().guard.admit(p.client_id, time.time())
    return p


def _idempotency_key() -> str | None:
    return check_key(request.headers.get("Idempotency-Key"))


@bp.post("/oauth/token")
def token():
    answer, headers = svc().auth.login()
    return json_response(answer, headers=headers)


@bp.post("/v1/eligibility")
def eligibility():
    p = _principal()
    raw = read_json_body()
    req = parse_model(EligibilityRequest, raw)
    answer = svc().platform.eligibility(req, time.time())
    svc().guard.observe_lookup(p.client_id, req, answer, time.time())
    return json_response(answer)


@bp.post("/v1/pec")
def pec():
    p = _principal()
    idem = _idempotency_key()
    raw = read_json_body()
    req = parse_model(PecRequest, raw)
    answer, body, replayed = svc().platform.pec(req, p, idem, time.time(), raw)
    if not replayed:  # a retry of one request is one lookup, not two
        svc().guard.observe_lookup(p.client_id, req, answer, time.time())
    resp = Response(body, status=200, content_type="application/json")
    if replayed:
        resp.headers["Idempotent-Replayed"] = "true"
    return resp


@bp.post("/v1/advices")
def advices():
    _principal(service=True)
    req = parse_model(AdvicesRequest, read_json_body())
    return json_response({"results": svc().platform.advices(req.advices, time.time(), observe=_observe_advice)})


@bp.post("/v1/offline-lookups")
def offline_lookups():
    _principal(service=True)
    req = parse_model(OfflineLookupsRequest, read_json_body())
    return json_response({"results": svc().platform.offline_lookups(req.lookups, time.time(), _observe_offline)})


def _observe_offline(client_id: str, item) -> None:
    svc().guard.observe_offline(client_id, item.beneficiary_key, item.ok, item.with_card, item.at)


def _observe_advice(client_id: str, advice, verdict: dict) -> None:
    """Detection counts an offline decision as a lookup by the professional who made it."""
    model = PecRequest if advice.operation == "pec" else EligibilityRequest
    request, _ = svc().platform.advice_request(advice.request)
    try:
        req = model.model_validate(request, strict=False)
    except Exception:  # noqa: BLE001 - a malformed request was already rejected as such
        return
    ok = verdict["verdict"] != "rejected"
    answer = {"decision": "eligible" if ok else "not_eligible", "reason": verdict.get("reason"),
              "pec_number": verdict.get("pec_number")}
    try:
        svc().guard.observe_lookup(client_id, req, answer, time.time())
    except Problem:  # the account is now suspended; the batch of advices is still answered
        pass


@bp.get("/v1/keys")
def keys():
    s = svc()
    # Short max-age: a rotation must reach gateways within their refresh interval, and
    # revalidation (If-None-Match) costs a 304 only.
    return conditional(json_response(s.platform.keys.jwks(time.time()), headers={"Cache-Control": "public, max-age=60"}))


@bp.get("/v1/revocations")
def revocations():
    _principal(service=None)
    since = request.args.get("since", "0")
    if not since.isdigit() or len(since) > 12:
        raise Problem("VALIDATION_FAILED", "since must be a non-negative integer version")
    version, rows = svc().store.revocations_since(int(since))
    # private, no-cache: a gateway may keep it and revalidate with If-None-Match (304 when unchanged)
    return conditional(json_response({
        "version": version, "since": int(since), "complete": int(since) == 0,
        "cards": [r["value"] for r in rows if r["kind"] == "card"],
        "accounts": [r["value"] for r in rows if r["kind"] == "account"],
        "restored_accounts": [r["value"] for r in rows if r["kind"] == "account-restored"],
        # a reset supersedes every token of a lower credential version
        "credentials": [{"client_id": r["value"].rsplit(":", 1)[0], "version": int(r["value"].rsplit(":", 1)[1])}
                        for r in rows if r["kind"] == "credential"]}, headers={"Cache-Control": "private, no-cache"}))


@bp.get("/v1/standin-policy")
def standin_policy():
    _principal(service=None)
    s = svc()
    return json_response({"policies": [s.policies[a.number].to_json() for a in s.population.amcs]})


@bp.get("/metrics")
def metrics():
    body, content_type = render(svc().store)
    return Response(body, content_type=content_type)


@bp.get("/healthz")
def healthz():
    return json_response({"status": "ok", "contracts": svc().population.size,
                          "beneficiaries_approx": svc().settings.beneficiaries})
