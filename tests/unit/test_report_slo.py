"""SLOs compare a named metric with a target; what was not measured fails."""
import pytest

from loadtests.slo import Slo, evaluate

STATS = {"unexpected": 3, "phase.outage.p95_ms": 180.0, "phase.outage.offline_share": 0.97,
         "journal.pending": 0, "breaker.opened_after_s": None, "reconciliation.exposure_eur": "12.30",
         "attack.suspended": True}


def _one(slo):
    [result] = evaluate([slo], STATS)
    return result


@pytest.mark.parametrize("op, target, passes", [
    ("<=", 3, True), ("<=", 2, False), (">=", 3, True), (">=", 4, False), ("==", 3, True), ("==", 0, False),
])
def test_operators_at_and_around_the_boundary(op, target, passes):
    result = _one(Slo("few surprises", "unexpected", op, target))
    assert result == {"name": "few surprises", "metric": "unexpected", "op": op, "target": target,
                      "actual": 3, "pass": passes}


def test_phase_slo_reads_the_phase_metric():
    assert _one(Slo("fast offline", "p95_ms", "<=", 200, phase="outage"))["pass"] is True
    assert _one(Slo("fast offline", "p95_ms", "<=", 150, phase="outage"))["actual"] == 180.0
    assert _one(Slo("offline", "offline_share", ">=", 0.95, phase="outage"))["pass"] is True
    assert _one(Slo("same, spelled in full", "phase.outage.p95_ms", "<=", 200))["pass"] is True


@pytest.mark.parametrize("slo", [
    Slo("missing", "phase.nope.p95_ms", "<=", 1000),
    Slo("missing phase", "p95_ms", "<=", 1000, phase="recovery"),
    Slo("never happened", "breaker.opened_after_s", "<=", 10),
])
def test_missing_or_none_metric_fails_with_actual_none(slo):
    result = _one(slo)
    assert result["actual"] is None and result["pass"] is False


def test_equality_tolerates_float_noise_and_reads_numeric_strings_and_bools():
    assert evaluate([Slo("share", "x", "==", 0.3)], {"x": 0.1 + 0.2})[0]["pass"] is True
    assert _one(Slo("exposure", "reconciliation.exposure_eur", "<=", 50))["actual"] == 12.3
    assert _one(Slo("attacker stopped", "attack.suspended", "==", 1))["pass"] is True
    assert evaluate([Slo("text", "x", "==", 1)], {"x": "open"})[0]["actual"] is None


def test_unknown_operator_is_refused():
    with pytest.raises(ValueError):
        Slo("bad", "unexpected", "<", 1)


def test_results_keep_the_order_of_the_slos():
    slos = [Slo("b", "unexpected", "<=", 5), Slo("a", "journal.pending", "==", 0)]
    assert [r["name"] for r in evaluate(slos, STATS)] == ["b", "a"]
