"""Invoicing an offline agreement through a live gateway: once reconciled, online under the
platform's number; before, refused (default) or, with the stand-in policy for invoices
(GW_OFFLINE_INVOICES), journaled, advised and judged at reconciliation."""
from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
import requests

from tests.support.gateway_live import caches_loaded, catalogue, optician, pec, status, wait_until
from tests.support.procs import restart_platform, start_gateway, start_platform
from tiers_payant.answers import OfflineInvoice
from tiers_payant.answers import PecStatus as PecState

pytestmark = pytest.mark.integration


def post(url, path, h, payload=None, key=None):
    return requests.post(url + path, json=payload, headers={**h, "Idempotency-Key": key or uuid.uuid4().hex},
                         timeout=10)


def get(url, path, h):
    return requests.get(url + path, headers=h, timeout=5).json()


def drained(gw):
    return wait_until(lambda: (lambda s: s if s["journal"]["pending"] == 0 and s["breaker"]["state"] == "closed"
                               else None)(status(gw)), 60)


def invoice_of(agreement, number="F-1", **more):
    return {"invoice_number": number, "amo": agreement["amo"], "amc": agreement["amc"], **more}


def test_an_offline_agreement_once_reconciled_is_invoiced_online(tmp_path, journal_location):
    """Default policy (off): before reconciliation 409 PEC_PROVISIONAL; after, the J- number is
    invoiced under the platform's own number, kept from the verdict; a refused one is PEC_NOT_OPEN.
    On both journal stores (each keeps the platform's number)."""
    platform = start_platform(tmp_path)
    cases = catalogue(platform, 100)  # signed with this platform's own keys
    gateway = start_gateway(tmp_path, platform.url, journal=journal_location)
    try:
        acc, token = optician(platform)
        h = {"Authorization": "Bearer " + token}
        gw = gateway.url
        x = cases["opti-a"][10]
        assert wait_until(lambda: caches_loaded(gw), 20)
        platform.stop()
        j1 = post(gw, "/v1/pec", h, pec(x, acc)).json()
        j2 = post(gw, "/v1/pec", h, pec(x, acc)).json()  # the same glasses again: the platform will refuse it
        assert j1["pec_number"].startswith("J-") and j2["pec_number"].startswith("J-")
        early = post(gw, f"/v1/pec/{j1['pec_number']}/invoice", h, invoice_of(j1))
        assert (early.status_code, early.json()["code"]) == (409, "PEC_PROVISIONAL")

        platform = restart_platform(tmp_path, platform)
        assert drained(gw), status(gw)
        view = get(gw, f"/v1/pec/{j1['pec_number']}", h)
        number = view["reconciliation"]["pec_number"]
        assert view["reconciliation"]["verdict"] == "confirmed" and number.startswith("PEC-")
        PecState.model_validate(view)
        done = post(gw, f"/v1/pec/{j1['pec_number']}/invoice", h, invoice_of(j1))
        assert done.status_code == 200, done.text
        assert (done.json()["state"], done.json()["pec_number"], done.headers["X-Gateway-Mode"]) == \
            ("invoiced", number, "online")
        assert get(platform.url, f"/v1/pec/{number}", h)["state"] == "invoiced"  # the platform's own record
        again = post(gw, f"/v1/pec/{j1['pec_number']}/invoice", h, invoice_of(j1, "F-2"))
        assert (again.status_code, again.json()["code"]) == (409, "PEC_NOT_OPEN")
        refused = post(gw, f"/v1/pec/{j2['pec_number']}/invoice", h, invoice_of(j2))
        assert (refused.status_code, refused.json()["code"]) == (409, "PEC_NOT_OPEN")
        assert "RENEWAL_NOT_DUE" in refused.json()["detail"]
    finally:
        gateway.stop()
        platform.stop()


def test_stand_in_policy_for_invoices_journals_advises_and_is_judged(tmp_path):
    """GW_OFFLINE_INVOICES=1. Offline: J1 (X) and J2 (Y) accepted, J3 (X again: the platform will
    refuse it). An invoice above J1's agreement is refused 422 and journals nothing; at the agreed
    amounts it is journaled and answered provisional; its repeat finds it; another invoice or a
    cancellation of J1 is PEC_NOT_OPEN. J3 is invoiced offline too. At reconciliation: J1's invoice
    confirmed (the platform's agreement is invoiced, its reservation consumed), J3's rejected with
    the agreement's own refusal; exposure = J3's AMC (delivered under an agreement refused)."""
    platform = start_platform(tmp_path)
    cases = catalogue(platform, 100)
    gateway = start_gateway(tmp_path, platform.url, env={"GW_OFFLINE_INVOICES": "1"})
    try:
        acc, token = optician(platform)
        h = {"Authorization": "Bearer " + token}
        gw = gateway.url
        x, y = cases["opti-a"][11], cases["opti-a"][12]
        assert wait_until(lambda: caches_loaded(gw), 20)
        platform.stop()
        j1, j2, j3 = (post(gw, "/v1/pec", h, pec(c, acc)).json() for c in (x, y, x))
        assert all(j["decision"] == "accepted" for j in (j1, j2, j3))
        recorded = status(gw)["journal"]["recorded"]
        above = post(gw, f"/v1/pec/{j1['pec_number']}/invoice", h,
                     invoice_of(j1, amc=str(Decimal(j1["amc"]) + Decimal("0.06"))))  # tolerance 0.05
        assert (above.status_code, above.json()["code"]) == (422, "INVOICE_ABOVE_AGREEMENT")
        assert status(gw)["journal"]["recorded"] == recorded
        first = post(gw, f"/v1/pec/{j1['pec_number']}/invoice", h, invoice_of(j1))
        assert first.status_code == 200, first.text
        inv = OfflineInvoice.model_validate(first.json())
        assert (inv.state, inv.provisional, inv.invoice["amc"]) == ("invoiced", True, j1["amc"])
        assert first.headers["X-Gateway-Mode"] == "offline"
        repeat = post(gw, f"/v1/pec/{j1['pec_number']}/invoice", h, invoice_of(j1))
        assert repeat.json()["journal_reference"] == inv.journal_reference
        other = post(gw, f"/v1/pec/{j1['pec_number']}/invoice", h, invoice_of(j1, "F-OTHER"))
        assert (other.status_code, other.json()["code"]) == (409, "PEC_NOT_OPEN")
        cancel = post(gw, f"/v1/pec/{j1['pec_number']}/cancel", h)
        assert (cancel.status_code, cancel.json()["code"]) == (409, "PEC_NOT_OPEN")
        view = get(gw, f"/v1/pec/{j1['pec_number']}", h)
        assert view["state"] == "invoiced" and view["invoice"]["state"] == "pending"
        PecState.model_validate(view)
        assert post(gw, f"/v1/pec/{j3['pec_number']}/invoice", h, invoice_of(j3)).status_code == 200
        assert status(gw)["journal"]["recorded"] == recorded + 2  # two invoices; the refusals journal nothing

        platform = restart_platform(tmp_path, platform)
        st = drained(gw)
        assert st, status(gw)
        rec = st["reconciliation"]
        # J1, J2 and J1's invoice confirmed; J3 (renewal not due) and its invoice rejected
        assert (rec["confirmed"], rec["rejected"]) == (3, 2), rec
        assert rec["exposure_eur"] == j3["amc"]
        v1 = get(gw, f"/v1/pec/{j1['pec_number']}", h)
        assert v1["invoice"]["verdict"] == "confirmed"
        number = v1["reconciliation"]["pec_number"]
        platform_view = get(platform.url, f"/v1/pec/{number}", h)
        assert platform_view["state"] == "invoiced" and platform_view["invoice"]["amc"] == j1["amc"]
        v3 = get(gw, f"/v1/pec/{j3['pec_number']}", h)
        assert (v3["invoice"]["verdict"], v3["invoice"]["reason"]) == ("rejected", "RENEWAL_NOT_DUE")
        assert v3["state"] == "rejected"  # its invoice refused with it: not invoiced
        retry = post(gw, f"/v1/pec/{j3['pec_number']}/invoice", h, invoice_of(j3, "F-3"))
        assert (retry.status_code, retry.json()["code"]) == (409, "PEC_NOT_OPEN")  # nothing agreed to invoice
        # Y's agreement was not invoiced offline: once reconciled it is invoiced online
        assert post(gw, f"/v1/pec/{j2['pec_number']}/invoice", h, invoice_of(j2)).json()["state"] == "invoiced"
    finally:
        gateway.stop()
        platform.stop()
