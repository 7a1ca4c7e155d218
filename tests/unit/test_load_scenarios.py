"""The scenario registry, scaling by DURATION/USERS, timelines, phase kinds and the shape's arithmetic."""
import pytest

from loadtests.scenarios import PlannedPhase, load, names, parse_duration, scaled, timeline_from
from loadtests.slo import Slo

ALL = ["brownout", "classroom", "flapping", "outage", "recovery-storm", "steady", "throttle"]


def test_every_scenario_is_registered_by_its_make_name():
    assert set(ALL) <= set(names())
    assert load("recovery_storm").name == load("recovery-storm").name == "recovery-storm"
    with pytest.raises(KeyError, match="known: .*outage"):
        load("no-such-day")


@pytest.mark.parametrize("name", ALL)
def test_each_scenario_tells_its_story_and_names_phases_and_slos(name):
    s = load(name)
    assert len(s.story) > 200 and "Phases" in s.story and "SLOs" in s.story
    for phase in s.phases:
        assert phase.name in s.story  # the docstring names every phase
    assert s.slos and all(isinstance(slo, Slo) for slo in s.slos)
    assert any(slo.metric == "unexpected" for slo in s.slos)
    assert s.timeline[0]["at_s"] == 0  # the timeline starts with the test
    assert [t["at_s"] for t in s.timeline] == sorted({t["at_s"] for t in s.timeline})


def test_the_outage_is_the_seeds_day():
    s = load("outage")
    assert [p.name for p in s.phases] == ["healthy", "cut", "degraded", "return", "drain"]
    assert [p.kind for p in s.phases] == ["healthy", "outage", "outage", "recovering", "healthy"]
    assert s.timeline == ({"at_s": 0.0, "mode": "up"}, {"at_s": 12.0, "mode": "down"}, {"at_s": 50.0, "mode": "up"})


def test_timeline_from_merges_repeated_faults():
    phases = [PlannedPhase("a", 5, 1, 1), PlannedPhase("b", 5, 1, 1, {"mode": "down"}, "outage"),
              PlannedPhase("c", 5, 1, 1, {"mode": "down"}, "outage"), PlannedPhase("d", 5, 1, 1)]
    assert timeline_from(phases) == [{"at_s": 0.0, "mode": "up"}, {"at_s": 5.0, "mode": "down"},
                                     {"at_s": 15.0, "mode": "up"}]


def test_scaling_keeps_fault_and_phase_boundaries_together():
    s = scaled(load("outage"), duration_s=40, users=10)
    assert s.duration_s == pytest.approx(40)
    assert s.peak_users == 10
    starts = [p.start_s for p in s.report_phases()]
    assert [t["at_s"] for t in s.timeline] == [starts[0], starts[1], starts[3]]
    flap = scaled(load("flapping"), duration_s=30)
    assert flap.phases[1].fault == {"mode": "flap", "down_s": 3, "up_s": 4}  # the platform's rhythm stays


def test_scaling_floors_tiny_phases_and_keeps_idle_phases_idle():
    base = load("steady")
    s = scaled(base, duration_s=2, users=1)
    assert all(p.duration_s >= 1 and p.users >= 1 and p.spawn_rate >= 1 for p in s.phases)
    assert scaled(base) == base


def test_phase_kind_is_recovering_near_a_boundary():
    s = load("outage")  # healthy [0, 12), cut [12, 20)
    assert s.kind_at(5) == "healthy"
    assert s.kind_at(11) == "recovering"  # requests in flight when the platform is cut
    assert s.kind_at(30) == "outage"
    assert s.kind_at(55) == "recovering"
    assert s.kind_at(75) == "healthy"


def test_load_at_walks_the_phases_then_a_tail_then_stops():
    s = load("recovery-storm")
    assert s.load_at(0) == (15, 5)
    assert s.load_at(60) == (60, 60)
    assert s.load_at(s.duration_s + 1, tail_s=3) == (0, 60)
    assert s.load_at(s.duration_s + 4, tail_s=3) is None


@pytest.mark.parametrize("text,seconds", [("20s", 20), ("2m", 120), ("1m30s", 90), ("90", 90), (45, 45)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "5x", "m", "-"])
def test_parse_duration_rejects_nonsense(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_a_phase_checks_its_kind():
    with pytest.raises(ValueError):
        PlannedPhase("x", 5, 1, 1, kind="sunny")
