"""HTTP-level faults (latency, errors, throttle, malformed) applied in the platform's workers.

A before_request hook asks the pure core what the fault in force does to this request
(`http_action`) and acts: sleep then serve, answer a problem document, or serve and then
damage the body. Transport modes (down, blackhole, reset, flap) pass here: the proxy in
front has already acted on them.

Replay: random choices hash (seed, request key). The key is the request's
`Idempotency-Key` plus how many times this worker has seen that key, so a run that sends
the same keys in the same order replays exactly, and a retry (same key, DESIGN.md 5.1)
draws afresh instead of failing forever as its first attempt did. Requests without a key
use the worker's request count: each worker replays its own sequence; not the pid, which
would change every run.
"""
from __future__ import annotations

import io
import itertools
import json
import threading
import time
from collections import OrderedDict

from flask import Flask, Response, g, request

from tiers_payant.cards import peek_amc
from tiers_payant.httpkit import problem_response
from tiers_payant.problems import Problem

from ..control import is_control_blueprint, on_control_port
from .plan import HTTP_MODES, fault_at, http_action
from .runtime import PlanReader

STATUS_CODES = {500: "INTERNAL_ERROR", 502: "UPSTREAM_ERROR", 503: "SERVICE_UNAVAILABLE", 504: "UPSTREAM_TIMEOUT",
                429: "RATE_LIMITED"}
MAX_KEYS = 10_000  # attempts remembered per worker; an older key starting over only loses exact replay


class RequestKeys:
    """Stable keys for requests, per worker (see the module docstring)."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self._seen: OrderedDict[str, int] = OrderedDict()
        self._count = itertools.count()
        self._lock = threading.Lock()
        self.max_keys = max_keys

    def key(self, idempotency_key: str | None) -> str:
        with self._lock:
            if idempotency_key is None:
                return f"n:{next(self._count)}"
            attempt = self._seen.pop(idempotency_key, -1) + 1
            self._seen[idempotency_key] = attempt
            if len(self._seen) > self.max_keys:
                self._seen.popitem(last=False)
            return f"k:{idempotency_key}:{attempt}"


def amc_of_body(raw: bytes) -> str | None:
    """The AMC of the card in a JSON body (`card`), read without verifying; None if there is none."""
    try:
        card = json.loads(raw).get("card")
    except (ValueError, AttributeError):
        return None
    return peek_amc(card) if isinstance(card, str) else None


def _request_amc() -> str | None:
    raw = request.get_data(cache=True)
    request.stream = io.BytesIO(raw)  # get_data drained the stream the views read from
    return amc_of_body(raw)


def truncate(body: bytes) -> bytes:
    """At most half of the answer, and never all of it: a JSON parser must fail on it."""
    return body[: len(body) // 2] if len(body) > 1 else b"{"


def install_faults(app: Flask, services) -> None:
    reader, keys = PlanReader(services.store), RequestKeys()

    @app.before_request
    def _fault():
        if request.path == "/healthz" or is_control_blueprint(request.blueprint) or on_control_port():
            return None
        plan = reader.plan()
        if plan is None:
            return None
        fault, _ = fault_at(plan, time.time())
        if fault.mode not in HTTP_MODES:
            return None
        amc = _request_amc() if fault.amcs else None
        action = http_action(fault, plan.seed, keys.key(request.headers.get("Idempotency-Key")), amc)
        if action.kind == "pass":
            return None
        services.counters.inc(f"faults.{fault.mode}")
        if action.kind == "delay":
            time.sleep(action.delay_ms / 1000)
            return None
        if action.kind == "status":
            return problem_response(Problem(STATUS_CODES[action.status], f"injected fault: {fault.mode}",
                                            headers=dict(action.headers), status=action.status))
        g.malformed = action.malformed  # serve first: the operation happens, its answer is damaged
        return None

    @app.after_request
    def _damage(resp: Response) -> Response:
        kind = g.pop("malformed", None)
        if kind is None:
            return resp
        body = b"" if kind == "empty" else truncate(resp.get_data())
        resp.status_code = 200
        resp.set_data(body)  # also sets Content-Length to the damaged body's length
        return resp
