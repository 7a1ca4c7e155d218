"""The PEC's life on a live platform: cotation, reservation, cancellation, invoicing, expiry.

Expiry without sleeping: the platform runs with a 3-day validity and an agreement is asked
for a care date 5 days ago, so its `expires_on` is already behind the platform's today.
"""
from __future__ import annotations

import json
import sqlite3
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import requests

from tests.support.procs import accounts, cards, login, start_platform
from tiers_payant.model import paris_day
from tiers_payant.answers import PecStatus as PecState
from tiers_payant.schemas import PecAnswer

pytestmark = pytest.mark.integration
VALIDITY_DAYS = 3


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    proc = start_platform(tmp_path_factory.mktemp("life"), env={"SIM_RATE_PER_S": "0",
                                                                "SIM_PEC_VALIDITY_DAYS": str(VALIDITY_DAYS)})
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def pro(platform):
    accs = {a["profession"]: a for a in accounts(platform, 3)}
    return {p: (a, {"Authorization": "Bearer " + login(platform.url, a["client_id"], a["client_secret"])})
            for p, a in accs.items()}


@pytest.fixture(scope="module")
def catalogue(platform):
    return cards(platform, 120)


def case_of(catalogue, kind, n):
    return [c for c in catalogue if c["case"] == kind][n]


def body(case, acc, **extra):
    return {"card": case["card"], "beneficiary": case["beneficiary"], "domain": case["domain"],
            "professional": {"rpps": acc["rpps"], "profession": acc["profession"]},
            "lines": case["quote"]["lines"], **extra}


def post(platform, path, headers, payload=None, key=True):
    h = {**headers, **({"Idempotency-Key": uuid.uuid4().hex} if key else {})}
    return requests.post(platform.url + path, json=payload, headers=h, timeout=10)


def rows(platform):
    db = sqlite3.connect(f"file:{platform.extra['state']}/platform.sqlite?mode=ro", uri=True)
    try:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("pecs", "reservations", "consumption", "pec_life", "pec_events")}
    finally:
        db.close()


def test_cotation_records_nothing_and_prices_as_the_pec(platform, pro, catalogue):
    acc, h = pro["26"]
    case = case_of(catalogue, "audi-i", 0)
    before = rows(platform)
    quotes = [post(platform, "/v1/quotes", h, body(case, acc), key=False) for _ in range(2)]
    assert [q.status_code for q in quotes] == [200, 200]
    q = PecAnswer.model_validate(quotes[0].json())
    assert (q.decision, q.pec_number, q.expires_on) == ("accepted", None, None)
    assert rows(platform) == before  # nothing reserved, nothing recorded
    pec = post(platform, "/v1/pec", h, body(case, acc)).json()
    assert pec["decision"] == "accepted" and pec["pec_number"]  # the cotations reserved nothing
    assert [(x["amo"], x["amc"], x["patient"]) for x in pec["lines"]] == \
        [(x.amo, x.amc, x.patient) for x in q.lines] and pec["amc"] == case["expect_pec"]["amc"]
    after = rows(platform)
    assert (after["pecs"], after["reservations"], after["consumption"]) == \
        (before["pecs"] + 1, before["reservations"] + 2, before["consumption"])  # two ears reserved
    again = post(platform, "/v1/quotes", h, body(case, acc), key=False).json()
    assert again["decision"] == "refused" and again["reason"] == "RENEWAL_NOT_DUE"  # the reservation counts


def test_pec_then_cancel_frees_the_renewal(platform, pro, catalogue):
    acc, h = pro["28"]
    case = case_of(catalogue, "opti-a", 0)
    first = post(platform, "/v1/pec", h, body(case, acc)).json()
    assert first["decision"] == "accepted"
    assert post(platform, "/v1/pec", h, body(case, acc)).json()["reason"] == "RENEWAL_NOT_DUE"
    key = {**h, "Idempotency-Key": uuid.uuid4().hex}
    url = f"{platform.url}/v1/pec/{first['pec_number']}/cancel"
    cancelled = requests.post(url, json={"reason": "abandoned"}, headers=key, timeout=10)
    assert cancelled.status_code == 200, cancelled.text
    state = PecState.model_validate(cancelled.json())
    assert state.state == "cancelled" and [e.event for e in state.history] == ["accepted", "cancelled"]
    replay = requests.post(url, json={"reason": "abandoned"}, headers=key, timeout=10)
    assert replay.content == cancelled.content and replay.headers["Idempotent-Replayed"] == "true"
    reused = requests.post(url, json={"reason": "error"}, headers=key, timeout=10)  # the key, another payload
    assert (reused.status_code, reused.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    elsewhere = requests.post(url.replace("/cancel", "/invoice"), json={"reason": "abandoned"}, headers=key, timeout=10)
    assert elsewhere.status_code == 422  # the key on another operation: refused before anything
    assert requests.post(url, headers=h, timeout=10).json()["state"] == "cancelled"  # no body, twice: harmless
    second = post(platform, "/v1/pec", h, body(case, acc)).json()
    assert second["decision"] == "accepted" and second["amc"] == first["amc"]  # freed
    inv = post(platform, f"/v1/pec/{first['pec_number']}/invoice", h,
               {"invoice_number": "F-1", "amo": first["amo"], "amc": first["amc"]})
    assert (inv.status_code, inv.json()["code"]) == (409, "PEC_NOT_OPEN")
    other_acc, other_h = pro["26"]
    assert requests.get(f"{platform.url}/v1/pec/{second['pec_number']}", headers=other_h, timeout=5).status_code == 404
    assert post(platform, f"/v1/pec/{second['pec_number']}/cancel", other_h, {}).status_code == 404


def test_pec_then_invoice_records_the_consumption(platform, pro, catalogue):
    acc, h = pro["26"]
    case = case_of(catalogue, "audi-i", 1)
    pec = post(platform, "/v1/pec", h, body(case, acc)).json()
    assert pec["decision"] == "accepted", pec
    n = pec["pec_number"]
    before = rows(platform)
    above = post(platform, f"/v1/pec/{n}/invoice", h,
                 {"invoice_number": "F-2", "amo": pec["amo"], "amc": str(Decimal(pec["amc"]) + Decimal("0.06"))})
    assert (above.status_code, above.json()["code"]) == (422, "INVOICE_ABOVE_AGREEMENT")
    assert above.json()["errors"][0]["path"] == "/amc"
    early = post(platform, f"/v1/pec/{n}/invoice", h, {"invoice_number": "F-2", "amo": pec["amo"], "amc": pec["amc"],
                                                       "delivered_on": "2000-01-01"})
    assert (early.status_code, early.json()["code"]) == (422, "INVOICE_OUTSIDE_VALIDITY")
    assert rows(platform) == before  # refused invoices change nothing
    key = {**h, "Idempotency-Key": uuid.uuid4().hex}
    payload = {"invoice_number": "F-2", "amo": pec["amo"], "amc": str(Decimal(pec["amc"]) + Decimal("0.05"))}  # the tolerance
    done = requests.post(f"{platform.url}/v1/pec/{n}/invoice", json=payload, headers=key, timeout=10)
    assert done.status_code == 200, done.text
    state = PecState.model_validate(done.json())
    assert state.state == "invoiced" and state.invoice["invoice_number"] == "F-2"
    assert requests.post(f"{platform.url}/v1/pec/{n}/invoice", json=payload, headers=key, timeout=10).json() == \
        done.json()  # a replay answers the same, records nothing more
    after = rows(platform)
    assert (after["consumption"], after["reservations"]) == (before["consumption"] + 2, before["reservations"] - 2)
    assert post(platform, f"/v1/pec/{n}/cancel", h, {}).json()["code"] == "PEC_NOT_OPEN"
    assert post(platform, f"/v1/pec/{n}/invoice", h, payload).json()["code"] == "PEC_NOT_OPEN"
    assert post(platform, "/v1/pec", h, body(case, acc)).json()["reason"] == "RENEWAL_NOT_DUE"  # consumed
    got = requests.get(f"{platform.url}/v1/pec/{n}", headers=h, timeout=5).json()
    assert [e["event"] for e in got["history"]] == ["accepted", "invoiced"] and got["status"] == "closed"


def test_an_expired_pec_frees_its_reservation(platform, pro, catalogue):
    acc, h = pro["28"]
    case = case_of(catalogue, "opti-b", 0)
    today = paris_day(time.time())
    old = post(platform, "/v1/pec", h, body(case, acc, date=(today - timedelta(days=5)).isoformat())).json()
    assert old["decision"] in ("accepted", "partial") and old["expires_on"] == \
        (today - timedelta(days=5 - VALIDITY_DAYS)).isoformat()
    state = requests.get(f"{platform.url}/v1/pec/{old['pec_number']}", headers=h, timeout=5).json()
    assert state["state"] == "expired" and state["status"] == "expired"
    assert [(e["event"], e["at"]) for e in state["history"]][1] == \
        ("expired", (today - timedelta(days=5 - VALIDITY_DAYS - 1)).isoformat())
    fresh = post(platform, "/v1/pec", h, body(case, acc)).json()
    assert fresh["decision"] == old["decision"] and fresh["amc"] == old["amc"]  # not RENEWAL_NOT_DUE
    late = post(platform, f"/v1/pec/{old['pec_number']}/invoice", h,
                {"invoice_number": "F-3", "amo": old["amo"], "amc": old["amc"]})
    assert (late.status_code, late.json()["code"]) == (409, "PEC_NOT_OPEN")
    # an open agreement, by contrast, still holds: a second one is refused
    assert post(platform, "/v1/pec", h, body(case, acc)).json()["reason"] == "RENEWAL_NOT_DUE"


def test_openapi_documents_the_life_cycle(platform):
    spec = requests.get(platform.url + "/openapi.json", timeout=5).json()
    for path in ("/v1/quotes", "/v1/pec/{pec_number}/cancel", "/v1/pec/{pec_number}/invoice"):
        assert path in spec["paths"]
    assert {"PecStatus", "CancelIn", "InvoiceIn"} <= set(spec["components"]["schemas"])
    assert "PEC_NOT_OPEN" in json.dumps(spec["paths"]["/v1/pec/{pec_number}/cancel"])


def test_territory_prices_an_overseas_delivery_and_an_unknown_one_is_refused(platform, pro, catalogue):
    """An audi-i case (two classe I aids at 950) priced for La Réunion (974, coefficient 1.20, an
    assumption): AMO 60 % x 480 = 288 per ear, so AMO 576 and the AMC the rest of 1,900 at most;
    in metropolitan France AMO 480. An unknown territory is a 422 VALIDATION_FAILED on /territory."""
    acc, h = pro["26"]
    case = case_of(catalogue, "audi-i", 2)  # one no other test here uses
    home = post(platform, "/v1/quotes", h, body(case, acc), key=False).json()
    away = post(platform, "/v1/quotes", h, body(case, acc, territory="974"), key=False).json()
    assert (home["amo"], away["amo"]) == ("480.00", "576.00")
    assert Decimal(away["amo"]) + Decimal(away["amc"]) + Decimal(away["patient"]) == Decimal("1900.00")
    bad = post(platform, "/v1/quotes", h, body(case, acc, territory="975"), key=False)
    assert bad.status_code == 422 and bad.json()["code"] == "VALIDATION_FAILED"
    assert any(e["path"] == "/territory" for e in bad.json()["errors"])
