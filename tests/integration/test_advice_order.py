"""An offline cancellation or invoice that reaches the platform before the advice of its
agreement (two drain batches in flight) is answered `pending` and stored nowhere; sent again
after the agreement's advice, it is judged."""
from __future__ import annotations

import time
import uuid

import pytest

from tests.integration.test_advice_trust import pec_advice, post
from tests.support.procs import accounts, cards, login, start_platform

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    p = start_platform(tmp_path_factory.mktemp("order"))
    yield p
    p.stop()


def life_advice(operation: str, original: dict, token: str, request: dict) -> dict:
    return {"advice_id": uuid.uuid4().hex, "operation": operation, "at": time.time(), "cause": "unreachable",
            "reference": "J-" + uuid.uuid4().hex[:16], "amc_eur": "0.00", "token": token,
            "request": {"pec_advice_id": original["advice_id"], **request}}


def test_a_dependent_advice_before_its_agreement_waits(platform):
    me = next(a for a in accounts(platform, 8) if a["profession"] == "28")
    token = login(platform.url, me["client_id"], me["client_secret"])
    case = [c for c in cards(platform, 60) if c["case"] == "opti-a"][5]
    agreement = pec_advice(case, me, token)
    invoice = life_advice("invoice", agreement, token,
                          {"invoice": {"invoice_number": "F-1", "amo": "0.00", "amc": case["expect_pec"]["amc"]}})
    cancel = life_advice("cancel", agreement, token, {"reason": "abandoned"})
    for early in (invoice, cancel):
        first = post(platform, early)
        assert (first["verdict"], first["reason"]) == ("pending", "AGREEMENT_NOT_JUDGED_YET")
        assert post(platform, early)["duplicate"] is False  # not stored: judged afresh next time
    judged = post(platform, agreement)
    assert judged["verdict"] == "confirmed" and judged["pec_number"].startswith("PEC-")
    assert judged["platform_amc_eur"] == case["expect_pec"]["amc"]  # the invoice asks exactly that
    done = post(platform, invoice)
    assert (done["verdict"], done["pec_number"]) == ("confirmed", judged["pec_number"])
    late = post(platform, cancel)  # the agreement was invoiced meanwhile: too late to cancel it
    assert (late["verdict"], late["reason"]) == ("rejected", "PEC_NOT_OPEN")
