"""What one upstream attempt means, and whether to try again: pure decisions for the shell.

`classify` sorts an attempt into success / business / transient / fatal. Business answers
(2xx, and 4xx other than 408/429: a decline or a refused request) are final and count as
successes for the breaker; the platform answered. Transient faults are retried; fatal ones
(500 and other 5xx) are not, but count as breaker failures.

Retries run on tenacity: `Retrying(**retry_policy(clock=..., sleep=...))`. The shell raises
`TransientUpstream` for an attempt that did not give a final answer. The deadline uses an
injected clock rather than tenacity's `stop_after_delay`, which reads `time.monotonic`
inline: so this module reads no clock, and tests run on a fake clock with a fake sleep.
Build one policy per gateway request: it fixes the request's start. The idempotency key is
created once per gateway request, before the retry loop, and every attempt sends that same
key, so a retry after a lost answer can never create a second PEC at the platform.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal

from tenacity import retry_if_exception, stop_after_attempt, wait_random_exponential
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from gateway.online.breaker import BreakerConfig

Kind = Literal["success", "business", "transient", "fatal"]
TRANSPORT_ERRORS = ("connect", "timeout", "reset", "protocol")
TRANSIENT_STATUSES = frozenset({408, 429, 502, 503, 504})


def classify(status: int | None, error: str | None) -> Kind:
    """One attempt: `error` is a transport error (see TRANSPORT_ERRORS) or None."""
    if error is not None or status is None:
        return "transient"  # connect, timeout, reset, protocol (no status: an unreadable answer)
    if status in TRANSIENT_STATUSES:
        return "transient"
    if 200 <= status < 300:
        return "success"
    if 400 <= status < 500:
        return "business"
    return "fatal"  # 500 and other 5xx; 1xx/3xx are outside the contract, so a platform bug


def is_retryable(kind: str) -> bool:
    return kind == "transient"


def breaker_outcome(kind: str, elapsed_s: float, cfg: BreakerConfig, status: int | None = None) -> str:
    """What the breaker records: a business decline is the platform answering, so a success.

    A 429 is retried (it is transient) but is not a breaker failure: the platform answered,
    and its rate limits are per account, so one throttled professional must not send the
    whole gateway offline.
    """
    if kind in ("transient", "fatal") and status != 429:
        return "failure"
    return "slow_success" if elapsed_s >= cfg.slow_call_s else "success"


def offline_cause(error: str | None, breaker_open: bool) -> str:
    """Why the platform was not asked, recorded with every offline decision."""
    if breaker_open:
        return "breaker_open"
    return "timeout" if error == "timeout" else "unreachable"


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds; an HTTP-date (would need a clock) or garbage gives None."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


@dataclass
class TransientUpstream(Exception):
    """Raised by the shell for an attempt without a final answer; tenacity decides on it."""

    kind: str  # classify()'s verdict: "transient" is retried, "fatal" is not
    status: int | None = None
    retry_after_s: float | None = None  # parsed Retry-After, when the platform sent one
    error: str | None = None  # the transport error, for offline_cause()

    def __post_init__(self) -> None:
        Exception.__init__(self, f"{self.kind} status={self.status} error={self.error}")


class stop_at_deadline(stop_base):
    """Stop when the next attempt would start at or past the deadline (sleep included)."""

    def __init__(self, deadline_s: float, clock: Callable[[], float], started_at: float) -> None:
        self.deadline_s, self.clock, self.started_at = deadline_s, clock, started_at

    def remaining_s(self) -> float:
        return self.deadline_s - (self.clock() - self.started_at)

    def __call__(self, retry_state: Any) -> bool:
        return retry_state.upcoming_sleep >= self.remaining_s()


class wait_retry_after_or_jitter(wait_base):
    """Honour the platform's Retry-After, capped by what is left of the deadline; otherwise
    full-jitter exponential backoff (AWS's "Full Jitter", tenacity's wait_random_exponential)."""

    def __init__(self, jitter: wait_base, deadline: stop_at_deadline) -> None:
        self.jitter, self.deadline = jitter, deadline

    def __call__(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, TransientUpstream) and exc.retry_after_s is not None:
            # Capped at the remaining budget: the stop then sees no time left and gives up
            # at once, rather than sleeping into a deadline it could not use.
            return max(0.0, min(exc.retry_after_s, self.deadline.remaining_s()))
        return float(self.jitter(retry_state))


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, TransientUpstream) and is_retryable(exc.kind)


def retry_policy(max_attempts: int = 3, deadline_s: float = 1.5, base_s: float = 0.05,
                 max_backoff_s: float = 0.4, *, clock: Callable[[], float],
                 started_at: float | None = None,
                 sleep: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Keyword arguments for `tenacity.Retrying`, for one gateway request.

    `clock` is the shell's monotonic clock; `started_at` defaults to its reading now.
    `sleep` replaces real sleeping (tests inject a fake that advances a fake clock).
    Exhausted attempts re-raise the last `TransientUpstream` (`reraise=True`).
    """
    deadline = stop_at_deadline(deadline_s, clock, clock() if started_at is None else started_at)
    jitter = wait_random_exponential(multiplier=base_s, max=max_backoff_s)
    kwargs: dict[str, Any] = {
        "stop": stop_after_attempt(max_attempts) | deadline,
        "wait": wait_retry_after_or_jitter(jitter, deadline),
        "retry": retry_if_exception(_transient),
        "reraise": True,
    }
    if sleep is not None:
        kwargs["sleep"] = sleep
    return kwargs

