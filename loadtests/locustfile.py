"""Locust entry point: `locust -f loadtests/locustfile.py --scenario outage ...`.

Usually started by `python -m loadtests run` (headless, report, SLO gate). Run it by hand
with the web UI for a classroom: the `/live` page shows the gateway and lets you cut and
restore the platform. Settings are command-line options or LOADTESTS_* variables; the
control API's admin token comes from SIM_ADMIN_TOKEN only (never on a command line).

The master (or the single process of a local run) starts the fault timeline at test
start, polls the gateway, merges the workers' samples and, with `--out`, writes
`samples.csv`, `capture.json` and a live `progress.json` there.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import gevent
import requests
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from loadtests import collect
from loadtests.capture import progress, write_capture, write_json
from loadtests.collect import STATE
from loadtests.sandbox import credentials_from_env
from loadtests.scenarios import load, parse_duration, scaled
from loadtests.shape import ScenarioShape  # noqa: F401  (Locust finds the shape here)
from loadtests.users import Audiologist, Optician  # noqa: F401  (and the users)

POLL_S = 0.5
STOP_FILE = "stop"  # in --out: the master ends the test early (see run.run_locust)


@events.init_command_line_parser.add_listener
def _options(parser, **_):
    def opt(name, env, default, **kw):
        parser.add_argument(name, env_var=env, default=default, include_in_web_ui=False, **kw)
    opt("--scenario", "LOADTESTS_SCENARIO", "outage", help="scenario name (loadtests/scenarios)")
    opt("--duration", "LOADTESTS_DURATION", "", help="scale the phases to last this long (90, 2m)")
    opt("--peak-users", "LOADTESTS_USERS", 0, type=int, help="scale users so the peak is this")
    opt("--resilience", "LOADTESTS_RESILIENCE", "full", help="the gateway's mode, for the report")
    opt("--platform-url", "LOADTESTS_PLATFORM_URL", "http://127.0.0.1:8081", help="login here")
    opt("--control-url", "LOADTESTS_CONTROL_URL", "http://127.0.0.1:8082", help="fault control API")
    opt("--out", "LOADTESTS_OUT", "", help="folder for samples.csv, capture.json, progress.json")
    opt("--sandbox-seed", "LOADTESTS_SEED", 42, type=int, help="the platform's seed")
    opt("--beneficiaries", "LOADTESTS_BENEFICIARIES", 200_000, type=int, help="the platform's size")
    opt("--cases", "LOADTESTS_CASES", 300, type=int, help="sandbox cases to draw customers from")
    opt("--live-port", "LOADTESTS_LIVE_PORT", 8090, type=int, help="the classroom page's port (web UI runs only)")
    opt("--live-host", "LOADTESTS_LIVE_HOST", "127.0.0.1", help="the classroom page's bind address")
    opt("--live-hosts", "LOADTESTS_LIVE_HOSTS", "", help="extra Host names the page answers to (comma separated)")
    # Locust's UI can start load and, through /swarm, change options: loopback unless asked otherwise.
    parser.set_defaults(web_host="127.0.0.1")


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def load_cases() -> list[dict]:
    """The run's cases, from the file the runner wrote (`loadtests.sandbox`); a worker on
    another machine gets the same file and credentials variable from whoever starts it."""
    path = os.environ.get("LOADTESTS_CASES_FILE")
    if not path or not Path(path).exists():
        STATE.note("no sandbox cases: LOADTESTS_CASES_FILE is unset or missing (start Locust through "
                   "`python -m loadtests run`, or give it the file and LOADTESTS_CREDENTIALS)")
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def configure(environment) -> None:
    """Apply the options to this process (again on a worker once the master's arrive)."""
    o = environment.parsed_options
    scenario = scaled(load(o.scenario), parse_duration(o.duration), o.peak_users or None)
    STATE.scenario, STATE.seed = scenario, o.sandbox_seed
    if not STATE.login_url_fixed:  # the command line's, once: a later /swarm form cannot redirect secrets
        STATE.login_url, STATE.control_url = o.platform_url.rstrip("/"), (o.control_url or "").rstrip("/")
        STATE.gateway_url, STATE.login_url_fixed = (environment.host or "").rstrip("/"), True
    STATE.pec_share = scenario.pec_share
    if environment.shape_class is not None:
        environment.shape_class.scenario = scenario
    extra = scenario.hook("user_classes")
    known = dict(environment.available_user_classes or {})  # all of the locustfile's, even if unused last time
    known.update({u.__name__: u for u in [*environment.user_classes, *(extra() if extra else [])]})
    environment.user_classes[:] = [known[n] for n in scenario.users if n in known]
    for name, weight in scenario.users.items():
        if name in known:
            known[name].weight = weight
    if not isinstance(environment.runner, MasterRunner) and not STATE.cases:
        STATE.cases = load_cases()
        STATE.credentials = credentials_from_env()


@events.init.add_listener
def _init(environment, runner, web_ui=None, **_):
    # Messages first: a worker is already connected, and the test may start while the
    # cases load (users wait for them in on_start).
    collect.install(environment, is_worker=isinstance(runner, WorkerRunner))
    configure(environment)
    if web_ui is not None:
        _guard_web_ui(environment, web_ui)


def _guard_web_ui(environment, web_ui) -> None:
    """Locust's UI: refused unless loopback or behind --web-login; a foreign Host or Origin
    (DNS rebinding, a cross-site form to /swarm) is refused; the live page gets its own server."""
    from flask import jsonify, request

    from loadtests.live import serve_live
    from loadtests.live_guard import Guard, allowed_hosts

    o = environment.parsed_options
    if (o.web_host or "*") not in LOOPBACK and not getattr(o, "web_login", False):
        raise SystemExit(f"refusing to expose Locust's web UI on {o.web_host or 'all interfaces'} without "
                         "--web-login: it starts load and changes options. Use --web-host 127.0.0.1 (an SSH "
                         "tunnel for a remote class) or --web-login with an authentication of yours.")
    guard = Guard(allowed_hosts(o.web_port, o.live_hosts))

    @web_ui.app.before_request
    def _same_site_only():
        why = guard.refusal("GET", request.headers, request.cookies)  # Host, Origin, Sec-Fetch-Site
        return (jsonify({"error": f"refused: {why}"}), 403) if why else None

    if not isinstance(environment.runner, WorkerRunner):
        url = serve_live(environment, o.live_host, o.live_port, o.live_hosts)
        print(f"live page: {url}", flush=True)


_greenlets: list = []


@events.test_start.add_listener
def _start(environment, **_):
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        configure(environment)
        STATE.t0 = STATE.t0 or time.time()
        _greenlets.append(gevent.spawn(_every, 1.0, lambda: collect.flush(runner)))
        return
    STATE.t0, STATE.samples[:], STATE.points[:], STATE.notes[:] = time.time(), [], [], []
    STATE.by_node.clear()
    if isinstance(runner, MasterRunner):
        STATE.workers = runner.worker_count
        runner.send_message(collect.T0_MSG, STATE.t0)
    control_url = STATE.control_url
    if control_url:
        try:  # first: the platform's clock for the faults starts now, with the phases'
            r = collect.control(control_url, "POST", "/v1/faults/timeline",
                                json={"steps": list(STATE.scenario.timeline)})
            if r.status_code >= 300:
                STATE.note(f"fault timeline refused: HTTP {r.status_code} {r.text[:200]}")
        except requests.RequestException as e:
            STATE.note(f"fault timeline not started: {e}")
        shared = _scenario_hook("on_test_start", control_url)
        STATE.shared = dict(shared) if isinstance(shared, dict) else {}
        if STATE.shared and isinstance(runner, MasterRunner):
            runner.send_message(collect.SHARED_MSG, STATE.shared)
    STATE.status_at_start = collect.gateway_status(STATE.gateway_url)
    _greenlets.append(gevent.spawn(_every, POLL_S, lambda: _poll(environment)))


def _scenario_hook(name: str, control_url: str):
    """A scenario's `on_test_start`/`on_test_stop` (see loadtests.scenarios); a failure is a
    note of the run, never the end of it."""
    hook = STATE.scenario.hook(name) if STATE.scenario else None
    if hook is None:
        return None
    try:
        return hook(lambda method, path, **kw: collect.control(control_url, method, path, **kw))
    except Exception as e:
        STATE.note(f"scenario {name} failed: {e!r}")
        return None


def _every(period_s: float, fn) -> None:
    while True:
        gevent.sleep(period_s)
        try:
            fn()
        except Exception as e:  # a failing poll must not end the run
            STATE.note(f"background task failed: {e!r}")


def _poll(environment) -> None:
    status = collect.gateway_status(STATE.gateway_url)
    if status:
        STATE.status = status
        point = collect.status_point(STATE.elapsed(), status)
        if point is not None:
            STATE.points.append(point)
    out = environment.parsed_options.out
    if out:
        write_json(Path(out) / "progress.json", progress(STATE, environment.runner.user_count))
        if (Path(out) / STOP_FILE).exists() and not STATE.stopping:
            # `python -m loadtests run` was interrupted: end the test as at its normal end (test_stop
            # writes the capture). Not SIGTERM: with a LoadTestShape, Locust 2.47 dies on it silently.
            STATE.stopping = True
            STATE.note("interrupted: the run was stopped before the scenario's end")
            gevent.spawn(environment.runner.stop)


@events.test_stop.add_listener
def _stop(environment, **_):
    runner = environment.runner
    while _greenlets:
        _greenlets.pop().kill(block=False)
    if isinstance(runner, WorkerRunner):
        collect.flush(runner)
        return
    STATE.status = collect.gateway_status(STATE.gateway_url) or STATE.status
    scenario_capture = None
    if STATE.control_url:
        try:
            STATE.faults = collect.control(STATE.control_url, "GET", "/v1/faults").json()
        except (requests.RequestException, ValueError) as e:
            STATE.note(f"fault history unavailable: {e}")
        scenario_capture = _scenario_hook("on_test_stop", STATE.control_url)
    o = environment.parsed_options
    if o.out:
        write_capture(Path(o.out), STATE, resilience=o.resilience, duration_option=o.duration,
                      peak_users=o.peak_users, scenario_capture=scenario_capture, control_url=STATE.control_url,
                      gateway_url=STATE.gateway_url)
