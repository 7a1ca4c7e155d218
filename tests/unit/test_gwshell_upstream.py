"""One gateway request at the platform: retries, same idempotency key, breaker, errors."""
from __future__ import annotations

import pytest
import requests

from gateway.online.breaker import config_of
from gateway.online.breaker_store import SharedBreaker
from gateway.online.failures import TransientUpstream
from gateway.online.upstream import BreakerOpen, Upstream
from tests.support.gateway_fakes import ScriptedPlatform, refused, settings


class FakeTime:
    def __init__(self) -> None:
        self.t, self.sleeps = 0.0, []

    def clock(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s


def make(tmp_path, script, **kw):
    s = settings(tmp_path, **kw)
    ft = FakeTime()
    platform = ScriptedPlatform(script)
    breaker = SharedBreaker(s.breaker_path, config_of(s), ft.clock)
    up = Upstream(s, breaker, clock=ft.clock, sleep=ft.sleep, transport=platform)
    return up, platform, breaker, ft


def test_transient_statuses_are_retried_with_the_same_idempotency_key(tmp_path):
    answers = iter([(503, {}), (502, {}), (200, {"decision": "accepted"})])
    up, platform, breaker, ft = make(tmp_path, lambda r: next(answers))
    reply = up.call("POST", "/v1/pec", {"Idempotency-Key": "k-1"}, b"{}")
    assert reply.status == 200
    assert [r.headers["Idempotency-Key"] for r in platform.sent] == ["k-1"] * 3
    assert len(ft.sleeps) == 2 and all(0 <= s <= 0.4 for s in ft.sleeps)
    assert breaker.snapshot()["recorded"] == 3 and breaker.snapshot()["failures"] == 2


def test_retry_after_is_honoured_and_a_business_answer_is_final(tmp_path):
    answers = iter([(429, {}, {"Retry-After": "0.3"}), (422, {"code": "VALIDATION_FAILED"})])
    up, platform, breaker, ft = make(tmp_path, lambda r: next(answers))
    reply = up.call("POST", "/v1/eligibility", {}, b"{}")
    assert reply.status == 422 and ft.sleeps == [0.3] and len(platform.sent) == 2
    assert breaker.snapshot()["failures"] == 0  # a 429 and a 4xx decline are both the platform answering


def test_refused_connection_forces_the_breaker_open_then_calls_skip_the_platform(tmp_path):
    up, platform, breaker, ft = make(tmp_path, lambda r: refused())
    with pytest.raises(TransientUpstream) as exc:
        up.call("POST", "/v1/eligibility", {}, b"{}")
    assert exc.value.error == "refused" and breaker.state() == "open"
    assert len(platform.sent) == 1  # the breaker stopped the retries at once
    with pytest.raises(BreakerOpen):
        up.call("POST", "/v1/eligibility", {}, b"{}")
    assert len(platform.sent) == 1


def test_timeouts_respect_the_deadline_and_are_reported_as_timeouts(tmp_path):
    def slow(r):
        ft.t += 1.0  # each attempt burns its read timeout
        return requests.ReadTimeout("read timed out")
    up, platform, breaker, ft = make(tmp_path, slow)
    with pytest.raises(TransientUpstream) as exc:
        up.call("POST", "/v1/eligibility", {}, b"{}")
    assert exc.value.error == "timeout"
    assert len(platform.sent) == 2 and ft.t <= 1.5 + 1.0  # no third attempt past the 1.5 s deadline


def test_a_truncated_success_is_no_answer(tmp_path):
    up, platform, breaker, ft = make(tmp_path, lambda r: (200, b'{"decision": "elig'), max_attempts=2)
    with pytest.raises(TransientUpstream) as exc:
        up.call("POST", "/v1/eligibility", {}, b"{}")
    assert exc.value.error == "protocol" and len(platform.sent) == 2


def test_naive_is_one_call_with_the_long_timeout(tmp_path):
    seen = []
    s = settings(tmp_path)
    platform = ScriptedPlatform(lambda r: (503, {}))
    original = platform.send

    def send(request, **kw):
        seen.append(kw.get("timeout"))
        return original(request, **kw)
    platform.send = send  # type: ignore[method-assign]
    up = Upstream(s, None, transport=platform)
    assert up.naive("POST", "/v1/eligibility", {}, b"{}").status == 503
    assert len(platform.sent) == 1 and seen == [30.0]
