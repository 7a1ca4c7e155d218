"""The classroom page: a small server of its own inside the Locust process (not on
Locust's web UI), by default http://127.0.0.1:8090/live, and `python -m loadtests live`,
which starts what it needs, then Locust with its web UI and this page.

The page shows the gateway (breaker, answers per second by mode over the last 2 s, a
rolling chart, the journal, the exposure, the fault in force) and has Start / Stop (the
load) and Cut / Restore / Slow (the platform). Its actions are under the same URL:
`GET /live/state`, `POST /live/start`, `/live/stop`, `/live/fault` {"fault": "down"|"up"|"slow"}.
Every call is checked by `loadtests.live_guard` (Host, Origin, CSRF token of the session);
the control API's URL is the command line's, fixed at start, and its token is the
process's SIM_ADMIN_TOKEN: the browser supplies neither.
"""
from __future__ import annotations

import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

import requests

from loadtests.collect import STATE, control, gateway_status
from loadtests.live_guard import SESSION_COOKIE, Guard, allowed_hosts
from loadtests.live_series import series

LIVE_ACCOUNTS = 60  # per profession: more shops than a classroom starts

HERE = Path(__file__).parent
BUTTONS = {"down": {"mode": "down"}, "up": {"mode": "up"},
           "slow": {"mode": "latency", "ms": 1200, "jitter_ms": 600}}
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Referrer-Policy": "no-referrer",
           "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"}


def live_state(environment: Any) -> dict[str, Any]:
    """Everything the page draws, in one answer; unreachable parts are None, not errors."""
    status = gateway_status(STATE.gateway_url or environment.host) or None
    faults = None
    if STATE.control_url:
        try:
            r = control(STATE.control_url, "GET", "/v1/faults")
            faults = r.json() if r.status_code == 200 else None  # a 401 (wrong token) is "unknown", not "up"
        except (requests.RequestException, ValueError):
            faults = None
    phase = STATE.scenario.phase_at(STATE.elapsed()) if STATE.scenario and STATE.t0 else None
    breaker = (status or {}).get("breaker")
    runner = environment.runner
    return {"gateway": status is not None,
            "resilience": (status or {}).get("resilience"),
            "breaker": breaker.get("state") if isinstance(breaker, dict) else breaker,
            "journal": (status or {}).get("journal"),
            "reconciliation": (status or {}).get("reconciliation"),
            "fault": (faults or {}).get("current"), "fault_since": (faults or {}).get("since"),
            "control": faults is not None, "rates": STATE.recent(),
            "series": series(STATE.samples, since=STATE.t0),
            "running": bool(runner and runner.state in ("spawning", "running")),
            "users": runner.user_count if runner else 0,
            "scenario": STATE.scenario.name if STATE.scenario else None,
            "phase": phase.name if phase else None, "elapsed_s": round(STATE.elapsed(), 1)}


def make_app(environment: Any, guard: Guard):
    from flask import Flask, Response, jsonify, make_response, request

    app = Flask("loadtests.live")

    @app.before_request
    def _check():
        why = guard.refusal(request.method, request.headers, request.cookies)
        if why:
            return jsonify({"error": f"refused: {why}"}), 403
        return None

    @app.after_request
    def _headers(response):
        response.headers.update(HEADERS)
        return response

    @app.get("/live")
    def page():
        session = request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(24)
        html = (HERE / "live.html").read_text(encoding="utf-8").replace("{{csrf}}", guard.csrf_token(session))
        response = make_response(Response(html, mimetype="text/html"))
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="Strict", path="/live")
        return response

    @app.get("/live/live.js")
    def script():
        return Response((HERE / "live.js").read_text(encoding="utf-8"), mimetype="text/javascript")

    @app.get("/live/state")
    def state():
        return jsonify(live_state(environment))

    @app.post("/live/fault")
    def fault():
        name = (request.get_json(silent=True) or {}).get("fault")
        if name not in BUTTONS:
            return jsonify({"error": f"fault must be one of {sorted(BUTTONS)}"}), 400
        if not STATE.control_url:
            return jsonify({"error": "no control API for this run (--control-url)"}), 409
        try:
            r = control(STATE.control_url, "POST", "/v1/faults", json=BUTTONS[name])
        except requests.RequestException as e:
            return jsonify({"error": f"control API unreachable: {e}"}), 502
        body = r.json() if r.headers.get("Content-Type", "").endswith("json") else {"text": r.text[:200]}
        return jsonify({"status": r.status_code, "answer": body}), (200 if r.status_code < 300 else 502)

    @app.post("/live/start")
    def start():
        runner = environment.runner
        if runner.state in ("spawning", "running"):
            return jsonify({"running": True})
        if environment.shape_class is not None:
            runner.start_shape()  # the scenario's phases, as Locust's own Start does
        else:
            runner.start(STATE.scenario.peak_users if STATE.scenario else 1, 10)
        return jsonify({"running": True})

    @app.post("/live/stop")
    def stop():
        environment.runner.stop()
        return jsonify({"running": False})

    return app


def serve_live(environment: Any, host: str, port: int, extra_hosts: str = "") -> str:
    """Start the page's server in this (gevent) process; returns the page's URL."""
    from gevent.pywsgi import WSGIServer

    guard = Guard(allowed_hosts(port, extra_hosts))
    server = WSGIServer((host, port), make_app(environment, guard), log=None)
    server.start()
    return f"http://{'127.0.0.1' if host in ('127.0.0.1', '') else host}:{port}/live"


def live_ui(scenario: str, web_port: int = 8089, live_port: int = 8090) -> int:
    """Locust with its web UI for a class and the live page; Ctrl-C (or a closed terminal)
    ends it and stops what was started for it."""
    from loadtests import owned
    from loadtests import stack as stacks
    from loadtests.run import CASES, LOCUSTFILE

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)  # `kill` and a closed terminal clean up like Ctrl-C does
    try:
        stack = stacks.ensure("full")
    except stacks.StackError as e:
        print(f"cannot start: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    with stack:
        print("\n".join(stack.describe()))
        stack.prepare_sandbox(CASES, LIVE_ACCOUNTS)
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", stack.gateway_url,
               "--scenario", scenario, "--platform-url", stack.platform_url, "--control-url",
               stack.control_url or "", "--beneficiaries", str(stack.beneficiaries), "--sandbox-seed",
               str(stack.seed), "--web-host", "127.0.0.1", "--web-port", str(web_port),
               "--live-port", str(live_port)]
        log = stacks.VAR / "logs" / "live.log"
        proc = owned.spawn("locust", cmd, env={**os.environ, **stack.env()}, log=log)
        print(f"Locust web UI: http://127.0.0.1:{web_port} (log {log})\n"
              f"live page: http://127.0.0.1:{live_port}/live\n"
              "press Start shops on the live page · Ctrl-C to stop", flush=True)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            owned.stop(proc, "locust")
            return 0


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt
