"""The classroom page: `/live` on Locust's web UI (default http://127.0.0.1:8089/live), and
`python -m loadtests live`, which starts what it needs and then Locust's UI.

Locust's UI shows requests; this page shows the gateway: breaker state, online / offline /
declined answers per second, the journal's depth, the exposure, the fault in force, and
two buttons that cut and restore the platform. The browser never holds the admin token:
the buttons post to `/live/fault`, which calls the control API from the Locust process
(token from SIM_ADMIN_TOKEN) and accepts only the few faults the page offers.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests
from flask import Response, jsonify, request

from loadtests.collect import STATE, control, gateway_status

PAGE = Path(__file__).with_name("live.html")
BUTTONS = {"down": {"mode": "down"}, "up": {"mode": "up"},
           "slow": {"mode": "latency", "ms": 1200, "jitter_ms": 600}}


def live_state(environment: Any) -> dict[str, Any]:
    """Everything the page draws, in one answer; unreachable parts are None, not errors."""
    status = gateway_status(environment.host) or None
    try:
        r = control(environment.parsed_options.control_url, "GET", "/v1/faults")
        faults = r.json() if r.status_code == 200 else None  # a 401 (wrong token) is "unknown", not "up"
    except (requests.RequestException, ValueError):
        faults = None
    phase = STATE.scenario.phase_at(STATE.elapsed()) if STATE.scenario and STATE.t0 else None
    breaker = (status or {}).get("breaker")
    return {"gateway": status is not None,
            "resilience": (status or {}).get("resilience"),
            "breaker": breaker.get("state") if isinstance(breaker, dict) else breaker,
            "journal": (status or {}).get("journal"),
            "reconciliation": (status or {}).get("reconciliation"),
            "fault": (faults or {}).get("current"), "fault_since": (faults or {}).get("since"),
            "control": faults is not None, "rates": STATE.recent(),
            "users": environment.runner.user_count if environment.runner else 0,
            "scenario": STATE.scenario.name if STATE.scenario else None,
            "phase": phase.name if phase else None, "elapsed_s": round(STATE.elapsed(), 1)}


def install_live(app: Any, environment: Any) -> None:
    """Add /live, /live/state and /live/fault to Locust's Flask app."""
    web_ui = environment.web_ui
    guard = getattr(web_ui, "auth_required_if_enabled", lambda f: f)

    @app.route("/live")
    @guard
    def live_page() -> Response:
        return Response(PAGE.read_text(encoding="utf-8"), mimetype="text/html")

    @app.route("/live/state")
    @guard
    def live_state_json() -> Response:
        return jsonify(live_state(environment))

    @app.route("/live/fault", methods=["POST"])
    @guard
    def live_fault() -> tuple[Response, int]:
        name = (request.get_json(silent=True) or {}).get("fault")
        if name not in BUTTONS:
            return jsonify({"error": f"fault must be one of {sorted(BUTTONS)}"}), 400
        try:
            r = control(environment.parsed_options.control_url, "POST", "/v1/faults", json=BUTTONS[name])
        except requests.RequestException as e:
            return jsonify({"error": f"control API unreachable: {e}"}), 502
        body = r.json() if r.headers.get("Content-Type", "").endswith("json") else {"text": r.text[:200]}
        return jsonify({"status": r.status_code, "answer": body}), (200 if r.status_code < 300 else 502)


def live_ui(scenario: str, web_port: int = 8089) -> int:
    """Locust with its web UI for a class (Start there, then open /live); Ctrl-C ends it
    and stops what was started for it."""
    from loadtests import stack as stacks
    from loadtests.run import CASES, LOCUSTFILE

    with stacks.ensure("full") as stack:
        stacks.sandbox_cases(stack.seed, stack.beneficiaries, CASES)
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", stack.gateway_url,
               "--scenario", scenario, "--platform-url", stack.platform_url, "--control-url",
               stack.control_url, "--beneficiaries", str(stack.beneficiaries), "--sandbox-seed",
               str(stack.seed), "--web-host", "127.0.0.1", "--web-port", str(web_port)]
        print(f"Locust: http://127.0.0.1:{web_port} (press Start) · live page: "
              f"http://127.0.0.1:{web_port}/live · Ctrl-C to stop")
        proc = subprocess.Popen(cmd, cwd=stacks.ROOT, env={**os.environ, **stack.env()})
        signal.signal(signal.SIGTERM, _interrupt)  # `kill` cleans up like Ctrl-C does
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait(15)
            return 0


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt
