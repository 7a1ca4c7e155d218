"""Control API routes for account security (control port only, admin token).

    GET  /v1/alerts?since=<id>                       alerts, oldest first (suspensions, re-enables, resets)
    GET  /v1/accounts/<client_id>                    state and lookup summary of one account
    POST /v1/accounts/<client_id>/suspend            manual suspension (support, demos)
    POST /v1/accounts/<client_id>/enable             lift a suspension
    POST /v1/accounts/<client_id>/reset-credentials  new secret (returned once) and credential version

The blueprint's name starts with `control_`, so `simulator/control.py` serves it on the
control port only and checks the admin token first; `require_admin()` is called again
here so the routes stay closed even if that dispatch changes.

`GET /v1/accounts/<id>` is what the `phished-account` load scenario reads: `suspended_at`,
`lookups_until_suspension` and `distinct_beneficiaries_answered` (how many people the
account was answered about; with proof of possession, only those whose card, NIR and
birth date it already held).

Revocation deltas: a re-enabled account leaves the full list (`since=0`) at once, and an
`account-restored` marker bumps the version; `GET /v1/revocations?since=N` does not list
restorations yet, so a gateway learns of one at its next full refresh.
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app, request

from tiers_payant.httpkit import json_response
from tiers_payant.problems import Problem

from ..accounts import known_account
from .detection import Verdict
from .suspension import account_report, alerts, enable, reset_credentials, suspend

bp = Blueprint("control_security", __name__)


def _services():
    return current_app.extensions["platform"]


@bp.before_request
def _admin_only() -> None:
    from ..control import control_port_admin_only  # late: control imports this package's blueprints
    control_port_admin_only()


def _known(client_id: str) -> str:
    s = _services().settings
    if len(client_id) > 64 or known_account(s.seed, client_id, s.accounts) is None:
        raise Problem("NOT_FOUND", "no such account")
    return client_id


@bp.get("/v1/alerts")
def list_alerts():
    since = request.args.get("since", "0")
    if not since.isdigit() or len(since) > 12:
        raise Problem("VALIDATION_FAILED", "since must be a non-negative integer alert id")
    return json_response({"alerts": alerts(_services().store, int(since))})


@bp.get("/v1/accounts/<client_id>")
def get_account(client_id: str):
    return json_response(account_report(_services().store, _known(client_id)))


@bp.post("/v1/accounts/<client_id>/suspend")
def suspend_account(client_id: str):
    store = _services().store
    with store.tx() as db:
        suspend(db, _known(client_id), Verdict("manual", "suspended through the control API"), time.time())
    return json_response(account_report(store, client_id))


@bp.post("/v1/accounts/<client_id>/enable")
def enable_account(client_id: str):
    store = _services().store
    enable(store, _known(client_id), time.time())
    return json_response(account_report(store, client_id))


@bp.post("/v1/accounts/<client_id>/reset-credentials")
def reset_account_credentials(client_id: str):
    answer = reset_credentials(_services().store, _known(client_id), time.time())
    return json_response(answer, headers={"Cache-Control": "no-store"})
