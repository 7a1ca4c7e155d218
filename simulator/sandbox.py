"""Sandbox controls: put the mutable state back as a fresh state directory has it.

The population is a pure function of the seed; what integrators use up is stored: PECs and
the consumption they record (after one PEC, the same equipment is `RENEWAL_NOT_DUE` for
years), suspensions and the lookup window that leads to them. `POST /v1/sandbox/reset` on
the control port (and `python -m simulator sandbox reset`) clears those, so every catalogue
case answers its `expect` again. Kept: the seeded card revocations (part of the catalogue),
fault plans (their own control), alerts and counters (history), and received advices (a
gateway's replay must stay a duplicate, never be judged twice).
"""
from __future__ import annotations

import time

from flask import Blueprint, current_app

from tiers_payant.httpkit import json_response

from .security.suspension import enable

bp = Blueprint("control_sandbox", __name__)  # a control_* blueprint: control port and admin token only


def reset(store, now: float) -> dict:
    suspended = [r["client_id"] for r in store.query("SELECT client_id FROM accounts WHERE suspended_at IS NOT NULL")]
    enabled = sum(enable(store, client_id, now) for client_id in suspended)  # publishes each restore to gateways
    with store.tx() as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        pecs = db.execute("DELETE FROM pecs").rowcount
        consumption = db.execute("DELETE FROM consumption").rowcount
        # an agreement's reservation, life and history go with it; so do the answers stored
        # under Idempotency-Keys, which would otherwise replay an agreement that is gone
        reservations = db.execute("DELETE FROM reservations").rowcount if "reservations" in tables else 0
        for table in ("pec_life", "pec_events", "idempotency"):
            if table in tables:
                db.execute(f"DELETE FROM {table}")
        lookups = db.execute("DELETE FROM lookups").rowcount
    return {"pecs_deleted": pecs, "consumption_deleted": consumption, "reservations_deleted": reservations,
            "accounts_enabled": enabled, "lookups_deleted": lookups}


@bp.post("/v1/sandbox/reset")
def reset_route():
    return json_response(reset(current_app.extensions["platform"].store, time.time()))
