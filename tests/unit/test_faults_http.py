"""The control API, the HTTP fault hook and the chaos CLI, without servers or sleeps.

Flask's test client stands in for gunicorn: the port a request arrived on comes from the
base URL (SERVER_PORT), which is what the dispatch falls back to without a gunicorn socket.
"""
import argparse
import base64
import json
from types import SimpleNamespace

import pytest

from simulator.app import create_app
from simulator.control import fault_history, fault_state, stats_from
from simulator.faults import cli, http
from simulator.faults.plan import parse_fault, parse_timeline
from simulator.faults.runtime import PlanReader
from simulator.settings import Settings

TOKEN = "unit-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
CONTROL = "http://127.0.0.1:8082"  # Settings' default control port
PLATFORM = "http://127.0.0.1:18081"
AMC, OTHER_AMC = "123456789", "987654321"


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setattr(http, "PlanReader", lambda store: PlanReader(store, ttl_s=0))  # no cache: no waiting
    return create_app(Settings(state_dir=str(tmp_path), beneficiaries=200, amc_count=4, admin_token=TOKEN, seed=9))


@pytest.fixture
def client(app):
    return app.test_client()


def control(client, method, path, **kw):
    return client.open(path, method=method, base_url=CONTROL, headers=ADMIN, **kw)


def fake_card(amc: str) -> str:
    """Only the payload matters to per-AMC faults, which read the AMC without verifying."""
    def part(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'EdDSA'})}.{part({'amc': amc})}.sig"


# --- control port dispatch and the admin token ---

def test_each_port_answers_only_its_own_routes(client):
    assert client.get("/v1/keys", base_url=PLATFORM).status_code == 200
    assert client.get("/v1/faults", base_url=PLATFORM, headers=ADMIN).status_code == 404
    assert client.get("/stats", base_url=PLATFORM, headers=ADMIN).status_code == 404
    assert control(client, "GET", "/v1/keys").status_code == 404
    assert control(client, "GET", "/v1/faults").status_code == 200
    assert control(client, "GET", "/healthz").json["api"] == "control"
    assert "api" not in client.get("/healthz", base_url=PLATFORM).json


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer "}])
@pytest.mark.parametrize("path", ["/v1/faults", "/stats", "/healthz", "/no-such-route"])
def test_every_control_call_needs_the_admin_token(client, headers, path):
    r = client.get(path, base_url=CONTROL, headers=headers)
    assert (r.status_code, r.json["code"]) == (401, "UNAUTHORIZED")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_no_admin_token_configured_refuses_everyone(tmp_path):
    app = create_app(Settings(state_dir=str(tmp_path), beneficiaries=200, amc_count=4, admin_token=""))
    assert app.test_client().get("/v1/faults", base_url=CONTROL, headers={"Authorization": "Bearer "}).status_code == 401


# --- setting faults and reading them back ---

def test_a_fault_is_stored_with_the_platform_seed_unless_given(client):
    r = control(client, "POST", "/v1/faults", json={"mode": "errors", "rate": 0.5, "for_s": 30})
    assert r.status_code == 201 and r.json["current"]["mode"] == "errors" and r.json["plan"]["seed"] == 9
    assert [s["mode"] for s in r.json["plan"]["steps"]] == ["errors", "up"]
    r = control(client, "POST", "/v1/faults", json={"mode": "down", "seed": 1234})
    assert r.json["plan"]["seed"] == 1234
    state = control(client, "GET", "/v1/faults").json
    assert state["current"] == {"mode": "down"} and [h["mode"] for h in state["history"]] == ["errors", "down"]
    assert state["history"][0]["until"] == state["history"][1]["at"] == state["since"]


@pytest.mark.parametrize("body, status, path", [
    ({"mode": "errors", "rate": 2}, 422, "/rate"),
    ({"mode": "latency"}, 422, "/ms"),
    ({"mode": "down", "amcs": [AMC]}, 422, "/amcs"),
    ({"mode": "up", "seed": "x"}, 422, "/seed"),
    ([1, 2], 422, ""),
])
def test_bad_faults_are_problems_with_paths_and_change_nothing(client, body, status, path):
    r = control(client, "POST", "/v1/faults", json=body)
    assert r.status_code == status and r.mimetype == "application/problem+json"
    assert path in [e["path"] for e in r.json["errors"]]
    assert control(client, "GET", "/v1/faults").json["plan"] is None


def test_bad_json_is_a_400_problem(client):
    r = control(client, "POST", "/v1/faults", data=b"{nope", content_type="application/json")
    assert (r.status_code, r.json["code"]) == (400, "MALFORMED_JSON")


def test_a_timeline_replaces_the_plan_and_reports_steps(client):
    r = control(client, "POST", "/v1/faults/timeline",
                json={"steps": [{"at_s": 0, "mode": "down"}, {"at_s": 60, "mode": "up"}], "seed": 3})
    assert r.status_code == 201 and r.json["current"] == {"mode": "down"} and r.json["plan"]["seed"] == 3
    r = control(client, "POST", "/v1/faults/timeline", json={"steps": [{"at_s": 5, "mode": "up"}, {"at_s": 1}]})
    assert r.status_code == 422 and {"/steps/1/at_s", "/steps/1/mode"} <= {e["path"] for e in r.json["errors"]}


# --- the HTTP fault hook ---

def test_errors_and_throttle_answer_problems(client):
    control(client, "POST", "/v1/faults", json={"mode": "errors", "status": 504})
    r = client.get("/v1/keys", base_url=PLATFORM)
    assert (r.status_code, r.json["code"]) == (504, "UPSTREAM_TIMEOUT")
    assert client.get("/healthz", base_url=PLATFORM).status_code == 200  # health is never faulted
    assert control(client, "GET", "/v1/faults").status_code == 200  # nor is the control API
    control(client, "POST", "/v1/faults", json={"mode": "throttle", "retry_after": 12})
    r = client.get("/v1/keys", base_url=PLATFORM)
    assert (r.status_code, r.headers["Retry-After"], r.json["code"]) == (429, "12", "RATE_LIMITED")


def test_a_per_amc_fault_reads_the_card_and_leaves_the_body_for_the_view(client):
    control(client, "POST", "/v1/faults", json={"mode": "errors", "status": 502, "amcs": [AMC]})
    hit = client.post("/v1/eligibility", base_url=PLATFORM, json={"card": fake_card(AMC)})
    spared = client.post("/v1/eligibility", base_url=PLATFORM, json={"card": fake_card(OTHER_AMC)})
    assert hit.status_code == 502 and spared.status_code == 401  # spared: reaches the view (no login here)
    form = {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"}
    r = client.post("/oauth/token", base_url=PLATFORM, data=form)  # body read twice: fault hook, then login
    assert r.json["code"] == "INVALID_CLIENT"


def test_latency_sleeps_the_drawn_delay_then_serves(client, monkeypatch):
    slept = []
    monkeypatch.setattr(http, "time", SimpleNamespace(time=__import__("time").time, sleep=slept.append))
    control(client, "POST", "/v1/faults", json={"mode": "latency", "ms": 300, "jitter_ms": 100})
    assert client.get("/v1/keys", base_url=PLATFORM).status_code == 200
    assert len(slept) == 1 and 0.3 <= slept[0] < 0.4


@pytest.mark.parametrize("kind", ["empty", "truncated"])
def test_malformed_damages_the_served_answer(client, kind):
    full = client.get("/v1/keys", base_url=PLATFORM).data
    control(client, "POST", "/v1/faults", json={"mode": "malformed", "kind": kind})
    r = client.get("/v1/keys", base_url=PLATFORM)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == len(r.data) < len(full)
    assert full.startswith(r.data) and (r.data == b"") == (kind == "empty")
    with pytest.raises(ValueError):
        json.loads(r.data)


def test_request_keys_replay_per_idempotency_key_and_retries_draw_afresh():
    keys = http.RequestKeys(max_keys=2)
    assert [keys.key("a"), keys.key("a"), keys.key(None), keys.key(None)] == ["k:a:0", "k:a:1", "n:0", "n:1"]
    keys.key("b"), keys.key("c")  # "a" is forgotten: bounded memory
    assert keys.key("a") == "k:a:0"
    assert http.RequestKeys().key("a") == "k:a:0"  # another worker or run: same sequence


def test_amc_of_body_and_truncate():
    assert http.amc_of_body(json.dumps({"card": fake_card(AMC)}).encode()) == AMC
    assert [http.amc_of_body(b) for b in (b"", b"[]", b'{"card": 3}', b"{x")] == [None] * 4
    assert http.truncate(b'{"a": 1}') == b'{"a"' and http.truncate(b"") == b"{"


# --- pure history and stats ---

def test_history_ends_a_plan_when_the_next_one_starts():
    first = parse_timeline({"steps": [{"at_s": 0, "mode": "errors", "for_s": 10}, {"at_s": 50, "mode": "down"}]}, 100, 1)
    second = parse_timeline({"steps": [{"at_s": 0, "mode": "blackhole"}]}, 130, 1)
    got = [(h["mode"], h["at"], h["until"]) for h in fault_history([first, second], 200)]
    assert got == [("errors", 100, 110), ("up", 110, 130), ("blackhole", 130, None)]
    state = fault_state([(130, second.to_json())], 140)
    assert state["current"] == {"mode": "blackhole"} and state["since"] == 130


def test_stats_from_counters_history_and_tables():
    history = [{"mode": "down"}, {"mode": "up"}, {"mode": "flap"}, {"mode": "errors"}]
    s = stats_from({"requests.pec.200": 3, "requests.pec.503": 2, "requests.pec_status.404": 1, "faults.errors": 2},
                   history, (5, 3), 1)
    assert s["requests"] == {"pec": {"200": 3, "503": 2}, "pec_status": {"404": 1}}
    assert s["faults_applied"] == {"total": 4, "http": {"errors": 2}, "transport": {"down": 1, "flap": 1}}
    assert s["advices"] == {"received": 5, "unique": 3, "duplicates": 2} and s["suspended_accounts"] == 1


# --- the chaos CLI ---

def parse(*argv):
    p = argparse.ArgumentParser()
    cli.add_chaos_arguments(p)
    return p.parse_args(argv)


def test_cli_options_map_onto_the_fault_json_the_api_parses():
    args = parse("errors", "--rate", "0.25", "--status", "503", "--amc", AMC, "--amc", OTHER_AMC, "--for", "30")
    body = cli.fault_body(args)
    assert body == {"mode": "errors", "rate": 0.25, "status": 503, "for_s": 30.0, "amcs": [AMC, OTHER_AMC]}
    assert parse_fault(body).amcs == {AMC, OTHER_AMC}
    assert cli.fault_body(parse("latency", "--ms", "300", "--jitter-ms", "20")) == {"mode": "latency", "ms": 300.0,
                                                                                   "jitter_ms": 20.0}
    assert cli.fault_body(parse("throttle", "--retry-after", "5")) == {"mode": "throttle", "retry_after": 5}
    assert cli.fault_body(parse("down")) == {"mode": "down"}
    assert (args.control, parse("status").file, parse("timeline", "t.yaml").file) == (cli.DEFAULT_CONTROL, None, "t.yaml")


def test_cli_reads_yaml_and_json_timelines(tmp_path):
    (tmp_path / "t.yaml").write_text("steps:\n  - {at_s: 0, mode: down}\n  - {at_s: 60, mode: up}\n")
    (tmp_path / "t.json").write_text('{"steps": [{"at_s": 0, "mode": "down"}, {"at_s": 60, "mode": "up"}]}')
    assert cli.load_timeline(str(tmp_path / "t.yaml")) == cli.load_timeline(str(tmp_path / "t.json"))
    (tmp_path / "bad.yaml").write_text("steps: [")
    with pytest.raises(ValueError):
        cli.load_timeline(str(tmp_path / "bad.yaml"))


def test_cli_refuses_without_token_or_with_a_misplaced_file(monkeypatch, capsys):
    monkeypatch.delenv("SIM_ADMIN_TOKEN", raising=False)
    assert cli.run_chaos(parse("down")) == 2 and "SIM_ADMIN_TOKEN" in capsys.readouterr().err
    assert cli.run_chaos(parse("timeline", "--token", "t")) == 2
    assert cli.run_chaos(parse("down", "extra.yaml", "--token", "t")) == 2


def test_cli_prints_problem_details_and_status():
    doc = {"code": "VALIDATION_FAILED", "detail": "bad", "errors": [{"path": "/rate", "message": "too big"}]}
    assert cli.problem_text(422, json.dumps(doc)) == "error 422 VALIDATION_FAILED: bad\n  /rate: too big"
    assert cli.problem_text(502, "<html>") == "error 502: <html>"
    state = fault_state([(100, parse_timeline({"steps": [{"at_s": 0, "mode": "down"}]}, 100, 1).to_json())], 101)
    text = cli.status_text(state)
    assert text.startswith("current: down since ") and "history:" in text and text.rstrip().endswith("down")
