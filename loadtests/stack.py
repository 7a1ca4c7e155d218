"""The system under test for a load run: reuse what runs, start what is missing, stop
only what was started here.

Defaults are the product's ports (gateway 8080, platform 8081, control 8082). A platform
already answering there is reused; its control API then needs SIM_ADMIN_TOKEN in the
environment. A gateway already answering in the wanted resilience mode is reused; one in
the other mode is left alone and a second gateway is started on a free port. What this
module starts gets fresh small state under `var/loadtests/` (platform state, journal,
logs), so a run's journal counts are its own.

`detection="off"` (the `phished-account` control group) never reuses a platform: whether a
running one detects enumeration cannot be asked, and the point is a platform that does
not. It starts its own with `--detection off` (on free ports when the usual ones are
taken, then with its own gateway too) and stops it afterwards. `detection="on"` reuses a
running platform as it is (normally detecting, the default).
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import requests

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


def sandbox_cases(seed: int, beneficiaries: int, count: int) -> Path:
    """The sandbox catalogue (`python -m simulator cards`) as a file, generated once a day
    per (seed, size, count) under var/: every Locust process of the run reads the same."""
    path = VAR / f"cases-{seed}-{beneficiaries}-{count}-{date.today()}.jsonl"
    if not path.exists():
        out = subprocess.run([sys.executable, "-m", "simulator", "cards", "--count", str(count), "--seed",
                              str(seed), "--beneficiaries", str(beneficiaries)], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(out)
        os.replace(tmp, path)  # processes may race here: the file is whole or absent
    return path


def _tail(log: Path, chars: int = 2000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


@dataclass
class Stack:
    platform_url: str
    control_url: str
    gateway_url: str
    resilience: str
    admin_token: str
    beneficiaries: int
    seed: int = 42
    started: dict[str, subprocess.Popen] = field(default_factory=dict)

    def stop(self, name: str | None = None) -> None:
        """Stop what this stack started (or only `name`), each by its own process group."""
        for key in ([name] if name else list(self.started)):
            proc = self.started.pop(key, None)
            if proc is None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        return {"SIM_ADMIN_TOKEN": self.admin_token}

    def switch_gateway(self, resilience: str, port: int | None = None) -> None:
        """Replace the gateway this stack started with a fresh one in another mode."""
        self.stop("gateway")
        self.gateway_url = _start_gateway(self, resilience, port or int(self.gateway_url.rsplit(":", 1)[1]))
        self.resilience = resilience


def _spawn(name: str, args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
    (VAR / "logs").mkdir(parents=True, exist_ok=True)
    log = VAR / "logs" / f"{name}.log"
    out = open(log, "wb")
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env={**os.environ, **env}, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    out.close()  # the child holds its own descriptor
    return proc, log


def _start_gateway(stack: Stack, resilience: str, port: int, name: str | None = None) -> str:
    name = name or f"gateway-{resilience}"
    state = VAR / name
    shutil.rmtree(state, ignore_errors=True)  # a fresh journal: its counts are this run's
    state.mkdir(parents=True)
    proc, log = _spawn(name, ["-m", "gateway", "serve", "--port", str(port), "--platform", stack.platform_url,
                              "--journal", str(state / "journal.sqlite"), "--resilience", resilience,
                              "--workers", "2"], {})
    stack.started["gateway"] = proc
    url = f"http://127.0.0.1:{port}"
    wait_for(url + "/readyz", proc, log)
    return url


def ensure(resilience: str = "full", *, gateway_port: int = 8080, platform_port: int = 8081,
           control_port: int = 8082, beneficiaries: int = 200_000, seed: int = 42,
           detection: str = "on") -> Stack:
    """A running platform and gateway in `resilience` mode; starts only what is missing
    (with `detection="off"`, always its own platform: see the module's docstring)."""
    if detection not in ("on", "off"):
        raise ValueError(f"detection must be on or off, got {detection!r}")
    moved = detection == "off" and _get_json(f"http://127.0.0.1:{platform_port}/healthz") is not None
    if moved:  # the usual ports serve a platform we may not use: ours goes elsewhere
        platform_port, control_port = free_port(), free_port()
    platform_url, control_url = f"http://127.0.0.1:{platform_port}", f"http://127.0.0.1:{control_port}"
    token = os.environ.get("SIM_ADMIN_TOKEN") or secrets.token_urlsafe(24)
    stack = Stack(platform_url, control_url, f"http://127.0.0.1:{gateway_port}", resilience, token, beneficiaries,
                  seed)
    try:
        health = None if moved else _get_json(platform_url + "/healthz")
        if health is not None:
            stack.beneficiaries = int(health.get("beneficiaries_approx") or beneficiaries)
        else:
            name = "platform-detection-off" if moved else "platform"  # the usual one's state stays
            state = VAR / name
            shutil.rmtree(state, ignore_errors=True)
            proc, log = _spawn(name, ["-m", "simulator", "serve", "--port", str(platform_port),
                                      "--control-port", str(control_port), "--state-dir", str(state),
                                      "--beneficiaries", str(beneficiaries), "--seed", str(seed),
                                      "--detection", detection], {"SIM_ADMIN_TOKEN": token})
            stack.started["platform"] = proc
            wait_for(platform_url + "/healthz", proc, log)
        running = None if moved else _get_json(stack.gateway_url + "/v1/status")
        if moved:  # a gateway on the usual port talks to the other platform; ours keeps its own state
            stack.gateway_url = _start_gateway(stack, resilience, free_port(), f"gateway-{resilience}-detection-off")
        elif running is None:
            stack.gateway_url = _start_gateway(stack, resilience, gateway_port)
        elif running.get("resilience") != resilience:
            stack.gateway_url = _start_gateway(stack, resilience, free_port())
    except BaseException:
        stack.stop()
        raise
    return stack
