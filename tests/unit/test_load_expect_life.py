"""Expected outcomes of the PEC's life in load runs: cotation, cancellation, invoice."""
from loadtests.expect import Answer, check_life

CASE = {"case": "opti-a", "expect": {"decision": "eligible", "reason": None},
        "expect_pec": {"decision": "accepted", "reason": None, "amc": "80.60"}}
QUOTE = {"decision": "accepted", "reason": None, "pec_number": None, "amc": "80.60", "mode": "online"}


def ok(op, status, body, phase="healthy", number=""):
    return check_life(CASE, Answer(op, status, body), phase, number)[0]


def test_cotation_is_judged_as_the_pec_and_records_nothing_offline():
    assert ok("quote", 200, QUOTE)
    assert not ok("quote", 200, {**QUOTE, "amc": "10.00"})  # wrong amount
    assert not ok("quote", 200, {**QUOTE, "pec_number": "PEC-1"})  # a cotation is no agreement
    offline = {**QUOTE, "mode": "offline", "provisional": True, "journal_reference": None}
    assert ok("quote", 200, offline, "outage") and not ok("quote", 200, offline, "healthy")
    assert not ok("quote", 200, {**offline, "journal_reference": "J-1"}, "outage")  # recorded: wrong


def test_cancel_and_invoice():
    assert ok("cancel", 200, {"state": "cancelled", "mode": "online"})
    assert not ok("cancel", 200, {"state": "accepted", "mode": "online"})
    assert ok("cancel", 200, {"state": "cancelled", "mode": "offline", "provisional": True,
                              "journal_reference": "J-2"}, "outage")
    assert not ok("cancel", 200, {"state": "cancelled", "mode": "offline", "provisional": True}, "outage")
    assert ok("invoice", 200, {"state": "invoiced", "mode": "online"})
    assert not ok("invoice", 422, {"code": "INVOICE_ABOVE_AGREEMENT"})
    assert ok("invoice", 409, {"code": "PEC_PROVISIONAL"}, "healthy", "J-3")  # offline agreement: any phase
    # an offline agreement once reconciled is invoiced online under the platform's number; refused: PEC_NOT_OPEN
    assert ok("invoice", 200, {"state": "invoiced", "mode": "online"}, "recovering", "J-3")
    assert ok("invoice", 409, {"code": "PEC_NOT_OPEN"}, "healthy", "J-3")
    assert ok("invoice", 503, {"code": "PLATFORM_UNAVAILABLE"}, "outage", "J-3")  # reconciled, then down again
    assert not ok("invoice", 409, {"code": "IDEMPOTENCY_IN_PROGRESS"}, "outage", "J-3")
    # the stand-in policy for invoices: journaled and provisional, or it is wrong
    assert ok("invoice", 200, {"state": "invoiced", "mode": "offline", "provisional": True,
                               "journal_reference": "J-4"}, "outage", "J-3")
    assert not ok("invoice", 200, {"state": "invoiced", "mode": "offline", "provisional": True}, "outage", "J-3")
    assert ok("invoice", 503, {"code": "PLATFORM_UNAVAILABLE"}, "outage", "PEC-1")
    assert not ok("invoice", 503, {"code": "PLATFORM_UNAVAILABLE"}, "healthy", "PEC-1")
