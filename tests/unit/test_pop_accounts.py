"""Sandbox professional accounts: derivation from a seed, lookup by client id, Luhn."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.accounts import (AUDIOLOGIST, OPTICIAN, Account, account, account_by_client_id,
                                luhn_check_digit, luhn_ok)

SEED = 42


def test_even_accounts_are_opticians_and_odd_ones_audiologists():
    a0, a1 = account(SEED, 0), account(SEED, 1)
    assert (a0.client_id, a0.profession, a0.index) == ("opt-000000", OPTICIAN, 0)
    assert (a1.client_id, a1.profession) == ("aud-000001", AUDIOLOGIST)
    assert account(SEED, 123).client_id == "aud-000123"
    assert OPTICIAN == "28" and AUDIOLOGIST == "26"


def test_an_account_carries_no_secret_at_all():
    """Who an account is comes from the seed; its secret is issued per state directory."""
    assert not hasattr(account(SEED, 124), "client_secret")


def test_accounts_are_deterministic_and_depend_on_the_seed():
    assert account(SEED, 7) == account(SEED, 7)
    assert account(SEED, 7).rpps != account(SEED + 1, 7).rpps


def test_rpps_numbers_are_11_luhn_digits_starting_with_1_and_unique():
    numbers = [account(SEED, k).rpps for k in range(5000)]
    assert all(len(n) == 11 and n.isdigit() and n[0] == "1" and luhn_ok(n) for n in numbers)
    assert len(set(numbers)) == len(numbers)


def test_negative_index_is_refused():
    with pytest.raises(ValueError):
        account(SEED, -1)


def test_lookup_by_client_id_round_trips():
    for k in (0, 1, 2, 999, 1_000_000):
        a = account(SEED, k)
        assert account_by_client_id(SEED, a.client_id, count=2_000_000) == a


@pytest.mark.parametrize("client_id", [
    "opt-000010",  # k == count
    "opt-000001",  # odd number with the optician prefix
    "aud-000002",  # even number with the audiologist prefix
    "opt-00002",  # too short
    "opt-0000002",  # a second spelling of account 2
    "opt_000002", "xyz-000002", "OPT-000002", "opt-00000a", "opt--00002", "opt-+00002",
    "opt-00000\u0662",  # Arabic-Indic two
    "", "opt-", None, 2,
])
def test_malformed_or_unknown_client_ids_give_none(client_id):
    assert account_by_client_id(SEED, client_id, count=10) is None  # type: ignore[arg-type]


def test_luhn_known_values():
    assert luhn_check_digit("7992739871") == "3"
    assert luhn_ok("79927398713")
    assert not luhn_ok("79927398710")
    for bad in ("", "7", "7992739871a", "7992739871\u0663", None):
        assert not luhn_ok(bad)  # type: ignore[arg-type]


@given(st.text(alphabet="0123456789", min_size=1, max_size=20), st.data())
def test_luhn_catches_any_single_changed_digit(body, data):
    number = body + luhn_check_digit(body)
    assert luhn_ok(number)
    pos = data.draw(st.integers(0, len(number) - 1))
    other = data.draw(st.sampled_from("0123456789".replace(number[pos], "")))
    assert not luhn_ok(number[:pos] + other + number[pos + 1:])


def test_account_is_frozen():
    with pytest.raises(AttributeError):
        account(SEED, 0).rpps = "1"  # type: ignore[misc]
    assert isinstance(account(SEED, 0), Account)
