"""Population: determinism, identifiers that map back to i, AMCs, cards, constant memory."""
from __future__ import annotations

import ast
import random
import time
import tracemalloc
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator import names
from simulator.accounts import luhn_ok
from simulator.population import Population, card_of
from tiers_payant.model import Card

REF = date(2025, 3, 14)
BIG = 20_000_000


@pytest.fixture(scope="module")
def small():
    return Population(seed=42, size=200_000, reference_date=REF)


@pytest.fixture(scope="module")
def big():
    return Population(seed=42, size=BIG, reference_date=REF)


def test_two_populations_with_the_same_inputs_give_equal_contracts(small):
    twin = Population(42, 200_000, 84, REF)  # positional form works too
    for i in (0, 1, 2, 777, 199_999):
        assert small.contract(i) == twin.contract(i)


def test_the_seed_changes_the_people_and_the_identifiers(small):
    other = Population(seed=43, size=200_000, reference_date=REF)
    a, b = small.contract(5), other.contract(5)
    assert a.member != b.member and a.card_serial != b.card_serial
    assert a.beneficiaries != b.beneficiaries


def test_member_numbers_map_back_to_their_index(small):
    members = [small.contract(i).member for i in range(2000)]
    assert all(len(m) == 11 and m.isdigit() and luhn_ok(m) for m in members)
    assert [small.index_of_member(m) for m in members] == list(range(2000))


def test_random_large_indices_map_back_at_20_million(big):
    rng = random.Random(7)
    for i in [rng.randrange(BIG) for _ in range(200)] + [BIG - 1]:
        contract = big.contract(i) if i % 10 == 0 else None
        member = contract.member if contract else big.member_of(i)
        assert big.index_of_member(member) == i
        assert big.index_of_serial(big.serial_of(i)) == i


@given(st.integers(0, BIG - 1))
def test_identifiers_are_bijections(i):
    population = Population(seed=42, size=BIG, reference_date=REF)
    assert population.index_of_member(population.member_of(i)) == i
    assert population.index_of_serial(population.serial_of(i)) == i


def test_invalid_member_strings_give_none(small, big):
    good = small.member_of(12)
    flipped = good[:-1] + str((int(good[-1]) + 1) % 10)
    for bad in (flipped, good[:-1], good + "0", "", "abcdefghijk", good.replace(good[0], "x", 1),
                " " + good[1:], "\u0661" * 11, None, int(good)):
        assert small.index_of_member(bad) is None  # type: ignore[arg-type]
    beyond = big.member_of(300_000)  # a valid number of the bigger population only
    assert big.index_of_member(beyond) == 300_000
    assert small.index_of_member(beyond) is None


def test_invalid_serials_give_none(small):
    serial = small.serial_of(3)
    for bad in (serial.lower(), serial[1:], "X" + serial[1:], serial + "0", "C" + "Z" * 12, "", None):
        assert small.index_of_serial(bad) is None  # type: ignore[arg-type]


def test_contract_index_out_of_range_raises(small):
    for i in (-1, 200_000, 10**12):
        with pytest.raises(IndexError):
            small.contract(i)
    with pytest.raises(TypeError):
        small.contract(1.5)  # type: ignore[arg-type]


def test_reference_date_is_required_and_must_be_a_date():
    with pytest.raises(ValueError):
        Population(42, 100)
    with pytest.raises(TypeError):
        Population(42, 100, reference_date="2025-03-14")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Population(42, 0, reference_date=REF)
    assert Population(42, 100, reference_date=datetime(2025, 3, 14, 9)).reference_date == REF


def test_amcs_have_unique_numbers_names_and_keys(small):
    amcs = small.amcs
    assert len(amcs) == 84 and [a.index for a in amcs] == list(range(84))
    assert len({a.number for a in amcs}) == 84 and len({a.name for a in amcs}) == 84
    for a in amcs:
        assert len(a.number) == 9 and a.number.isdigit() and a.number[0] != "0"
        assert a.kid == "amc-" + a.number and small.amc_by_number(a.number) is a
        assert len(a.routing) == 2 and a.routing.isdigit() and a.convention in ("TP", "TPS")
        assert any(w in a.name for w in ("Mutuelle", "Prévoyance", "Santé", "Assurances", "Union"))
    assert small.amc_by_number("000000000") is None
    assert Population(seed=42, size=10, amc_count=84, reference_date=REF).amcs == amcs
    assert len({a.name for a in Population(42, 10, 300, REF).amcs}) == 300


def test_card_of_carries_the_contract_and_survives_json(small):
    contract = small.contract(41)
    card = card_of(contract)
    assert isinstance(card, Card)
    assert (card.amc, card.convention, card.routing) == (contract.amc.number, contract.amc.convention,
                                                         contract.amc.routing)
    assert (card.member, card.serial, card.domains) == (contract.member, contract.card_serial, contract.domains)
    assert (card.valid_from, card.valid_to) == (contract.card_valid_from, contract.card_valid_to)
    assert [b.nir for b in card.beneficiaries] == [b.nir for b in contract.beneficiaries]
    assert card.guarantees == contract.guarantees and card.responsable == contract.responsable
    assert Card.from_json(card.to_json()) == card


def test_a_20_million_population_is_built_at_once_in_constant_memory():
    tracemalloc.start()
    started = time.perf_counter()
    population = Population(seed=42, size=BIG, reference_date=REF)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 1.0  # about a millisecond: nothing per contract is computed
    assert peak < 2_000_000  # bytes: a table of 20 million entries would need hundreds of MB
    assert len(population) == BIG


def test_names_are_plenty_and_distinct():
    assert len(names.LAST_NAMES) >= 150 and len(set(names.LAST_NAMES)) == len(names.LAST_NAMES)
    for first in (names.MALE_FIRST_NAMES, names.FEMALE_FIRST_NAMES):
        assert len(first) >= 100 and len(set(first)) == len(first)


@pytest.mark.parametrize("module", ["simulator/population.py", "simulator/accounts.py",
                                    "simulator/names.py", "tiers_payant/nir.py"])
def test_pure_modules_import_no_io(module):
    tree = ast.parse((Path(__file__).resolve().parents[2] / module).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"os", "time", "random", "requests", "flask", "sqlite3", "socket", "pathlib"}
