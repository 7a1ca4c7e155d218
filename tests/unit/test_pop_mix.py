"""The population's mix over 20,000 contracts: shares, date invariants, families, revocations."""
from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from simulator import population as pop
from simulator.population import Population
from tiers_payant.nir import is_valid_nir

REF = date(2025, 3, 14)
N = 20_000


@pytest.fixture(scope="module")
def sample():
    population = Population(seed=42, size=N, reference_date=REF)
    return population, [population.contract(i) for i in range(N)]


def share(predicate, items) -> float:
    items = list(items)
    return sum(1 for x in items if predicate(x)) / len(items)


def test_contract_categories_have_roughly_the_documented_shares(sample):
    _, contracts = sample
    assert share(lambda c: c.status == "terminated", contracts) == pytest.approx(pop.TERMINATED_RATE, abs=0.006)
    assert share(lambda c: c.status == "suspended", contracts) == pytest.approx(pop.SUSPENDED_RATE, abs=0.004)
    expired = share(lambda c: c.card_valid_to < REF, contracts)
    assert expired == pytest.approx(pop.CARD_EXPIRED_RATE, abs=0.004)
    future = share(lambda c: c.card_valid_from > REF, contracts)
    assert future == pytest.approx(pop.CARD_NOT_YET_VALID_RATE, abs=0.003)
    assert share(lambda c: c.responsable, contracts) == pytest.approx(0.95, abs=0.01)
    assert sum(c.card_revoked for c in contracts) == round(N * pop.REVOKED_RATE)


def test_domains_and_guarantees(sample):
    _, contracts = sample
    for domain, rate in pop.DOMAIN_RATES:
        assert share(lambda c: domain in c.domains, contracts) == pytest.approx(rate, abs=0.015)
    for c in contracts[:2000]:
        assert [d for d, _ in c.guarantees] == sorted(c.domains)
        assert {level for _, level in c.guarantees} <= {"ECO", "CONFORT", "PREMIUM"}
    levels = Counter(c.guarantees[0][1] for c in contracts)
    assert set(levels) == {"ECO", "CONFORT", "PREMIUM"}


def test_dates_follow_each_category(sample):
    _, contracts = sample
    start, end = date(REF.year, 1, 1), date(REF.year, 12, 31)
    for c in contracts:
        assert (c.valid_from, c.valid_to) == (start, end)
        if c.status == "terminated":
            assert c.card_valid_from < c.terminated_on < REF
            assert c.card_valid_from <= REF <= c.card_valid_to  # the offline risk: the card still looks fine
        else:
            assert c.terminated_on is None
        if c.card_valid_to < REF:
            assert c.status == "active" and c.card_valid_from.year == REF.year - 1
        elif c.card_valid_from > REF:
            assert c.card_valid_from <= REF + timedelta(days=30)
        else:
            assert (c.card_valid_from, c.card_valid_to) == (start, end)


@pytest.mark.parametrize("ref", [date(2025, 1, 1), date(2025, 1, 2), date(2024, 12, 31)])
def test_year_edges_keep_the_invariants(ref):
    population = Population(seed=9, size=3000, reference_date=ref)
    contracts = [population.contract(i) for i in range(3000)]
    terminated = [c for c in contracts if c.status == "terminated"]
    future = [c for c in contracts if c.card_valid_from > ref]
    assert terminated and future
    assert all(c.card_valid_from < c.terminated_on < ref <= c.card_valid_to for c in terminated)
    assert all(c.card_valid_from <= c.card_valid_to for c in contracts)


def test_beneficiaries_have_valid_nirs_consistent_with_their_birth(sample):
    _, contracts = sample
    people = [b for c in contracts for b in c.beneficiaries]
    for b in people:
        assert is_valid_nir(b.nir)
        assert b.nir[0] == str(b.sex) and b.sex in (1, 2)
        assert b.nir[1:5] == f"{b.birth_date.year % 100:02d}{b.birth_date.month:02d}"
        assert b.birth_date < REF and b.last_name and b.first_name
    depts = Counter(b.nir[5:7] for b in people)
    assert depts["2A"] and depts["2B"] and depts["99"] and depts["97"]


def test_households(sample):
    _, contracts = sample
    sizes = Counter(len(c.beneficiaries) for c in contracts)
    assert set(sizes) == {1, 2, 3, 4, 5}
    assert 2.0 < sum(k * v for k, v in sizes.items()) / N < 2.7
    for c in contracts:
        main = c.beneficiaries[0]
        assert (REF - main.birth_date).days >= 18 * 365  # the main insured person is an adult
        assert len({b.nir for b in c.beneficiaries}) == len(c.beneficiaries)


def test_twins_share_a_birth_date_and_differ_by_rank(sample):
    _, contracts = sample
    with_twins = [c for c in contracts if any(b.birth_rank == 2 for b in c.beneficiaries)]
    twin_indices = {c.index for c in with_twins}
    assert len(with_twins) / N == pytest.approx(pop.TWINS_RATE, abs=0.01)
    for c in with_twins:
        first, second = c.beneficiaries[-2:]
        assert (first.birth_rank, second.birth_rank) == (1, 2)
        assert first.birth_date == second.birth_date and first.nir[5:10] == second.nir[5:10]
        assert first.first_name != second.first_name and first.nir != second.nir
    assert all(b.birth_rank == 1 for c in contracts if c.index not in twin_indices for b in c.beneficiaries)


def test_consumption_history(sample):
    _, contracts = sample
    people = [b for c in contracts for b in c.beneficiaries]
    glasses = [b.last_glasses for b in people if b.last_glasses]
    assert len(glasses) / len(people) == pytest.approx(pop.GLASSES_RATE, abs=0.02)
    assert all(REF - timedelta(days=913) <= g <= REF - timedelta(days=183) for g in glasses)
    assert any(g > REF - timedelta(days=730) for g in glasses)  # some adult renewals not due yet
    seniors = [b for b in people if (REF - b.birth_date).days >= 61 * 365]
    fitted = [b for b in seniors if b.last_hearing_left or b.last_hearing_right]
    assert len(fitted) / len(seniors) == pytest.approx(pop.HEARING_RATE_60_PLUS, abs=0.02)
    assert any(b.last_hearing_left and not b.last_hearing_right for b in fitted)
    for b in fitted:
        for d in (b.last_hearing_left, b.last_hearing_right):
            assert d is None or REF - timedelta(days=1826) <= d <= REF - timedelta(days=365)
    young = [b for b in people if (REF - b.birth_date).days < 59 * 365]
    assert not any(b.last_hearing_left or b.last_hearing_right for b in young)


def test_identifiers_are_unique_across_the_sample(sample):
    _, contracts = sample
    assert len({c.card_serial for c in contracts}) == N
    assert len({c.member for c in contracts}) == N
    assert all(len(c.card_serial) == 13 and c.card_serial[0] == "C" for c in contracts[:100])


def test_revoked_indices_match_card_revoked(sample):
    population, contracts = sample
    listed = list(population.revoked_indices())
    assert len(listed) == len(set(listed)) == round(N * pop.REVOKED_RATE)
    assert set(listed) == {c.index for c in contracts if c.card_revoked}


def test_revoked_indices_at_20_million_are_consistent_and_spread():
    population = Population(seed=42, size=20_000_000, reference_date=REF)
    listed = list(population.revoked_indices())
    assert len(set(listed)) == 20_000 and all(population.is_revoked(i) for i in listed)
    assert all(population.contract(i).card_revoked for i in listed[:50])
    assert sum(population.is_revoked(i) for i in range(0, 20_000_000, 997)) < 100  # about 20
    assert max(listed) - min(listed) > 10_000_000  # scattered, not a block at the start
