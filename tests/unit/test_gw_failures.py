"""Failure classification and retry decisions, run on tenacity with a fake clock and sleep."""
import uuid

import pytest
from tenacity import Retrying

from gateway.online.breaker import BreakerConfig
from gateway.online.failures import (TransientUpstream, breaker_outcome, classify, is_retryable,
                              offline_cause, parse_retry_after, retry_policy)


@pytest.mark.parametrize("status,error,kind", [
    (200, None, "success"), (201, None, "success"),
    (400, None, "business"), (401, None, "business"), (403, None, "business"),
    (404, None, "business"), (409, None, "business"), (422, None, "business"),
    (408, None, "transient"), (429, None, "transient"),
    (502, None, "transient"), (503, None, "transient"), (504, None, "transient"),
    (500, None, "fatal"), (501, None, "fatal"), (505, None, "fatal"), (599, None, "fatal"),
    (None, "connect", "transient"), (None, "timeout", "transient"),
    (None, "reset", "transient"), (200, "protocol", "transient"), (None, None, "transient"),
    (302, None, "fatal"),
])
def test_classification_table(status, error, kind):
    assert classify(status, error) == kind


def test_only_transient_is_retryable():
    assert [k for k in ("success", "business", "transient", "fatal") if is_retryable(k)] == ["transient"]


@pytest.mark.parametrize("kind,elapsed,outcome", [
    ("success", 0.1, "success"), ("business", 0.1, "success"),  # a decline never trips it
    ("success", 1.0, "slow_success"), ("business", 2.0, "slow_success"),
    ("transient", 0.1, "failure"), ("fatal", 0.1, "failure"),
])
def test_breaker_outcome(kind, elapsed, outcome):
    assert breaker_outcome(kind, elapsed, BreakerConfig()) == outcome


def test_offline_cause():
    assert offline_cause("connect", breaker_open=True) == "breaker_open"
    assert offline_cause(None, breaker_open=True) == "breaker_open"
    assert offline_cause("timeout", breaker_open=False) == "timeout"
    for error in ("connect", "reset", "protocol", None):
        assert offline_cause(error, breaker_open=False) == "unreachable"


def test_parse_retry_after():
    assert parse_retry_after("2") == 2.0 and parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("-1") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None


class FakeClock:
    """Monotonic clock that only moves when the code under test sleeps or an attempt 'takes time'."""

    def __init__(self):
        self.t, self.sleeps = 1000.0, []

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.t += seconds


def run(script, clock, attempt_s=0.01, **policy):
    """Drive the shell's loop: one idempotency key, then one scripted outcome per attempt."""
    key = str(uuid.uuid4())  # created once per gateway request, before the retry loop
    sent = []
    outcomes = iter(script)
    try:
        for attempt in Retrying(**retry_policy(clock=clock, sleep=clock.sleep, **policy)):
            with attempt:
                sent.append(key)
                clock.t += attempt_s
                outcome = next(outcomes)
                if isinstance(outcome, Exception):
                    raise outcome
        result = outcome
    except TransientUpstream as exc:
        result = exc
    return result, sent


def transient(status=503, retry_after=None):
    return TransientUpstream("transient", status, retry_after)


def test_retries_transient_until_success_with_the_same_key():
    clock = FakeClock()
    result, sent = run([transient(), transient(502), "answer"], clock)
    assert result == "answer" and len(sent) == 3 and len(set(sent)) == 1
    assert len(clock.sleeps) == 2


def test_fatal_is_not_retried():
    clock = FakeClock()
    result, sent = run([TransientUpstream("fatal", 500), "never"], clock)
    assert isinstance(result, TransientUpstream) and result.status == 500
    assert len(sent) == 1 and clock.sleeps == []


def test_other_exceptions_are_not_retried():
    clock = FakeClock()
    with pytest.raises(KeyError):
        run([KeyError("bug"), "never"], clock)
    assert clock.sleeps == []


def test_stops_after_max_attempts_and_reraises_last():
    clock = FakeClock()
    result, sent = run([transient(503), transient(504), transient(502), "never"], clock)
    assert isinstance(result, TransientUpstream) and result.status == 502 and len(sent) == 3


def test_backoff_is_full_jitter_within_bounds():
    clock = FakeClock()
    run([transient()] * 5 + ["ok"], clock, max_attempts=6, deadline_s=100.0)
    caps = [0.05, 0.1, 0.2, 0.4, 0.4]  # base * 2^(n-1), capped at max_backoff_s
    assert all(0.0 <= s <= cap for s, cap in zip(clock.sleeps, caps, strict=True))


def test_retry_after_is_honoured_on_429():
    clock = FakeClock()
    result, sent = run([transient(429, retry_after=0.7), "ok"], clock)
    assert result == "ok" and clock.sleeps == [0.7]


def test_retry_after_beyond_deadline_gives_up_at_once():
    clock = FakeClock()
    result, sent = run([transient(429, retry_after=30.0), "never"], clock)
    assert isinstance(result, TransientUpstream) and result.status == 429
    assert len(sent) == 1 and clock.sleeps == []  # no sleeping into a useless deadline


def test_deadline_stops_before_attempts_run_out():
    clock = FakeClock()
    # Each attempt takes 0.8 s (read timeouts): the third could only start past 1.5 s.
    result, sent = run([transient(None), transient(None), "never"], clock, attempt_s=0.8,
                       max_attempts=10, base_s=0.2, max_backoff_s=0.2)
    assert isinstance(result, TransientUpstream) and len(sent) == 2
    assert len(clock.sleeps) == 1 and clock.t - 1000.0 <= 1.6 + 0.2


def test_deadline_is_counted_from_started_at():
    clock = FakeClock()
    # The request already spent 1.45 s elsewhere (queue, auth): no room left for a retry.
    result, sent = run([transient(), "never"], clock, attempt_s=0.06, started_at=clock.t - 1.45)
    assert isinstance(result, TransientUpstream) and len(sent) == 1


def test_wait_caps_retry_after_at_the_remaining_deadline():
    from types import SimpleNamespace

    from gateway.online.failures import stop_at_deadline, wait_retry_after_or_jitter
    from tenacity import wait_fixed
    clock = FakeClock()
    deadline = stop_at_deadline(1.5, clock, started_at=clock.t - 1.0)
    wait = wait_retry_after_or_jitter(wait_fixed(0.03), deadline)

    def state(exc):
        return SimpleNamespace(outcome=SimpleNamespace(exception=lambda: exc), attempt_number=1)
    assert wait(state(transient(429, retry_after=30.0))) == pytest.approx(0.5)
    assert wait(state(transient(429, retry_after=0.2))) == pytest.approx(0.2)
    assert wait(state(transient(503))) == pytest.approx(0.03)  # no Retry-After: the backoff


def test_a_429_is_retried_but_never_trips_the_breaker():
    assert is_retryable(classify(429, None))
    assert breaker_outcome("transient", 0.01, BreakerConfig(), status=429) == "success"
    assert breaker_outcome("transient", 0.01, BreakerConfig(), status=503) == "failure"
