"""Real processes on free loopback ports, for integration and end-to-end tests."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "test-admin-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} not up after {timeout_s}s: {last}")


@dataclass
class Proc:
    proc: subprocess.Popen
    url: str
    log_path: Path
    extra: dict = field(default_factory=dict)

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def spawn(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    log = open(log_path, "ab")
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env={**os.environ, **env}, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def start_platform(tmp: Path, beneficiaries: int = 20_000, seed: int = 42, workers: int = 2,
                   extra_args: tuple[str, ...] = (), env: dict[str, str] | None = None,
                   timeout_s: float = 60.0, port: int | None = None, control: int | None = None) -> Proc:
    """`port`/`control` given: a restart on the same ports and state directory (an outage's end)."""
    port, control = port or free_port(), control or free_port()
    state = tmp / f"platform-{port}"
    log_path = tmp / f"platform-{port}.log"
    if log_path.exists():
        log_path = tmp / f"platform-{port}-{int(time.time() * 1000)}.log"
    p = spawn(["-m", "simulator", "serve", "--port", str(port), "--control-port", str(control),
                "--state-dir", str(state), "--beneficiaries", str(beneficiaries), "--seed", str(seed),
                "--workers", str(workers), *extra_args],
               {"SIM_ADMIN_TOKEN": ADMIN_TOKEN, **(env or {})}, log_path)
    proc = Proc(p, f"http://127.0.0.1:{port}", log_path,
                {"control": f"http://127.0.0.1:{control}", "state": state, "port": port, "seed": seed,
                 "beneficiaries": beneficiaries})
    try:
        wait_http(proc.url + "/healthz", timeout_s)
    except TimeoutError:
        proc.stop()
        raise TimeoutError(proc.log()[-3000:])
    return proc


def restart_platform(tmp: Path, old: Proc, **kwargs) -> Proc:
    return start_platform(tmp, beneficiaries=old.extra["beneficiaries"], seed=old.extra["seed"],
                          port=old.extra["port"], control=int(old.extra["control"].rsplit(":", 1)[1]), **kwargs)


def start_gateway(tmp: Path, platform_url: str, resilience: str = "full", journal: Path | str | None = None,
                  port: int | None = None, workers: int = 2, env: dict[str, str] | None = None,
                  wait_ready: bool = True, timeout_s: float = 60.0, state_dir: Path | None = None) -> Proc:
    """`journal`: a SQLite path (default tmp/journal.sqlite) or a PostgreSQL URL shared by
    replicas, each of which then keeps its local state in `state_dir` (default one per port)."""
    port = port or free_port()
    journal = journal or tmp / "journal.sqlite"
    if str(journal).startswith("postgresql://"):
        state_dir = state_dir or tmp / f"gateway-state-{port}"
        env = {"GW_JOURNAL_KEY_FILE": str(tmp / "deployment-journal.key"),  # one deployment, one set of keys
               "GW_PSEUDONYM_KEY_FILE": str(tmp / "deployment-pseudonym.key"), **(env or {})}
    log_path = tmp / f"gateway-{port}.log"
    if log_path.exists():
        log_path = tmp / f"gateway-{port}-{int(time.time() * 1000)}.log"
    p = spawn(["-m", "gateway", "serve", "--port", str(port), "--platform", platform_url,
                "--journal", str(journal), "--resilience", resilience, "--workers", str(workers),
                *(["--state-dir", str(state_dir)] if state_dir else [])],
               env or {}, log_path)
    proc = Proc(p, f"http://127.0.0.1:{port}", log_path, {"journal": journal, "port": port})
    try:
        wait_http(proc.url + ("/readyz" if wait_ready else "/healthz"), timeout_s)
    except TimeoutError:
        proc.stop()
        raise TimeoutError(proc.log()[-3000:])
    return proc


def login(base_url: str, client_id: str, secret: str) -> str:
    r = requests.post(base_url + "/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                       "client_secret": secret}, timeout=5)
    r.raise_for_status()
    return r.json()["access_token"]


def accounts(count: int = 4, seed: int = 42) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "simulator", "accounts", "--count", str(count), "--seed", str(seed)],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    import json
    return [json.loads(l) for l in out.splitlines()]


def cards(count: int, seed: int = 42, beneficiaries: int = 20_000) -> list[dict]:
    out = subprocess.run([sys.executable, "-m", "simulator", "cards", "--count", str(count), "--seed", str(seed),
                          "--beneficiaries", str(beneficiaries)], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    import json
    return [json.loads(l) for l in out.splitlines()]
