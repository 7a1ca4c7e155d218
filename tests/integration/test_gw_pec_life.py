"""The PEC's life through a live gateway: relayed online; offline, cotation from the card,
cancellations journaled, advised and judged, invoices refused; exposure after reconciliation."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import requests

from tests.support.gateway_live import caches_loaded, catalogue, optician, pec, status, wait_until
from tests.support.procs import restart_platform, start_gateway, start_platform
from tiers_payant.model import paris_day
from tiers_payant.answers import PecStatus as PecState

pytestmark = pytest.mark.integration


def post(url, path, h, payload=None):
    return requests.post(url + path, json=payload, headers={**h, "Idempotency-Key": uuid.uuid4().hex}, timeout=10)


def test_life_cycle_relayed_online(tmp_path):
    platform = start_platform(tmp_path, env={"SIM_PEC_VALIDITY_DAYS": "3"})
    cases = catalogue(platform, 100)  # signed with this platform's own keys
    gateway = start_gateway(tmp_path, platform.url)
    try:
        acc, token = optician(platform)
        h = {"Authorization": "Bearer " + token}
        gw = gateway.url
        case = cases["opti-a"][0]
        quote = post(gw, "/v1/quotes", h, pec(case, acc)).json()
        assert (quote["mode"], quote["decision"], quote["pec_number"]) == ("online", "accepted", None)
        first = post(gw, "/v1/pec", h, pec(case, acc)).json()
        assert first["decision"] == "accepted" and first["amc"] == quote["amc"]  # the cotation reserved nothing
        assert post(gw, "/v1/pec", h, pec(case, acc)).json()["reason"] == "RENEWAL_NOT_DUE"
        cancelled = post(gw, f"/v1/pec/{first['pec_number']}/cancel", h, {"reason": "abandoned"})
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        assert cancelled.headers["X-Gateway-Mode"] == "online"
        second = post(gw, "/v1/pec", h, pec(case, acc)).json()
        assert second["decision"] == "accepted"  # freed
        above = post(gw, f"/v1/pec/{second['pec_number']}/invoice", h,
                     {"invoice_number": "F-1", "amo": second["amo"], "amc": str(Decimal(second["amc"]) + 1)})
        assert (above.status_code, above.json()["code"]) == (422, "INVOICE_ABOVE_AGREEMENT")
        done = post(gw, f"/v1/pec/{second['pec_number']}/invoice", h,
                    {"invoice_number": "F-1", "amo": second["amo"], "amc": second["amc"]})
        assert done.status_code == 200 and done.json()["state"] == "invoiced"
        assert post(gw, "/v1/pec", h, pec(case, acc)).json()["reason"] == "RENEWAL_NOT_DUE"  # consumed
        other = cases["opti-a"][1]
        today = paris_day(time.time())
        old = post(gw, "/v1/pec", h, {**pec(other, acc), "date": (today - timedelta(days=5)).isoformat()}).json()
        got = requests.get(gw + f"/v1/pec/{old['pec_number']}", headers=h, timeout=5).json()
        assert (got["state"], got["mode"]) == ("expired", "online")
        assert post(gw, "/v1/pec", h, pec(other, acc)).json()["decision"] == "accepted"  # the expired one freed it
    finally:
        gateway.stop()
        platform.stop()


def test_offline_cotation_cancellations_and_invoices_then_reconciliation(tmp_path, journal_location):
    """On both journal stores (SQLite, PostgreSQL)."""
    platform = start_platform(tmp_path)
    cases = catalogue(platform, 100)  # signed with this platform's own keys
    gateway = start_gateway(tmp_path, platform.url, journal=journal_location)
    try:
        acc, token = optician(platform)
        h = {"Authorization": "Bearer " + token}
        gw = gateway.url
        x, y, z = cases["opti-a"][2], cases["opti-a"][3], cases["opti-a"][4]
        assert wait_until(lambda: caches_loaded(gw), 20)
        online = post(gw, "/v1/pec", h, pec(x, acc)).json()
        assert online["mode"] == "online" and online["decision"] == "accepted"

        platform.stop()  # the outage
        quote = post(gw, "/v1/quotes", h, pec(z, acc)).json()
        assert (quote["mode"], quote["provisional"], quote["pec_number"]) == ("offline", True, None)
        assert quote["decision"] == "accepted" and status(gw)["journal"]["recorded"] == 0  # nothing journaled

        cancel_online = post(gw, f"/v1/pec/{online['pec_number']}/cancel", h, {"reason": "quote_changed"}).json()
        assert (cancel_online["state"], cancel_online["provisional"]) == ("cancelled", True)
        j1 = post(gw, "/v1/pec", h, pec(x, acc)).json()  # X again: fine once the cancellation is judged first
        j2 = post(gw, "/v1/pec", h, pec(y, acc)).json()
        j3 = post(gw, "/v1/pec", h, pec(x, acc)).json()  # X a third time: the platform will refuse it
        assert all(j["decision"] == "accepted" and j["pec_number"].startswith("J-") for j in (j1, j2, j3))
        refs = []
        for j in (j2, j3):
            c = post(gw, f"/v1/pec/{j['pec_number']}/cancel", h)
            assert c.status_code == 200 and c.json()["journal_reference"].startswith("J-")
            refs.append(c.json()["journal_reference"])
        again = post(gw, f"/v1/pec/{j2['pec_number']}/cancel", h).json()  # a repeat finds the first
        assert again["journal_reference"] == refs[0]
        view = requests.get(gw + f"/v1/pec/{j2['pec_number']}", headers=h, timeout=5).json()
        assert view["state"] == "cancelled" and view["cancellation"]["state"] == "pending"
        PecState.model_validate(view)  # the documented shape, offline too

        provisional = post(gw, f"/v1/pec/{j1['pec_number']}/invoice", h,
                           {"invoice_number": "F-9", "amo": j1["amo"], "amc": j1["amc"]})
        assert (provisional.status_code, provisional.json()["code"]) == (409, "PEC_PROVISIONAL")
        unreachable = post(gw, f"/v1/pec/{online['pec_number']}/invoice", h,
                           {"invoice_number": "F-9", "amo": online["amo"], "amc": online["amc"]})
        assert (unreachable.status_code, unreachable.json()["code"]) == (503, "PLATFORM_UNAVAILABLE")
        recorded = status(gw)["journal"]["recorded"]
        assert recorded == 6  # 3 cancellations + 3 PECs; the cotation and the invoices none
        if journal_location.startswith("postgresql://"):
            with psycopg.connect(journal_location) as db:
                at_rest = "".join(r[0] for r in db.execute("SELECT payload::text FROM offline_entry")).encode()
        else:
            at_rest = b"".join(f.read_bytes() for f in Path(journal_location).parent.glob("journal.sqlite*"))
        assert token.encode() not in at_rest  # sealed for cancellations as for PECs: no bearer token in clear

        platform = restart_platform(tmp_path, platform)
        st = wait_until(lambda: (lambda s: s if s["journal"]["pending"] == 0 and s["breaker"]["state"] == "closed"
                                 else None)(status(gw)), 60)
        assert st, status(gw)
        rec = st["reconciliation"]
        # cancel(online) freed X, so J1 is confirmed; J3 is refused (J1 holds X) but was cancelled: no exposure
        assert (rec["confirmed"], rec["rejected"], rec["cancelled"]) == (5, 1, 3), rec
        assert rec["exposure_eur"] == "0.00"
        state = requests.get(gw + f"/v1/pec/{online['pec_number']}", headers=h, timeout=5).json()
        assert state["state"] == "cancelled" and state["history"][-1]["detail"]["reason"] == "quote_changed"
        j2_view = requests.get(gw + f"/v1/pec/{j2['pec_number']}", headers=h, timeout=5).json()
        assert j2_view["cancellation"]["verdict"] == "confirmed"
        j3_view = requests.get(gw + f"/v1/pec/{j3['pec_number']}", headers=h, timeout=5).json()
        assert j3_view["reconciliation"]["verdict"] == "rejected" and j3_view["state"] == "cancelled"
        PecState.model_validate(state)
        # Y's offline agreement was cancelled at the platform: Y can be asked again, online
        assert post(gw, "/v1/pec", h, pec(y, acc)).json()["decision"] == "accepted"
    finally:
        gateway.stop()
        platform.stop()
