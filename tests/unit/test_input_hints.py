"""Amounts are decimal strings only, and errors hint at the slips people typically make."""
from __future__ import annotations

import json

import pytest

from tiers_payant.parsing import check_content_type, parse_model
from tiers_payant.problems import Problem
from tiers_payant.schemas import PecRequest

NIR = "160070514163477"


def _body(nir: str = NIR, price: object = "30.00") -> bytes:
    return json.dumps({"card": "x", "beneficiary": {"nir": nir, "birth_date": "1960-07-01", "birth_rank": 1},
                       "domain": "OPTI", "professional": {"rpps": "10000000000", "profession": "28"},
                       "lines": [{"code": "OPT-A-FRAME", "class": "A", "price": price, "quantity": 1}]}).encode()


def _problem(raw: bytes) -> Problem:
    with pytest.raises(Problem) as exc:
        parse_model(PecRequest, raw)
    return exc.value


def test_a_decimal_string_is_the_one_accepted_spelling_of_an_amount():
    assert str(parse_model(PecRequest, _body()).lines[0].price) == "30.00"


@pytest.mark.parametrize("price", [30.0, 30, 29.99])
def test_a_json_number_amount_is_a_422_that_says_amounts_are_strings(price):
    p = _problem(_body(price=price))
    assert p.http_status == 422 and p.code == "VALIDATION_FAILED"
    assert p.errors[0].path == "/lines/0/price" and "not JSON numbers" in p.errors[0].message
    assert "decimal strings" in p.detail  # the first error is in the detail too


@pytest.mark.parametrize("price,says", [("30", "two decimals"), ("30.0", "two decimals"), ("0.00", "above 0.00"),
                                        ("1e3", "two decimals"), (True, "two decimals")])
def test_other_amount_spellings_are_refused_with_the_expected_shape(price, says):
    assert says in _problem(_body(price=price)).errors[0].message


@pytest.mark.parametrize("nir", ["1 60 07 05 141 634 77", "1.60.07.05.141.634.77", "160-07-05-141-634-77"])
def test_a_nir_with_separators_is_told_to_drop_them(nir):
    p = _problem(_body(nir=nir))
    assert p.errors[0].path == "/beneficiary/nir" and "without spaces, dots or dashes" in p.errors[0].message


def test_a_lower_case_corsican_department_is_told_to_use_capitals():
    p = _problem(_body(nir="1850520A0001234"[:5] + "2a" + "00100012"))
    assert p.code == "NIR_INVALID" and "2A and 2B, in capitals" in p.detail


def test_a_nir_without_its_key_is_told_the_key_is_missing():
    assert "2-digit key" in _problem(_body(nir=NIR[:13])).errors[0].message


def test_a_form_body_where_json_is_expected_is_told_so():
    with pytest.raises(Problem) as exc:
        check_content_type("application/x-www-form-urlencoded")
    assert exc.value.http_status == 415 and "json=" in exc.value.detail and "/oauth/token" in exc.value.detail
