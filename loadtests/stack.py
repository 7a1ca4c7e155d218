"""The system under test for a load run: reuse what runs, start what is missing, stop
only what was started here.

Defaults are the product's ports (gateway 8080, platform 8081, control 8082), or
`LOADTESTS_GATEWAY_PORT`, `LOADTESTS_PLATFORM_PORT`, `LOADTESTS_CONTROL_PORT`. Before
anything secret (the admin token, sandbox secrets, access tokens) goes to a service that
already listens there, it must prove it is this product: the control API's
`GET /v1/identity?nonce=` answers an HMAC of a fresh nonce under the admin token, which the
client checks with its own `SIM_ADMIN_TOKEN` without sending it; a gateway's `/v1/status`
must name that platform. Anything else stops the run (`StackError`, exit 2) with the way
out, before a single secret leaves.

`GATEWAY_URL`, `PLATFORM_URL`, `CONTROL_URL` (or the options of `run`) point the run at
services of your own: they are never started nor stopped, only checked the same way
(a platform's control API must accept the token).

What this module starts gets fresh small state under `var/loadtests/` and is owned
(`loadtests.owned`): it dies with the run, whatever ends it.

`detection="off"` (the `phished-account` control group) never reuses a platform: whether a
running one detects enumeration cannot be asked. It starts its own with `--detection off`
(on free ports when the usual ones are taken, then with its own gateway too).
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from loadtests import owned
from loadtests.trust import (IDENTITY_CONTEXT, StackError, check_gateway, listening,  # noqa: F401
                             prove_platform, way_out)

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "loadtests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str) -> dict | None:
    try:
        r = requests.get(url, timeout=1.5)
        return r.json() if r.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None


def wait_for(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited ({proc.returncode}); log {log}:\n{_tail(log)}")
        if _get_json(url) is not None:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout_s:.0f} s; log {log}:\n{_tail(log)}")


def _tail(log: Path, chars: int = 2000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


@dataclass
class Stack:
    platform_url: str
    control_url: str | None
    gateway_url: str
    resilience: str
    admin_token: str
    beneficiaries: int
    seed: int = 42
    started: dict[str, subprocess.Popen] = field(default_factory=dict)
    reused: dict[str, str] = field(default_factory=dict)  # service -> why it was reused (for the first lines)
    own_gateway: bool = True  # False for GATEWAY_URL: a target that may not be this product's gateway
    sandbox_env: dict[str, str] = field(default_factory=dict)  # cases file and credentials (loadtests.sandbox)

    def stop(self, name: str | None = None) -> None:
        """Stop what this stack started (or only `name`), each by its own process group."""
        for key in ([name] if name else list(self.started)):
            proc = self.started.pop(key, None)
            if proc is not None:
                owned.stop(proc, key)

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        return {"SIM_ADMIN_TOKEN": self.admin_token, **self.sandbox_env}

    def prepare_sandbox(self, cases: int, per_profession: int) -> None:
        """Signed cases and freshly issued credentials for the run's Locust processes."""
        from loadtests.sandbox import prepare
        self.sandbox_env = prepare(self, cases, per_profession, VAR)

    def describe(self) -> list[str]:
        """The first lines of a run: what is reused, what was started, where."""
        lines = [f"reusing {name}: {why}" for name, why in self.reused.items()]
        lines += [f"started {name} (pid {p.pid}): {self._url(name)}" for name, p in self.started.items()]
        return lines

    def _url(self, name: str) -> str:
        return self.gateway_url if name == "gateway" else f"{self.platform_url} (control {self.control_url})"

    def switch_gateway(self, resilience: str, port: int | None = None) -> None:
        """Replace the gateway this stack started with a fresh one in another mode."""
        self.stop("gateway")
        self.gateway_url = _start_gateway(self, resilience, port or int(self.gateway_url.rsplit(":", 1)[1]))
        self.resilience = resilience


def _spawn(key: str, name: str, args: list[str], env: dict[str, str], stack: Stack) -> tuple[subprocess.Popen, Path]:
    log = VAR / "logs" / f"{name}.log"
    proc = owned.spawn(key, [sys.executable, *args], env={**os.environ, **env}, log=log)
    stack.started[key] = proc
    return proc, log


def _start_gateway(stack: Stack, resilience: str, port: int, name: str | None = None) -> str:
    name = f"{name or f'gateway-{resilience}'}-{port}"  # per port: two runs on other ports keep apart
    state = VAR / name
    shutil.rmtree(state, ignore_errors=True)  # a fresh journal: its counts are this run's
    state.mkdir(parents=True)
    from loadtests.sandbox import service_secret
    client_id = f"gw-{port}"  # its own service account: a gateway of another run keeps its secret
    proc, log = _spawn("gateway", name, ["-m", "gateway", "serve", "--port", str(port), "--platform",
                                         stack.platform_url, "--journal", str(state / "journal.sqlite"),
                                         "--resilience", resilience, "--workers", "2", "--client-id", client_id],
                       {"GW_CLIENT_SECRET": service_secret(stack, client_id)}, stack)
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/readyz", proc, log)
    return url


def default_ports() -> tuple[int, int, int]:
    """(gateway, platform, control): the product's, or LOADTESTS_*_PORT."""
    g = os.environ.get
    return (int(g("LOADTESTS_GATEWAY_PORT") or 8080), int(g("LOADTESTS_PLATFORM_PORT") or 8081),
            int(g("LOADTESTS_CONTROL_PORT") or 8082))


def _reuse_platform(stack: Stack, platform_port: int, control_port: int, token: str | None) -> None:
    """A service listens on the platform's or control port: prove it is ours before any secret."""
    why = prove_platform(stack.control_url, platform_port, token or "")
    if why is not None:
        if not token and "does not accept" in why:
            why = f"a platform already runs on port {platform_port} and SIM_ADMIN_TOKEN is not set"
        raise StackError(f"{why}; nothing secret was sent to it. {way_out(platform_port, control_port)}")
    health = _get_json(stack.platform_url + "/healthz") or {}
    stack.beneficiaries = int(health.get("beneficiaries_approx") or stack.beneficiaries)
    stack.reused["platform"] = f"{stack.platform_url} (control {stack.control_url}; its identity proof checks out)"


def ensure(resilience: str = "full", *, gateway_port: int | None = None, platform_port: int | None = None,
           control_port: int | None = None, beneficiaries: int = 200_000, seed: int = 42,
           detection: str = "on", gateway_url: str | None = None, platform_url: str | None = None,
           control_url: str | None = None) -> Stack:
    """A running platform and gateway in `resilience` mode; starts only what is missing
    (with `detection="off"`, always its own platform: see the module's docstring). URLs
    given (or GATEWAY_URL, PLATFORM_URL, CONTROL_URL) are used as they are, never started."""
    if detection not in ("on", "off"):
        raise ValueError(f"detection must be on or off, got {detection!r}")
    env = os.environ.get
    gateway_url = (gateway_url or env("GATEWAY_URL") or "").rstrip("/") or None
    platform_url = (platform_url or env("PLATFORM_URL") or "").rstrip("/") or None
    control_url = (control_url or env("CONTROL_URL") or "").rstrip("/") or None
    ports = default_ports()
    gateway_port, platform_port, control_port = (gateway_port or ports[0], platform_port or ports[1],
                                                 control_port or ports[2])
    given_token = env("SIM_ADMIN_TOKEN") or None
    if gateway_url and not _answers(gateway_url):
        raise StackError(f"nothing answers at GATEWAY_URL {gateway_url}: start your gateway first, or leave "
                         "GATEWAY_URL unset to use (and start) this product's")
    if gateway_url and not platform_url:  # this product's gateway names its platform; a control API must prove it
        platform_url, control_url = _adopt(gateway_url, control_url, control_port, given_token)
    if platform_url:
        return _external(resilience, gateway_url, platform_url, control_url, given_token, beneficiaries, seed,
                         gateway_port)
    moved = detection == "off" and (listening(platform_port) or listening(control_port))
    if moved:  # the usual ports serve a platform we may not use: ours goes elsewhere
        platform_port, control_port = free_port(), free_port()
    token = given_token or secrets.token_urlsafe(24)
    stack = Stack(f"http://127.0.0.1:{platform_port}", f"http://127.0.0.1:{control_port}",
                  gateway_url or f"http://127.0.0.1:{gateway_port}", resilience, token, beneficiaries, seed,
                  own_gateway=gateway_url is None)
    try:
        if not moved and (listening(platform_port) or listening(control_port)):
            _reuse_platform(stack, platform_port, control_port, given_token)
        else:
            name = f"{'platform-detection-off' if moved else 'platform'}-{platform_port}"  # per port
            state = VAR / name
            shutil.rmtree(state, ignore_errors=True)
            proc, log = _spawn("platform", name, ["-m", "simulator", "serve", "--port", str(platform_port),
                                                  "--control-port", str(control_port), "--state-dir", str(state),
                                                  "--beneficiaries", str(beneficiaries), "--seed", str(seed),
                                                  "--detection", detection], {"SIM_ADMIN_TOKEN": token}, stack)
            wait_for(stack.platform_url + "/healthz", proc, log)
        if gateway_url:
            stack.reused["gateway"] = f"{gateway_url} (GATEWAY_URL: your target, used as it is)"
        elif moved:  # a gateway on the usual port talks to the other platform; ours keeps its own state
            stack.gateway_url = _start_gateway(stack, resilience, free_port(), f"gateway-{resilience}-detection-off")
        else:
            running = check_gateway(stack.gateway_url, stack.platform_url)
            if running is None:
                stack.gateway_url = _start_gateway(stack, resilience, gateway_port)
            elif running.get("resilience") != resilience:
                stack.reused["(not) gateway"] = (f"{stack.gateway_url} runs in {running.get('resilience')} mode: "
                                                 "left alone, a second one is started")
                stack.gateway_url = _start_gateway(stack, resilience, free_port())
            else:
                stack.reused["gateway"] = f"{stack.gateway_url} ({resilience} mode, talks to {stack.platform_url})"
    except BaseException:
        stack.stop()
        raise
    return stack


def _answers(url: str) -> bool:
    try:
        requests.get(url, timeout=3)  # any HTTP answer will do; nothing secret is sent
        return True
    except requests.RequestException:
        return False


def _adopt(gateway_url: str, control_url: str | None, control_port: int,
           token: str | None) -> tuple[str | None, str | None]:
    """GATEWAY_URL alone: the platform its /v1/status names, and the control API on the usual
    control port if (and only if) it proves to belong to that platform and to know the token."""
    status = _get_json(gateway_url + "/v1/status")
    platform = str((status or {}).get("platform") or "").rstrip("/") or None
    if platform is None or control_url:
        return platform, control_url
    port = int(platform.rsplit(":", 1)[1]) if platform.rsplit(":", 1)[-1].isdigit() else None
    candidate = f"http://127.0.0.1:{control_port}"
    return platform, (candidate if listening(control_port) and prove_platform(candidate, port, token or "") is None
                      else None)


def _external(resilience: str, gateway_url: str | None, platform_url: str, control_url: str | None,
              token: str | None, beneficiaries: int, seed: int, gateway_port: int) -> Stack:
    """PLATFORM_URL given: nothing is started; the control API, if any, must accept the token."""
    if control_url:
        why = prove_platform(control_url, None, token or "")
        if why is not None:
            raise StackError(f"{why}; nothing secret was sent to it. Set SIM_ADMIN_TOKEN to that platform's admin "
                             "token, or leave CONTROL_URL unset to run without faults.")
    if not gateway_url:
        raise StackError("PLATFORM_URL is set: set GATEWAY_URL too (the gateway or software that talks to it)")
    health = _get_json(platform_url + "/healthz") or {}
    stack = Stack(platform_url, control_url, gateway_url, resilience, token or "",
                  int(health.get("beneficiaries_approx") or beneficiaries), seed, own_gateway=False)
    stack.reused["platform"] = f"{platform_url} (your target's platform" + (
        f", control {control_url})" if control_url else "; no control API: no fault is injected)")
    stack.reused["gateway"] = f"{gateway_url} (GATEWAY_URL: your target, used as it is)"
    return stack
