"""The guard behind simulator/guard.py's seam: what build_guard returns, what it raises."""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from types import SimpleNamespace

import pytest

from simulator.guard import NoGuard
from simulator.security import SecurityGuard, build_guard, thresholds_from_env
from simulator.security.detection import Thresholds
from simulator.settings import Settings
from simulator.store import Store
from tiers_payant.problems import Problem

NIR = "160070514163477"


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "p.sqlite"))


def request_for(nir: str):
    return SimpleNamespace(beneficiary=SimpleNamespace(nir=nir, birth_date=date(1960, 7, 2), birth_rank=1))


def test_both_controls_off_is_no_guard(store):
    assert isinstance(build_guard(replace(Settings(), detection=False, rate_per_s=0), store), NoGuard)
    g = build_guard(replace(Settings(), detection=False), store)
    assert isinstance(g, SecurityGuard) and g.watch is None and g.limiter is not None
    g = build_guard(replace(Settings(), rate_per_s=0), store)
    assert g.limiter is None and g.watch is not None


def test_admit_raises_rate_limited_with_retry_after(store):
    guard = build_guard(replace(Settings(), detection=False, rate_per_s=1.0, rate_burst=2), store)
    guard.admit("opt-000000", 100.0)
    guard.admit("opt-000000", 100.0)
    with pytest.raises(Problem) as e:
        guard.admit("opt-000000", 100.0)
    assert e.value.code == "RATE_LIMITED" and e.value.http_status == 429 and e.value.headers["Retry-After"] == "1"
    guard.admit("opt-000000", 101.0)  # a second later, one token is back


def test_the_tipping_probe_is_refused_and_nothing_identifying_is_stored(store):
    guard = build_guard(replace(Settings(), rate_per_s=0), store)
    miss = {"decision": "not_eligible", "reason": "BENEFICIARY_NOT_ON_CARD"}
    for i in range(19):
        guard.observe_lookup("opt-000000", request_for(f"1600705141{i:03d}00"), miss, 1000.0 + i)
    with pytest.raises(Problem) as e:
        guard.observe_lookup("opt-000000", request_for(NIR), miss, 1020.0)
    assert e.value.code == "ACCOUNT_SUSPENDED"
    dump = "\n".join(store._conn().iterdump())
    assert NIR not in dump and "1960-07-02" not in dump and "16007051410" not in dump


def test_an_agreement_already_made_still_reaches_its_caller(store):
    guard = build_guard(replace(Settings(), rate_per_s=0), store, Thresholds(max_distinct_long=0,
                                                                              long_check_every_s=0))
    accepted = {"decision": "accepted", "reason": None, "pec_number": "PEC-1"}
    guard.observe_lookup("opt-000000", request_for(NIR), accepted, 1000.0)  # bulk rule trips, no exception
    assert store.query("SELECT suspended_at FROM accounts")[0]["suspended_at"] == 1000.0


def test_thresholds_come_from_the_environment():
    t = thresholds_from_env({"SIM_DETECT_MAX_DISTINCT_PROBED": "5", "SIM_DETECT_WINDOW_S": "30", "OTHER": "x"})
    assert t == replace(Thresholds(), max_distinct_probed=5, window_s=30.0)
