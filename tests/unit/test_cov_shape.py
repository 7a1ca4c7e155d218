"""Quote shape: one frame, one lens per eye, one hearing aid per ear, classes as the codes say."""
from datetime import date
from decimal import Decimal as D

import pytest

from tiers_payant.coverage import QuoteLine, shape_problems
from tiers_payant.parsing import parse_model
from tiers_payant.pec_request import check_pec_request
from tiers_payant.problems import Problem
from tiers_payant.schemas import PecRequest
from tiers_payant.tokens import Principal

ON = date(2025, 6, 15)


def ln(code, cls, side=None, qty=1):
    return QuoteLine(code, cls, side, D(100), qty)


@pytest.mark.parametrize("domain, lines, bad, fragment", [
    ("OPTI", [ln("OPT-A-FRAME", "A"), ln("OPT-B-FRAME", "B")], 1, "one frame"),
    ("OPTI", [ln("OPT-A-FRAME", "A", qty=2)], 0, "one frame"),
    ("OPTI", [ln("OPT-B-LENS-SIMPLE", "B", "right"), ln("OPT-B-LENS-COMPLEX", "B", "right")], 1, "one lens per eye"),
    ("AUDI", [ln("AUD-I-ADULT", "I", "left"), ln("AUD-I-ADULT", "I", "left")], 1, "one hearing aid per ear"),
    ("AUDI", [ln("AUD-II-ADULT", "II", "right", 2)], 0, "one hearing aid per ear"),
    ("OPTI", [ln("OPT-A-FRAME", "B")], 0, "classe A"),
])
def test_shape_problems(domain, lines, bad, fragment):
    """Two aids on one ear used to be accepted with AMO 2 x 240 = 480: now one problem on the second."""
    problems = shape_problems(domain, lines)
    assert len(problems) == 1 and problems[0][0] == bad and fragment in problems[0][1]


def test_a_full_equipment_has_no_shape_problem():
    lines = [ln("OPT-B-FRAME", "B"), ln("OPT-A-LENS-SIMPLE", "A", "right"), ln("OPT-B-LENS-SIMPLE", "B", "left")]
    assert shape_problems("OPTI", lines) == []
    assert shape_problems("AUDI", [ln("AUD-I-ADULT", "I", "right"), ln("AUD-II-ADULT", "II", "left")]) == []


def body(lines, **extra):
    return {"card": "x", "beneficiary": {"nir": "160070514163477", "birth_date": "1980-03-01", "birth_rank": 1},
            "domain": "AUDI", "professional": {"rpps": "10000000000", "profession": "26"}, "lines": lines, **extra}


PRO = Principal("c1", "10000000000", "26", 0, 0.0)
AID = {"code": "AUD-I-ADULT", "class": "I", "ear": "left", "price": "950.00", "quantity": 1}


def test_request_check_names_the_shape_problem_with_its_code():
    import json
    req = parse_model(PecRequest, json.dumps(body([AID, AID])).encode())
    with pytest.raises(Problem) as exc:
        check_pec_request(req, PRO, ON)
    doc = exc.value.to_dict()
    assert (doc["status"], doc["code"]) == (422, "QUOTE_SHAPE_INVALID")
    assert doc["errors"][0]["path"] == "/lines/1" and doc["errors"][0]["code"] == "QUOTE_SHAPE_INVALID"


def test_request_check_refuses_a_prescription_after_the_care_and_old_requests_still_parse():
    import json
    req = parse_model(PecRequest, json.dumps(body([AID], prescription_date="2025-06-16")).encode())
    with pytest.raises(Problem) as exc:
        check_pec_request(req, PRO, ON)
    assert exc.value.code == "VALIDATION_FAILED" and exc.value.errors[0].path == "/prescription_date"
    old = parse_model(PecRequest, json.dumps(body([AID])).encode())  # no new field: as before
    assert old.renewal is None and old.amo_regime is None and len(check_pec_request(old, PRO, ON)) == 1
    new = parse_model(PecRequest, json.dumps(body([AID], prescriber="ent", amo_regime="alsace_moselle",
                                                  renewal={"correction_change_right": "0.50"})).encode())
    assert new.renewal.correction_change_right == D("0.50")
