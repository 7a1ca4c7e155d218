"""The control API: faults, their history and counters, on the control port only.

gunicorn serves one Flask app on two sockets (the platform's internal port behind the
fault proxy, and the control port), so which API a request may reach is decided by the
socket it arrived on, not by the Host header a client can forge. Every call on the
control port needs the admin token, even a wrong path (a 401 before a 404 keeps the
route map from strangers). Blueprints named `control` or `control_*` belong to this port.

The Host header is checked too, before the token: a page on a foreign site that rebinds
its DNS name to 127.0.0.1 reaches the port, but its requests carry that foreign name
(403 `HOST_NOT_ALLOWED`). Allowed: loopback names, the control host, and
`SIM_CONTROL_ALLOWED_HOSTS` (comma-separated, for a control port exposed under a name).
"""
from __future__ import annotations

import hmac
import math
import time

from flask import Blueprint, current_app, request

from tiers_payant.httpkit import json_response, read_json_body
from tiers_payant.parsing import parse_json_object
from tiers_payant.problems import FieldError, Problem

from .faults.plan import (PlanError, applied_history, fault_at, parse_fault, parse_timeline, plan_from_json,
                          single_fault_plan)

bp = Blueprint("control", __name__)
TRANSPORT_MODES = ("down", "blackhole", "reset", "flap")


def svc():
    return current_app.extensions["platform"]


def request_port() -> int | None:
    sock = request.environ.get("gunicorn.socket")
    try:
        return int(sock.getsockname()[1]) if sock is not None else int(request.environ.get("SERVER_PORT", ""))
    except (OSError, TypeError, ValueError, IndexError):
        return None


def on_control_port() -> bool:
    return request_port() == svc().settings.control_port


def is_control_blueprint(name: str | None) -> bool:
    return name is not None and (name == "control" or name.startswith(("control_", "control.")))


LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def host_name(header: str) -> str:
    """The name part of a Host header, lower-case, without port or IPv6 brackets. Pure."""
    h = header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def host_allowed(header: str | None, settings) -> bool:
    if not header:
        return False
    allowed = LOOPBACK_NAMES | {settings.control_host.lower()} | set(settings.control_allowed_hosts)
    return host_name(header) in allowed - {"0.0.0.0", "::"}


def require_admin() -> None:
    """401 problem unless `Authorization: Bearer <admin token>`; constant-time compare."""
    expected = svc().settings.admin_token.encode()
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not (expected and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)):
        raise Problem("UNAUTHORIZED", "the control API needs Authorization: Bearer <admin token>",
                      headers={"WWW-Authenticate": 'Bearer realm="control"'})


def control_port_admin_only() -> None:
    """A control_* blueprint's own guard (before_request), kept even if the dispatch below changes."""
    if not on_control_port():
        raise Problem("NOT_FOUND", "no such resource")
    require_admin()


@bp.before_app_request
def _dispatch():
    control_port, control_route = on_control_port(), is_control_blueprint(request.blueprint)
    if control_port and request.path == "/v1/identity":
        return identity()  # before the token check: it is how a client decides whether to send the token
    if control_port:
        if not host_allowed(request.headers.get("Host"), svc().settings):
            raise Problem("HOST_NOT_ALLOWED", "the control API answers only for its own host names "
                                              "(loopback, SIM_CONTROL_HOST, SIM_CONTROL_ALLOWED_HOSTS)")
        require_admin()
        if request.path == "/healthz":  # the platform's /healthz has the same rule; this port answers its own
            return json_response({"status": "ok", "api": "control"})
        if not control_route:
            raise Problem("NOT_FOUND", "not a control API route")
    elif control_route:
        raise Problem("NOT_FOUND", "no such resource")
    return None


IDENTITY_CONTEXT = b"tiers-payant-sim control identity v1\n"


def identity_proof(admin_token: str, nonce: str, platform_port: int) -> str:
    """HMAC-SHA256 under the admin token of the client's nonce and the public port: whoever
    answers it knows the token, and the client never had to send it (loadtests.stack)."""
    return hmac.new(admin_token.encode(), IDENTITY_CONTEXT + f"{nonce}\n{platform_port}".encode(),
                    "sha256").hexdigest()


def identity():
    """`GET /v1/identity?nonce=<16-128 chars>`: which product this is and a proof that it knows the
    admin token. No token needed; an HMAC oracle on chosen nonces tells nothing about the key."""
    nonce = request.args.get("nonce", "")
    if not (16 <= len(nonce) <= 128 and nonce.isascii() and nonce.isalnum()):
        raise Problem("VALIDATION_FAILED", "nonce must be 16-128 ASCII letters or digits",
                      [FieldError("/nonce", "16-128 ASCII letters or digits")])
    s = svc().settings
    proof = identity_proof(s.admin_token, nonce, s.port) if s.admin_token else None
    return json_response({"product": "tiers-payant-sim", "api": "control", "platform_port": s.port,
                          "proof": proof})


def _body() -> tuple[dict, int]:
    """The JSON object posted, and the seed of random choices (its `seed`, else the platform's)."""
    body = parse_json_object(read_json_body())
    seed = body.pop("seed", svc().settings.seed)
    if type(seed) is not int:
        raise Problem("VALIDATION_FAILED", "seed must be an integer", [FieldError("/seed", "must be an integer")])
    return body, seed


def _set_plan(build) -> object:
    try:
        plan = build()
    except PlanError as e:
        raise Problem("VALIDATION_FAILED", str(e), [FieldError(path, msg) for path, msg in e.errors]) from None
    svc().store.set_plan(plan.to_json())
    return json_response(fault_state(svc().store.plans(), time.time()), 201)


@bp.post("/v1/faults")
def set_fault():
    body, seed = _body()
    return _set_plan(lambda: single_fault_plan(parse_fault(body), time.time(), seed))


@bp.post("/v1/faults/timeline")
def set_timeline():
    body, seed = _body()
    return _set_plan(lambda: parse_timeline(body, time.time(), seed))


@bp.get("/v1/faults")
def faults():
    return json_response(fault_state(svc().store.plans(), time.time()))


def fault_history(plans: list[dict], now: float) -> list[dict]:
    """Applied faults over every plan set so far (absolute epoch times); a plan ends when the next starts."""
    out = []
    for i, plan in enumerate(plans):
        end = plans[i + 1].started_at if i + 1 < len(plans) else math.inf
        for entry in applied_history(plan, min(now, end)):
            if entry["at"] < end:
                out.append({**entry, "until": entry["until"] if entry["until"] is not None or end > now else end})
    return out


def fault_state(stored: list[tuple[float, dict]], now: float) -> dict:
    """What `GET /v1/faults` answers; pure, from the stored plans and `now`."""
    plans = [plan_from_json(p) for _, p in stored]
    if not plans:
        return {"now": now, "current": {"mode": "up"}, "since": None, "plan": None, "history": []}
    current, since = fault_at(plans[-1], now)
    return {"now": now, "current": current.to_json(), "since": since, "plan": plans[-1].to_json(),
            "history": fault_history(plans, now)}


def stats_from(counters: dict[str, int], history: list[dict], advices: tuple[int, int], suspended: int) -> dict:
    """`GET /stats` from summed counters, fault history, (advices received, unique) and suspensions."""
    requests: dict[str, dict[str, int]] = {}
    http_faults: dict[str, int] = {}
    for name, value in sorted(counters.items()):
        kind, _, rest = name.partition(".")
        if kind == "requests":
            op, _, status = rest.rpartition(".")
            requests.setdefault(op, {})[status] = value
        elif kind == "faults":
            http_faults[rest] = value
    transport: dict[str, int] = {}
    for entry in history:
        if entry["mode"] in TRANSPORT_MODES:
            transport[entry["mode"]] = transport.get(entry["mode"], 0) + 1
    received, unique = advices
    return {"requests": requests,
            "faults_applied": {"total": sum(http_faults.values()) + sum(transport.values()),
                               "http": http_faults, "transport": transport},
            "advices": {"received": received, "unique": unique, "duplicates": received - unique},
            "suspended_accounts": suspended}


@bp.get("/stats")
def stats():
    store = svc().store
    adv = store.query("SELECT COALESCE(SUM(copies), 0) AS r, COUNT(*) AS u FROM advices")[0]
    suspended = store.query("SELECT COUNT(*) AS n FROM accounts WHERE suspended_at IS NOT NULL")[0]["n"]
    history = fault_state(store.plans(), time.time())["history"]
    return json_response(stats_from(store.counters(), history, (adv["r"], adv["u"]), suspended))
