"""Is the service on a port this product, before anything secret goes to it? The platform
proves it knows the admin token (an HMAC of a fresh nonce, `GET /v1/identity` on its
control API) without the client sending it; a gateway's `/v1/status` must have this
product's shape and name the platform. Whatever fails raises `StackError` (exit 2) with
the way out."""
from __future__ import annotations

import hmac
import secrets
import socket

import requests


class StackError(RuntimeError):
    """The run cannot start safely; the message says why and the way out (exit 2)."""


IDENTITY_CONTEXT = b"tiers-payant-sim control identity v1\n"  # as simulator/control.py signs it


def _get_json(url: str) -> dict | None:
    try:
        r = requests.get(url, timeout=1.5)
        return r.json() if r.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def prove_platform(control_url: str, platform_port: int | None, token: str) -> str | None:
    """None when the control API proves it knows `token` (and, if given, serves the platform
    on `platform_port`); else why not. Sends a nonce, never the token."""
    nonce = secrets.token_hex(16)
    try:
        r = requests.get(control_url.rstrip("/") + "/v1/identity", params={"nonce": nonce}, timeout=3)
        body = r.json() if r.status_code == 200 else None
    except (requests.RequestException, ValueError):
        body = None
    if not isinstance(body, dict) or body.get("product") != "tiers-payant-sim":
        return f"{control_url} is not this product's control API (no identity answer)"
    port = body.get("platform_port")
    if platform_port is not None and port != platform_port:
        return f"{control_url} belongs to a platform on port {port}, not {platform_port}"
    want = hmac.new(token.encode(), IDENTITY_CONTEXT + f"{nonce}\n{port}".encode(), "sha256").hexdigest()
    if not token or not isinstance(body.get("proof"), str) or not hmac.compare_digest(body["proof"], want):
        return f"the platform behind {control_url} does not accept your SIM_ADMIN_TOKEN"
    return None


def way_out(platform_port: int, control_port: int) -> str:
    return ("Ways out: set SIM_ADMIN_TOKEN to the token that platform was started with; or stop it "
            "(`make stop` if an earlier run of this tool left it); or use other ports "
            f"(LOADTESTS_PLATFORM_PORT / LOADTESTS_CONTROL_PORT, now {platform_port} / {control_port}); "
            "or point at your own with PLATFORM_URL and CONTROL_URL.")


def check_gateway(url: str, platform_url: str) -> dict | None:
    """The status of this product's gateway at `url` talking to `platform_url`; None when
    nothing answers; StackError when something else does (it would get the shops' tokens)."""
    if not listening(int(url.rsplit(":", 1)[1])):
        return None
    status = _get_json(url + "/v1/status")
    if not isinstance(status, dict) or "resilience" not in status or "journal" not in status:
        raise StackError(f"something that is not this product's gateway listens on {url}; nothing was sent to it. "
                         "Stop it, choose another port (LOADTESTS_GATEWAY_PORT), or name it as the target on "
                         "purpose with GATEWAY_URL.")
    if str(status.get("platform", "")).rstrip("/") != platform_url.rstrip("/"):
        raise StackError(f"the gateway on {url} talks to {status.get('platform')}, not {platform_url}; stop it, "
                         "choose another port (LOADTESTS_GATEWAY_PORT), or target it with GATEWAY_URL.")
    return status
