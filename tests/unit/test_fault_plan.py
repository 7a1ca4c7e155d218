"""Fault plans: parsing, the fault in force over time, history, and per-request actions."""
import pytest

from simulator.faults.plan import (
    PASS, UP, Action, Fault, PlanError, Step, applied_history, fault_at, http_action,
    parse_fault, parse_timeline, plan_from_json, single_fault_plan, transport_action,
)

T0 = 1_700_000_000.0
AMC = "123456789"
OTHER_AMC = "987654321"


def timeline(*steps, seed=7):
    return parse_timeline({"steps": list(steps)}, T0, seed)


def errors_of(call, *args):
    with pytest.raises(PlanError) as info:
        call(*args)
    return dict(info.value.errors)


# --- parsing ---

@pytest.mark.parametrize("d, params", [
    ({"mode": "up"}, ()),
    ({"mode": "down"}, ()),
    ({"mode": "blackhole"}, ()),
    ({"mode": "reset"}, ()),
    ({"mode": "latency", "ms": 300}, (("ms", 300), ("jitter_ms", 0))),
    ({"mode": "latency", "ms": 300, "jitter_ms": 50.5}, (("ms", 300), ("jitter_ms", 50.5))),
    ({"mode": "errors", "rate": 0.3, "status": 502}, (("rate", 0.3), ("status", 502))),
    ({"mode": "errors"}, (("rate", 1.0), ("status", 503))),
    ({"mode": "errors", "status": [502, 504]}, (("rate", 1.0), ("status", (502, 504)))),
    ({"mode": "throttle", "retry_after": 5}, (("retry_after", 5), ("rate", 1.0))),
    ({"mode": "malformed", "kind": "truncated"}, (("kind", "truncated"), ("rate", 1.0))),
    ({"mode": "flap", "down_s": 10, "up_s": 5}, (("down_s", 10), ("up_s", 5))),
])
def test_every_mode_parses_with_defaults_filled_in(d, params):
    fault = parse_fault(d)
    assert fault == Fault(d["mode"], params)
    assert parse_fault(fault.to_json()) == fault


def test_amcs_and_for_s_are_kept_and_round_trip():
    fault = parse_fault({"mode": "errors", "rate": 0.5, "amcs": [AMC, OTHER_AMC], "for_s": 30})
    assert fault.amcs == frozenset({AMC, OTHER_AMC}) and fault.for_s == 30
    assert parse_fault(fault.to_json()) == fault


@pytest.mark.parametrize("d, path, fragment", [
    ({"mode": "explode"}, "/mode", "unknown mode"),
    ({}, "/mode", "required"),
    ({"mode": "latency"}, "/ms", "required"),
    ({"mode": "latency", "ms": "300"}, "/ms", "number"),
    ({"mode": "latency", "ms": -1}, "/ms", ">= 0"),
    ({"mode": "latency", "ms": float("nan")}, "/ms", "number"),
    ({"mode": "errors", "rate": 1.5}, "/rate", "<= 1"),
    ({"mode": "errors", "rate": True}, "/rate", "number"),
    ({"mode": "errors", "status": 404}, "/status", "500"),
    ({"mode": "errors", "status": []}, "/status", "500"),
    ({"mode": "throttle", "retry_after": 1.5}, "/retry_after", "whole number"),
    ({"mode": "malformed"}, "/kind", "required"),
    ({"mode": "malformed", "kind": "garbled"}, "/kind", "empty"),
    ({"mode": "flap", "down_s": 0, "up_s": 5}, "/down_s", "> 0"),
    ({"mode": "down", "ms": 3}, "/ms", "unknown key"),
    ({"mode": "down", "amcs": [AMC]}, "/amcs", "cannot limit mode down"),
    ({"mode": "blackhole", "amcs": [AMC]}, "/amcs", "cannot limit"),
    ({"mode": "reset", "amcs": [AMC]}, "/amcs", "cannot limit"),
    ({"mode": "flap", "down_s": 1, "up_s": 1, "amcs": [AMC]}, "/amcs", "cannot limit"),
    ({"mode": "errors", "amcs": AMC}, "/amcs", "list"),
    ({"mode": "errors", "amcs": [123456789]}, "/amcs/0", "9 digits"),
    ({"mode": "errors", "amcs": [AMC, "12345"]}, "/amcs/1", "9 digits"),
    ({"mode": "errors", "for_s": 0}, "/for_s", "> 0"),
    ({"mode": "errors", "at_s": 3}, "/at_s", "unknown key"),
])
def test_bad_faults_are_refused_with_a_path(d, path, fragment):
    errors = errors_of(parse_fault, d)
    assert fragment in errors[path]


def test_timeline_errors_are_all_reported_with_step_paths():
    errors = errors_of(parse_timeline, {"steps": [
        {"at_s": 10, "mode": "down"},
        {"at_s": 5, "mode": "latency", "ms": "slow"},
        {"mode": "up"},
    ], "loop": True}, T0, 1)
    assert set(errors) == {"/loop", "/steps/1/at_s", "/steps/1/ms", "/steps/2/at_s"}
    assert "sorted" in errors["/steps/1/at_s"]


@pytest.mark.parametrize("d", [{}, {"steps": []}, {"steps": "down"}, ["down"]])
def test_a_timeline_needs_a_list_of_steps(d):
    with pytest.raises(PlanError):
        parse_timeline(d, T0, 1)


def test_plan_round_trips_through_json():
    plan = timeline({"at_s": 0, "mode": "down", "for_s": 20}, {"at_s": 60, "mode": "errors", "rate": 0.2})
    assert plan_from_json(plan.to_json()) == plan
    with pytest.raises(PlanError):
        plan_from_json({"steps": []})


# --- the fault in force ---

def test_fault_at_follows_the_steps():
    plan = timeline({"at_s": 0, "mode": "down"},
                    {"at_s": 60, "mode": "latency", "ms": 300, "jitter_ms": 50, "amcs": [AMC]},
                    {"at_s": 90, "mode": "up"})
    assert fault_at(plan, T0 - 1) == (UP, T0)
    assert fault_at(plan, T0) == (Fault("down"), T0)
    assert fault_at(plan, T0 + 59.9)[0].mode == "down"
    latency, since = fault_at(plan, T0 + 60)
    assert latency.mode == "latency" and latency.amcs == {AMC} and since == T0 + 60
    assert fault_at(plan, T0 + 1000) == (UP, T0 + 90)


def test_a_late_first_step_leaves_the_platform_up_before_it():
    plan = timeline({"at_s": 30, "mode": "blackhole"})
    assert fault_at(plan, T0 + 29)[0] == UP
    assert transport_action(plan, T0 + 30) == "blackhole"


def test_for_s_ends_a_step_early_and_the_next_step_still_applies():
    plan = timeline({"at_s": 0, "mode": "reset", "for_s": 10}, {"at_s": 30, "mode": "down"})
    assert transport_action(plan, T0 + 9.9) == "reset"
    assert fault_at(plan, T0 + 10) == (UP, T0 + 10)
    assert transport_action(plan, T0 + 30) == "refuse"


def test_single_fault_plan_adds_an_up_step_after_for_s():
    plan = single_fault_plan(Fault("down", for_s=45), T0, 3)
    assert plan.steps == (Step(0.0, Fault("down", for_s=45)), Step(45, UP))
    assert transport_action(plan, T0 + 44) == "refuse"
    assert transport_action(plan, T0 + 45) == "pass"
    assert single_fault_plan(Fault("blackhole"), T0, 3).steps == (Step(0.0, Fault("blackhole")),)


def test_flap_alternates_starting_down():
    plan = timeline({"at_s": 10, "mode": "flap", "down_s": 4, "up_s": 6})
    start = T0 + 10
    assert fault_at(plan, start) == (Fault("down"), start)
    assert fault_at(plan, start + 3.9) == (Fault("down"), start)
    assert fault_at(plan, start + 4) == (UP, start + 4)
    assert fault_at(plan, start + 9.9) == (UP, start + 4)
    assert fault_at(plan, start + 10) == (Fault("down"), start + 10)
    assert fault_at(plan, start + 10 * 100 + 5) == (UP, start + 1004)
    actions = [transport_action(plan, start + s) for s in range(0, 20, 2)]
    assert actions == ["refuse", "refuse", "pass", "pass", "pass"] * 2


def test_transport_action_per_mode():
    for mode, action in [("down", "refuse"), ("blackhole", "blackhole"), ("reset", "reset"), ("up", "pass")]:
        assert transport_action(single_fault_plan(Fault(mode), T0, 0), T0 + 1) == action
    http_fault = parse_fault({"mode": "errors", "rate": 1})
    assert transport_action(single_fault_plan(http_fault, T0, 0), T0 + 1) == "pass"


# --- history ---

def test_history_lists_applied_steps_with_absolute_times():
    plan = timeline({"at_s": 0, "mode": "down"},
                    {"at_s": 60, "mode": "errors", "rate": 0.5, "amcs": [AMC], "for_s": 10},
                    {"at_s": 90, "mode": "throttle", "retry_after": 2})
    assert applied_history(plan, T0 - 5) == []
    assert applied_history(plan, T0 + 30) == [{"mode": "down", "at": T0, "until": None, "amcs": []}]
    history = applied_history(plan, T0 + 95)
    assert history == [
        {"mode": "down", "at": T0, "until": T0 + 60, "amcs": []},
        {"mode": "errors", "rate": 0.5, "status": 503, "for_s": 10, "at": T0 + 60, "until": T0 + 70, "amcs": [AMC]},
        {"mode": "up", "at": T0 + 70, "until": T0 + 90, "amcs": []},
        {"mode": "throttle", "retry_after": 2, "rate": 1.0, "at": T0 + 90, "until": None, "amcs": []},
    ]


def test_history_of_a_running_timed_fault_has_no_end_yet():
    plan = single_fault_plan(Fault("down", for_s=45), T0, 3)
    assert [h["until"] for h in applied_history(plan, T0 + 10)] == [None]
    assert [(h["mode"], h["until"]) for h in applied_history(plan, T0 + 50)] == [("down", T0 + 45), ("up", None)]


# --- what a fault does to one request ---

def test_latency_delay_is_ms_plus_seeded_jitter():
    fault = parse_fault({"mode": "latency", "ms": 300, "jitter_ms": 50})
    delays = [http_action(fault, 1, f"req-{i}", None).delay_ms for i in range(500)]
    assert all(300 <= d < 350 for d in delays)
    assert max(delays) - min(delays) > 40  # the jitter is really spread
    assert http_action(parse_fault({"mode": "latency", "ms": 120}), 1, "k", None) == Action("delay", delay_ms=120)


def test_status_actions():
    assert http_action(parse_fault({"mode": "errors", "status": 502}), 1, "k", None) == Action("status", status=502)
    throttled = http_action(parse_fault({"mode": "throttle", "retry_after": 7}), 1, "k", None)
    assert throttled == Action("status", status=429, headers=(("Retry-After", "7"),))
    mixed = parse_fault({"mode": "errors", "status": [502, 504]})
    assert {http_action(mixed, 1, f"k{i}", None).status for i in range(100)} == {502, 504}


def test_malformed_action_names_its_kind():
    fault = parse_fault({"mode": "malformed", "kind": "empty"})
    assert http_action(fault, 1, "k", AMC) == Action("malformed", malformed="empty")


@pytest.mark.parametrize("mode", ["up", "down", "blackhole", "reset"])
def test_transport_modes_pass_at_http_level(mode):
    assert http_action(Fault(mode), 1, "k", AMC) == PASS
    assert http_action(parse_fault({"mode": "flap", "down_s": 1, "up_s": 1}), 1, "k", AMC) == PASS


def test_per_amc_faults_hit_only_their_amcs():
    fault = parse_fault({"mode": "errors", "status": 503, "amcs": [AMC]})
    assert http_action(fault, 1, "k", AMC).status == 503
    assert http_action(fault, 1, "k", OTHER_AMC) == PASS
    assert http_action(fault, 1, "k", None) == PASS
    unlimited = parse_fault({"mode": "errors", "status": 503})
    assert http_action(unlimited, 1, "k", None).status == 503


def test_actions_are_a_pure_function_of_seed_and_request_key():
    fault = parse_fault({"mode": "errors", "rate": 0.5})
    first = [http_action(fault, 42, f"r{i}", None) for i in range(200)]
    assert first == [http_action(fault, 42, f"r{i}", None) for i in range(200)]
    assert first != [http_action(fault, 43, f"r{i}", None) for i in range(200)]


@pytest.mark.parametrize("d, hit", [
    ({"mode": "errors", "rate": 0.3}, lambda a: a.kind == "status"),
    ({"mode": "throttle", "rate": 0.3}, lambda a: a.status == 429),
    ({"mode": "malformed", "kind": "truncated", "rate": 0.3}, lambda a: a.kind == "malformed"),
])
def test_rates_hold_over_many_requests(d, hit):
    fault = parse_fault(d)
    share = sum(hit(http_action(fault, 9, f"req-{i}", None)) for i in range(4000)) / 4000
    assert 0.25 <= share <= 0.35


@pytest.mark.parametrize("rate, expected", [(0, 0), (1, 1000)])
def test_rate_bounds_are_exact(rate, expected):
    fault = parse_fault({"mode": "errors", "rate": rate})
    assert sum(http_action(fault, 5, str(i), None).kind == "status" for i in range(1000)) == expected
