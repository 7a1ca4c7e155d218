"""Per-phase statistics, breaker timings, the summary and the timeline on a hand-made run
whose answers are worked out by hand."""
from decimal import Decimal

from loadtests.report import breaker_times, build_summary, phase_stats, stats_from_summary, timeline_rows
from loadtests.samples import Phase, Sample, StatusPoint
from loadtests.slo import Slo

PHASES = [Phase("warmup", 0, 10, "up"), Phase("outage", 10, 20, "down"), Phase("return", 20, 30, "up")]


def ok(t, latency, mode="online", decision="eligible", status=200, expected=True):
    return Sample(t, "eligibility", mode, decision, status, latency, expected)


SAMPLES = [
    # warmup: 4 online answers, all as expected
    ok(1.0, 10), ok(2.0, 20), ok(3.0, 30), ok(9.9, 40),
    # outage: a transport error, then 4 offline answers of which one is wrong
    ok(10.5, 1500, mode="none", decision="error", status=0, expected=False),
    ok(11.0, 5, mode="offline", decision="accepted"), ok(12.0, 6, mode="offline", decision="accepted"),
    ok(13.0, 7, mode="offline", decision="refused"),
    ok(14.0, 8, mode="offline", decision="accepted", expected=False),
    # return: a 5xx (expected by mistake: still unexpected) and a good answer
    ok(20.0, 100, mode="none", decision="problem", status=503), ok(25.0, 50),
    # after the last phase: counted in the totals only
    ok(30.0, 60),
]
POINTS = [StatusPoint(t, b, p, r, d) for t, b, p, r, d in [
    (0, "closed", 0, 0, 0), (5, "closed", 0, 0, 0), (11, "closed", 1, 1, 0), (12.5, "open", 2, 2, 0),
    (19, "open", 3, 3, 0), (21, "half_open", 3, 3, 0), (23.5, "closed", 1, 3, 2), (25, "closed", 0, 3, 3)]]


def test_phase_stats_known_answers():
    warmup, outage, back = phase_stats(SAMPLES, PHASES)
    assert warmup == {"name": "warmup", "fault": "up", "start_s": 0, "end_s": 10, "requests": 4,
                      "unexpected": 0, "unexpected_share": 0.0, "offline": 0, "offline_share": 0.0,
                      "p50_ms": 20, "p95_ms": 40, "p99_ms": 40}
    # outage latencies 5 6 7 8 1500: nearest rank 3 of 5 for p50, 5 of 5 for p95
    assert (outage["requests"], outage["unexpected"], outage["offline"]) == (5, 2, 4)
    assert outage["offline_share"] == 0.8
    assert (outage["p50_ms"], outage["p95_ms"], outage["p99_ms"]) == (7, 1500, 1500)
    assert (back["requests"], back["unexpected"], back["p50_ms"], back["p95_ms"]) == (2, 1, 50, 100)


def test_phase_without_requests_has_no_percentiles_or_share():
    [empty] = phase_stats(SAMPLES, [Phase("quiet", 40, 50, "up")])
    assert empty["requests"] == 0 and empty["p95_ms"] is None and empty["offline_share"] is None


def test_breaker_times_from_polls():
    assert breaker_times(POINTS, PHASES, "outage", "return") == {"opened_after_s": 2.5,
                                                                 "closed_after_s": 3.5}


def test_breaker_that_never_opened_or_never_closed():
    closed = [StatusPoint(t, "closed", 0, 0, 0) for t in (0, 10, 21)]
    assert breaker_times(closed, PHASES, "outage", "return") == {"opened_after_s": None,
                                                                 "closed_after_s": 1.0}
    stuck = [StatusPoint(t, "open", 0, 0, 0) for t in (0, 11, 21)]
    assert breaker_times(stuck, PHASES, "outage", "return")["closed_after_s"] is None
    naive = [StatusPoint(t, "none", 0, 0, 0) for t in (0, 11, 21)]
    assert breaker_times(naive, PHASES, "outage", "return") == {"opened_after_s": None,
                                                                "closed_after_s": None}
    assert breaker_times(POINTS, PHASES, "no-such-phase", None) == {"opened_after_s": None,
                                                                    "closed_after_s": None}


def summary(**overrides):
    args = dict(scenario="outage", resilience="full", duration_s=31, samples=SAMPLES, phases=PHASES,
                status_points=POINTS, slos=[], journal={"recorded": 3},
                reconciliation={"confirmed": 2, "adjusted": 0, "rejected": 1,
                                "exposure_eur": Decimal("12.30")})
    return build_summary(**{**args, **overrides})


def test_summary_has_every_required_field():
    s = summary(extra={"attack": {"distinct_beneficiaries_answered": 12, "suspended": True,
                                  "suspended_after_s": 4.0}})
    for key in ("scenario", "resilience", "duration_s", "slo_pass", "slos", "requests", "unexpected",
                "by_mode", "phases", "breaker", "journal", "reconciliation", "attack"):
        assert key in s, key
    assert set(s["by_mode"]) >= {"online", "offline"}
    for phase in s["phases"]:
        assert set(phase) >= {"name", "fault", "requests", "unexpected", "offline",
                              "p50_ms", "p95_ms", "p99_ms", "offline_share"}
    assert set(s["breaker"]) == {"opened_after_s", "closed_after_s"}
    assert set(s["journal"]) == {"recorded", "drained", "pending"}
    assert set(s["reconciliation"]) == {"confirmed", "adjusted", "rejected", "exposure_eur"}


def test_summary_values():
    s = summary()
    assert (s["requests"], s["unexpected"]) == (12, 3)
    assert s["by_mode"] == {"online": 6, "offline": 4, "none": 2}
    assert s["by_decision"]["accepted"] == 3 and s["by_decision"]["refused"] == 1
    assert s["breaker"] == {"opened_after_s": 2.5, "closed_after_s": 3.5}  # guessed from faults
    # the caller's journal wins; the rest comes from the last poll
    assert s["journal"] == {"recorded": 3, "drained": 3, "pending": 0}
    assert s["slo_pass"] is True and s["slos"] == []


def test_slo_verdicts_in_summary_including_extra_sections():
    slos = [Slo("offline during the outage", "offline_share", ">=", 0.9, phase="outage"),
            Slo("journal drained", "journal.pending", "==", 0),
            Slo("attacker stopped early", "attack.suspended_after_s", "<=", 10),
            Slo("exposure bounded", "reconciliation.exposure_eur", "<=", 20)]
    s = summary(slos=slos, extra={"attack": {"suspended_after_s": 4.0}})
    assert [r["pass"] for r in s["slos"]] == [False, True, True, True]
    assert s["slos"][0]["actual"] == 0.8 and s["slo_pass"] is False
    assert summary(slos=slos[1:], extra={"attack": {"suspended_after_s": 4.0}})["slo_pass"] is True


def test_stats_flatten_sections_and_phases():
    stats = stats_from_summary(summary())
    assert stats["phase.outage.p95_ms"] == 1500
    assert stats["by_mode.offline"] == 4 and stats["breaker.opened_after_s"] == 2.5
    assert stats["journal.pending"] == 0 and stats["unexpected"] == 3


def test_timeline_one_row_per_second():
    history = [{"at": 10.0, "until": 20.0, "mode": "down"}, {"at": 26.0, "until": None, "mode": "latency"}]
    rows = timeline_rows(SAMPLES, POINTS, PHASES, history, duration_s=31)
    assert [r["t_s"] for r in rows] == list(range(31))
    assert rows[10]["requests"] == 1 and rows[10]["none"] == 1 and rows[10]["error"] == 1
    assert rows[10]["unexpected"] == 1 and rows[10]["p95_ms"] == 1500
    assert rows[13]["offline"] == 1 and rows[13]["refused"] == 1
    assert rows[4]["requests"] == 0 and rows[4]["p95_ms"] is None
    # breaker as last polled before the second ended
    assert rows[12]["breaker"] == "open" and rows[11]["breaker"] == "closed"
    assert rows[23]["breaker"] == "closed" and rows[23]["journal_pending"] == 1
    assert (rows[9]["fault"], rows[10]["fault"], rows[20]["fault"], rows[27]["fault"]) == (
        "up", "down", "up", "latency")
    assert rows[30]["fault"] == "latency"  # an open fault lasts to the end


def test_timeline_before_the_first_poll_is_blank():
    rows = timeline_rows([ok(0.2, 5)], [StatusPoint(1.5, "closed", 0, 0, 0)], [], [], duration_s=2)
    assert rows[0]["breaker"] == "" and rows[0]["fault"] == ""
    assert rows[1]["breaker"] == "closed"


def test_a_poll_exactly_at_the_phase_start_counts():
    points = [StatusPoint(9.0, "closed", 0, 0, 0), StatusPoint(10.0, "open", 0, 0, 0),
              StatusPoint(20.0, "closed", 0, 0, 0)]
    assert breaker_times(points, PHASES, "outage", "return") == {"opened_after_s": 0.0,
                                                                 "closed_after_s": 0.0}
