"""NIR rules: known numbers, each kind of error, Corsica, and properties of the key."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tiers_payant.nir import is_valid_nir, make_nir, mask_nir, nir_error, nir_key

# Documented examples of python-stdnum (stdnum/fr/nir.py doctests).
KNOWN_VALID = ["295109912611193", "253072B07300470", "253072A07300443"]


def with_key(body13: str) -> str:
    return body13 + f"{nir_key(body13):02d}"


@pytest.mark.parametrize("nir", KNOWN_VALID)
def test_known_numbers_are_valid(nir):
    assert nir_error(nir) is None
    assert is_valid_nir(nir)


def test_keys_of_known_numbers_including_corsica():
    assert nir_key("2951099126111") == 93
    assert nir_key("253072A073004") == 43  # 2A read as 19
    assert nir_key("253072B073004") == 70  # 2B read as 18
    assert nir_key("2530719073004") == 43  # the same number as 2A


@pytest.mark.parametrize("nir, words", [
    ("295109912611199", "key"),
    ("2951099126111", "15 characters"),
    ("2951099126111930", "15 characters"),
    ("2 95 10 99 126 111 93", "without spaces"),  # only the compact form, and the error says so
    ("253072C07300443", "position 7"),
    ("253072a07300443", "capitals"),  # upper case only, and the error says so
    ("2A5109912611193", "position 2"),
    ("29510991261119X", "position 15"),
    ("29510991261119\u0663", "position 15"),  # an Arabic-Indic digit is not a digit here
    ("", "15 characters"),
])
def test_malformed_numbers_are_explained(nir, words):
    error = nir_error(nir)
    assert error is not None and words in error


@pytest.mark.parametrize("body, words", [
    ("3951099126111", "sex"),
    ("0951099126111", "sex"),
    ("2950099126111", "month"),
    ("2951399126111", "month"),
    ("2954399126111", "month"),
    ("2951000126111", "department"),
])
def test_structural_errors_with_a_correct_key(body, words):
    error = nir_error(with_key(body))
    assert error is not None and words in error


@pytest.mark.parametrize("body", ["7951099126111", "8951099126111", "2952099126111",
                                  "2954299126111", "2955099126111", "2959999126111",
                                  "1850597105123", "1850520126111"])
def test_temporary_sexes_and_incomplete_record_months_are_accepted(body):
    assert is_valid_nir(with_key(body))


@pytest.mark.parametrize("key", ["00", "98", "99"])
def test_keys_outside_1_to_97_are_refused(key):
    assert not is_valid_nir("2951099126111" + key)


def test_non_strings_are_refused_without_raising():
    assert nir_error(295109912611193) is not None  # type: ignore[arg-type]
    assert not is_valid_nir(None)  # type: ignore[arg-type]


def test_messages_never_echo_the_number():
    nir = with_key("1850575123456")[:-2] + "00"
    assert "85057512345" not in nir_error(nir)


def test_make_nir_spells_every_kind_of_birthplace():
    assert make_nir(2, 1995, 10, "99", "126", 111) == "295109912611193"
    assert make_nir(2, 1953, 7, "2A", "073", 4) == "253072A07300443"
    assert make_nir(2, 53, 7, "2B", "073", 4) == "253072B07300470"
    overseas = make_nir(1, 2001, 3, "971", "05", 42)
    assert overseas[5:10] == "97105" and is_valid_nir(overseas)


@pytest.mark.parametrize("args", [
    (3, 1990, 1, "75", "056", 1),  # sex
    (True, 1990, 1, "75", "056", 1),
    (1, 1990, 13, "75", "056", 1),  # month
    (1, 1990, 0, "75", "056", 1),
    (1, 1990, 1, "751", "05", 1),  # 3-digit department that is not overseas
    (1, 1990, 1, "75", "05", 1),  # commune length
    (1, 1990, 1, "971", "056", 1),
    (1, 1990, 1, "00", "056", 1),
    (1, 1990, 1, "2C", "056", 1),
    (1, 1990, 1, "75", "0a6", 1),
    (1, 1990, 1, "75", "056", 0),  # order
    (1, 1990, 1, "75", "056", 1000),
])
def test_make_nir_refuses_impossible_parts(args):
    with pytest.raises(ValueError):
        make_nir(*args)


def test_mask_keeps_only_the_sex_digit():
    assert mask_nir("295109912611193") == "2" + "*" * 14
    assert "9" not in mask_nir("295109912611193")


digit3 = st.integers(1, 999)
places = st.one_of(
    st.tuples(st.integers(1, 99).map(lambda d: f"{d:02d}"), st.integers(0, 999).map(lambda c: f"{c:03d}")),
    st.tuples(st.sampled_from(["2A", "2B"]), st.integers(0, 999).map(lambda c: f"{c:03d}")),
    st.tuples(st.sampled_from(["97", "98"]).flatmap(lambda p: st.integers(0, 9).map(lambda x: f"{p}{x}")),
              st.integers(0, 99).map(lambda c: f"{c:02d}")),
)
months = st.one_of(st.integers(1, 12), st.integers(20, 42), st.integers(50, 99))


@given(st.sampled_from([1, 2, 7, 8]), st.integers(1900, 2099), months, places, digit3)
def test_make_nir_is_always_valid_and_any_changed_digit_is_caught(sex, year, month, place, order):
    nir = make_nir(sex, year, month, place[0], place[1], order)
    assert len(nir) == 15 and is_valid_nir(nir)
    for pos, char in enumerate(nir):
        if not char.isdigit():
            continue
        for other in "0123456789".replace(char, ""):
            assert not is_valid_nir(nir[:pos] + other + nir[pos + 1:]), (pos, other)


@given(st.text(max_size=20))
def test_nir_error_never_raises(text):
    assert nir_error(text) is None or isinstance(nir_error(text), str)
