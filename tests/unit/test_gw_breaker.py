"""The breaker as a state machine on a fake clock: no sleeping, every transition by hand."""
from hypothesis import given, strategies as st

from gateway.online.breaker import BreakerConfig, BreakerState, allow, force_open, record, transition

CFG = BreakerConfig()  # window 10 s, min 10 calls, 50 % failures, 80 % slow, open 2 s, 3 probes


def feed(state, outcomes, start=0.0, step=0.1, cfg=CFG):
    t = start
    for outcome in outcomes:
        state = record(state, cfg, t, outcome)
        t += step
    return state


def opened(now=0.0):
    return force_open(BreakerState(), now)


def test_closed_always_allows():
    ok, state = allow(BreakerState(), CFG, 0.0)
    assert ok and state == BreakerState()


def test_no_verdict_below_min_calls():
    state = feed(BreakerState(), ["failure"] * 9)
    assert state.state == "closed"
    assert record(state, CFG, 1.0, "failure").state == "open"


def test_opens_at_failure_rate_threshold_not_below():
    below = feed(BreakerState(), ["failure"] * 4 + ["success"] * 6)
    assert below.state == "closed"
    at = feed(BreakerState(), ["failure"] * 5 + ["success"] * 5)
    assert at.state == "open" and at.opened_at is not None and at.calls == ()


def test_opens_on_slow_call_rate():
    state = feed(BreakerState(), ["slow_success"] * 8 + ["success"] * 2)
    assert state.state == "open"
    assert feed(BreakerState(), ["slow_success"] * 7 + ["success"] * 3).state == "closed"


def test_sliding_window_forgets_old_failures():
    state = feed(BreakerState(), ["failure"] * 9, start=0.0)
    # 10 s later the old failures are out of the window: one more failure is 1 of 1 call.
    state = record(state, CFG, 20.0, "failure")
    assert state.state == "closed" and len(state.calls) == 1


def test_window_length_is_capped():
    cfg = BreakerConfig(max_calls=50)
    state = feed(BreakerState(), ["success"] * 200, step=0.001, cfg=cfg)
    assert len(state.calls) == 50 and state.calls[-1][0] > 0.19


def test_open_rejects_until_open_s_then_half_open():
    state = opened(100.0)
    ok, same = allow(state, CFG, 101.9)
    assert not ok and same == state
    ok, half = allow(state, CFG, 102.0)
    assert ok and half.state == "half_open" and half.probes_in_flight == 1
    assert transition(state, half) == ("open", "half_open")


def test_half_open_limits_concurrent_probes():
    _, state = allow(opened(), CFG, 5.0)
    results = []
    for _ in range(3):
        ok, state = allow(state, CFG, 5.0)
        results.append(ok)
    assert results == [True, True, False] and state.probes_in_flight == 3


def test_half_open_closes_after_enough_successes_with_empty_window():
    _, state = allow(opened(), CFG, 5.0)
    for i in range(3):
        if i:
            _, state = allow(state, CFG, 5.0)
        before = state
        state = record(state, CFG, 5.1, "success")
    assert state.state == "closed" and state.calls == () and state.probe_successes == 0
    assert transition(before, state) == ("half_open", "closed")


def test_half_open_failure_reopens_with_new_opened_at():
    _, state = allow(opened(0.0), CFG, 5.0)
    state = record(state, CFG, 5.0, "success")
    again = record(state, CFG, 5.2, "failure")
    assert again.state == "open" and again.opened_at == 5.2
    assert transition(state, again) == ("half_open", "open")
    assert not allow(again, CFG, 6.0)[0]


def test_half_open_all_slow_probes_reopen():
    _, state = allow(opened(), CFG, 5.0)
    for _ in range(3):
        state = record(state, CFG, 5.5, "slow_success")
    assert state.state == "open"


def test_results_arriving_while_open_are_ignored():
    state = opened(1.0)
    assert record(state, CFG, 1.5, "success") == state


def test_force_open_keeps_timer_when_already_open():
    state = opened(1.0)
    assert force_open(state, 1.5) == state
    assert transition(BreakerState(), state) == ("closed", "open")


def test_no_transition_when_state_unchanged():
    state = BreakerState()
    assert transition(state, record(state, CFG, 0.0, "success")) is None


def test_transitions_are_counted():
    state = opened()
    _, state = allow(state, CFG, 2.0)
    state = record(state, CFG, 2.0, "failure")
    assert state.transitions == 3  # closed->open, open->half_open, half_open->open


@given(st.lists(st.sampled_from(["success", "failure", "slow_success"]), max_size=300),
       st.floats(min_value=0.0, max_value=5.0))
def test_window_stays_bounded_and_recent(outcomes, step):
    cfg = BreakerConfig(max_calls=40, min_calls=1000)  # never opens: watch the window alone
    state = feed(BreakerState(), outcomes, step=step, cfg=cfg)
    assert len(state.calls) <= 40
    if state.calls:
        last = state.calls[-1][0]
        assert all(last - t < cfg.window_s for t, _, _ in state.calls)
