"""Hypothesis properties on what hostile input first meets: NIR, card and quote parsing.

Each parser is total: any input gives a value or a Problem (a problem document), never
another exception, which the HTTP shell would turn into a 500.
"""
from __future__ import annotations

import base64
import json
from datetime import date
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tiers_payant.pec_request import quote_lines
from tiers_payant.cards import verify_card
from tiers_payant.coverage import History, compute_pec, line_problems, shape_problems
from tiers_payant.httpkit import redact
from tiers_payant.nir import make_nir, mask_nir, nir_error
from tiers_payant.parsing import MAX_JSON_DEPTH, json_depth, parse_model
from tiers_payant.problems import Problem
from tiers_payant.schemas import EligibilityRequest, PecRequest
from tiers_payant.tariff import TARIFF

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

depts = st.one_of(st.integers(1, 95).filter(lambda d: d != 20).map(lambda d: f"{d:02d}"), st.sampled_from(["2A", "2B"]))


@st.composite
def nirs(draw) -> str:
    dept = draw(depts)
    return make_nir(draw(st.sampled_from([1, 2, 7, 8])), draw(st.integers(0, 99)), draw(st.integers(1, 12)), dept,
                    f"{draw(st.integers(1, 999)):03d}", draw(st.integers(1, 999)))


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                           max_leaves=20)


# ---- NIR ----

@FAST
@given(st.text(max_size=20))
def test_nir_check_is_total_on_any_text(text):
    msg = nir_error(text)
    assert msg is None or isinstance(msg, str)
    assert msg is not None or (len(text) == 15 and text.isascii())


@FAST
@given(nirs())
def test_made_nirs_are_valid_and_mask_hides_all_but_the_sex_digit(nir):
    assert nir_error(nir) is None
    assert mask_nir(nir) == nir[0] + "*" * 14


@FAST
@given(nirs(), st.integers(0, 14), st.integers(1, 9))
def test_any_single_digit_error_is_caught_by_the_key(nir, pos, delta):
    assume(nir[pos].isdigit())
    typo = nir[:pos] + str((int(nir[pos]) + delta) % 10) + nir[pos + 1:]
    assert nir_error(typo) is not None


@FAST
@given(nirs(), st.integers(0, 11))
def test_swapping_two_adjacent_body_digits_is_caught(nir, pos):
    a, b = nir[pos], nir[pos + 1]
    assume(a != b and a.isdigit() and b.isdigit())
    assert nir_error(nir[:pos] + b + a + nir[pos + 2:]) is not None


@FAST
@given(nirs(), st.text(max_size=30), st.text(max_size=30))
def test_log_redaction_masks_any_nir_between_separators(nir, before, after):
    line = json.dumps({"before": before, "x": nir, "note": f"value {nir}.", "after": after})
    assert nir not in redact(line)
    assert redact('{"ts": 1795882990.964, "id": "abc123"}') == '{"ts": 1795882990.964, "id": "abc123"}'


# ---- JSON limits ----

def nested(value, levels: int):
    for i in range(levels):
        value = [value] if i % 2 else {"k": value, "s": "[{"}
    return value


def real_depth(v) -> int:
    if isinstance(v, dict):
        return 1 + max(map(real_depth, v.values()), default=0)
    if isinstance(v, list):
        return 1 + max(map(real_depth, v), default=0)
    return 0


@FAST
@given(json_values, st.integers(0, 2 * MAX_JSON_DEPTH))
def test_json_depth_judges_the_limit_like_real_nesting(value, levels):
    """Exact above the limit, an upper bound below it (parsing.py's fast path)."""
    value = nested(value, levels)
    measured, depth = json_depth(json.dumps(value).encode()), real_depth(value)
    assert (measured > MAX_JSON_DEPTH) == (depth > MAX_JSON_DEPTH)
    assert measured >= depth and (depth <= MAX_JSON_DEPTH or measured == depth)


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"s": "[[[{{{" + "\\\"[" * 40, "t": ["]]]" * 30]}).encode()
    assert json_depth(text) == 2


def test_depth_over_the_limit_is_malformed_not_a_crash():
    raw = b'{"card":' + b"[" * (MAX_JSON_DEPTH + 5) + b"]" * (MAX_JSON_DEPTH + 5) + b"}"
    try:
        parse_model(EligibilityRequest, raw)
    except Problem as p:
        assert p.code == "MALFORMED_JSON" and p.http_status == 400
    else:
        raise AssertionError("accepted")


# ---- request parsing ----

def parses_or_problem(model, raw: bytes):
    try:
        return parse_model(model, raw)
    except Problem as p:
        assert p.http_status in (400, 413, 422)
        return None


@FAST
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_give_a_problem(raw):
    parses_or_problem(EligibilityRequest, raw)
    parses_or_problem(PecRequest, raw)


@FAST
@given(json_values)
def test_any_json_value_parses_or_gives_a_problem(value):
    for model in (EligibilityRequest, PecRequest):
        assert parses_or_problem(model, json.dumps(value).encode()) is None  # nothing that random is a request


# ---- card parsing ----

KID = "amc-123456789-1"
KEY = Ed25519PrivateKey.generate()


def compact(header: dict, claims, key=None) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode()) if not isinstance(claims, bytes) else b64(claims)
    sig = (key or KEY).sign(f"{head}.{body}".encode())
    return f"{head}.{body}.{b64(sig)}"


def keys(kid: str):
    return KEY.public_key() if kid == KID else None


@FAST
@given(st.text(max_size=200))
def test_card_verification_is_total_on_any_text(token):
    card, reason = verify_card(token, keys)
    assert card is None and reason in ("CARD_SIGNATURE_INVALID", "UNKNOWN_AMC")


@FAST
@given(json_values | st.binary(max_size=50))
def test_signed_garbage_claims_are_refused_not_crashed(claims):
    """Even a genuine signature over nonsense claims gives a reason, not an exception."""
    card, reason = verify_card(compact({"alg": "EdDSA", "kid": KID}, claims), keys)
    assert card is None and reason == "CARD_SIGNATURE_INVALID"


@FAST
@given(st.integers(0, 400), st.sampled_from("AbZ09-_."))
def test_a_genuine_card_with_one_character_changed_never_verifies(pos, char):
    claims = {"amc": "123456789", "convention": "TP", "routing": "01", "member": "1", "valid_from": "2026-01-01",
              "valid_to": "2026-12-31", "beneficiaries": [], "domains": ["OPTI"], "serial": "S", "responsable": True}
    token = compact({"alg": "EdDSA", "kid": KID, "typ": "tp-card+jws"}, claims)
    assert verify_card(token, keys)[0] is not None
    pos %= len(token)
    assume(token[pos] != char)
    tampered = token[:pos] + char + token[pos + 1:]
    card, reason = verify_card(tampered, keys)
    # Canonical base64url only: even a change in a part's unused trailing bits is refused.
    assert card is None and reason in ("CARD_SIGNATURE_INVALID", "UNKNOWN_AMC")


# ---- quote parsing, down to the coverage computation ----

codes = st.one_of(st.sampled_from(sorted(TARIFF)), st.text(max_size=10))
line = st.fixed_dictionaries({"code": codes, "class": st.sampled_from(["A", "B", "I", "II", "C"]),
                              "price": st.one_of(st.decimals(Decimal("-5"), Decimal("999999.99"), places=2).map(str),
                                                 st.integers(-5, 10**7), st.floats(allow_nan=False, allow_infinity=False)),
                              "quantity": st.integers(-1, 3)},
                             optional={"eye": st.sampled_from(["right", "left", "up", None]),
                                       "ear": st.sampled_from(["right", "left", None])})


@settings(max_examples=300, deadline=None)
@given(st.lists(line, min_size=0, max_size=13), st.sampled_from(["OPTI", "AUDI", "PHAR"]),
       st.dates(date(1900, 1, 1), date(2100, 12, 31)), st.dates(date(1900, 1, 1), date(2100, 12, 31)),
       st.sampled_from(["ECO", "CONFORT", "PREMIUM"]), st.booleans())
def test_any_quote_parses_to_a_problem_or_adds_up(lines, domain, birth, on, level, responsable):
    body = {"card": "x", "beneficiary": {"nir": "160070514163477", "birth_date": birth.isoformat(), "birth_rank": 1},
            "domain": domain, "professional": {"rpps": "10000000000", "profession": "28"}, "lines": lines}
    req = parses_or_problem(PecRequest, json.dumps(body).encode())
    if req is None or domain == "PHAR":
        return
    quote = quote_lines(req)
    if line_problems(domain, quote, birth_date=birth, on=on) or shape_problems(domain, quote):
        return
    result = compute_pec(domain, quote, level=level, responsable=responsable, birth_date=birth, on=on,
                         history=History(None, None, None))
    for q, r in zip(quote, result.lines):
        assert min(r.amo, r.amc, r.patient) >= 0
        assert r.amo + r.amc + r.patient == q.price * q.quantity
