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
    _PLATFORMS[proc.url] = proc
    if "--reset-state" in extra_args:
        _ISSUED.pop(str(state), None)  # the secrets went with the state
    return proc


def restart_platform(tmp: Path, old: Proc, **kwargs) -> Proc:
    return start_platform(tmp, beneficiaries=old.extra["beneficiaries"], seed=old.extra["seed"],
                          port=old.extra["port"], control=int(old.extra["control"].rsplit(":", 1)[1]), **kwargs)


def start_gateway(tmp: Path, platform_url: str, resilience: str = "full", journal: Path | str | None = None,
                  port: int | None = None, workers: int = 2, env: dict[str, str] | None = None,
                  wait_ready: bool = True, timeout_s: float = 60.0, state_dir: Path | None = None,
                  platform: Proc | None = None) -> Proc:
    """`journal`: a SQLite path (default tmp/journal.sqlite) or a PostgreSQL URL shared by
    replicas, each of which then keeps its local state in `state_dir` (default one per port).
    The service account's secret comes from `platform` (default: the one started at
    `platform_url`; pass it for a platform behind a proxy) unless `env` sets one."""
    port = port or free_port()
    env = dict(env or {})
    if not ({"GW_CLIENT_SECRET", "GW_CLIENT_SECRET_FILE"} & set(env)):
        owner = platform or _PLATFORMS.get(platform_url.rstrip("/"))
        if owner is None:
            raise ValueError(f"start_gateway: which platform issues the secret for {platform_url}? pass platform=")
        env["GW_CLIENT_SECRET_FILE"] = str(service_secret_file(owner, env.get("GW_CLIENT_ID", "gw-1")))
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


def answers(proc: Proc) -> bool:
    """Does the service accept connections and answer /healthz (after a fault is lifted, say)?"""
    try:
        return requests.get(proc.url + "/healthz", timeout=2).ok
    except requests.RequestException:
        return False


def login(base_url: str, client_id: str, secret: str) -> str:
    r = requests.post(base_url + "/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                       "client_secret": secret}, timeout=5)
    r.raise_for_status()
    return r.json()["access_token"]


_PLATFORMS: dict[str, Proc] = {}  # platform URL -> the platform last started there
_ISSUED: dict[str, dict[str, dict]] = {}  # state directory -> client id -> {client_id, client_secret, ...}


def control(platform: Proc, method: str, path: str, **kwargs) -> requests.Response:
    """A call to the platform's control API with the tests' admin token."""
    return requests.request(method, platform.extra["control"] + path, timeout=kwargs.pop("timeout", 60),
                            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, **kwargs)


def issued(platform: Proc, client_ids: list[str]) -> dict[str, dict]:
    """Credentials for these accounts, issued once per state directory (a secret is shown
    once: kept here for the test run; one issued by someone else is reissued)."""
    have = _ISSUED.setdefault(str(platform.extra["state"]), {})
    missing = [i for i in client_ids if i not in have]
    for reissue in (False, True):
        if not missing:
            break
        r = control(platform, "POST", "/v1/sandbox/accounts", json={"client_ids": missing, "reissue": reissue})
        r.raise_for_status()
        for row in r.json()["accounts"]:
            if row["client_secret"]:
                have[row["client_id"]] = row
        missing = [i for i in missing if i not in have]
    return {i: have[i] for i in client_ids}


def accounts(platform: Proc, count: int = 4) -> list[dict]:
    """The first `count` sandbox accounts with their secrets (opticians even, audiologists odd)."""
    from simulator.accounts import account
    ids = [account(platform.extra["seed"], k).client_id for k in range(count)]
    return list(issued(platform, ids).values())


def service_account(platform: Proc, client_id: str = "gw-1") -> tuple[str, str]:
    return client_id, issued(platform, [client_id])[client_id]["client_secret"]


def service_secret_file(platform: Proc, client_id: str = "gw-1") -> Path:
    """A 0600 file holding a gateway service account's secret, as an operator would provision it."""
    path = Path(platform.extra["state"]).parent / f"{client_id}-{platform.extra['port']}.secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(service_account(platform, client_id)[1] + "\n")
    return path


def locust_env(platform: Proc, cases: int = 300, per_profession: int = 30) -> dict[str, str]:
    """What Locust processes started by hand need: the admin token, the platform's signed cases
    and freshly issued credentials (as `python -m loadtests run` gives them: loadtests.sandbox)."""
    from types import SimpleNamespace

    from loadtests.sandbox import prepare
    stack = SimpleNamespace(control_url=platform.extra["control"], platform_url=platform.url,
                            admin_token=ADMIN_TOKEN, seed=platform.extra["seed"])
    return {"SIM_ADMIN_TOKEN": ADMIN_TOKEN, **prepare(stack, cases, per_profession, Path(platform.extra["state"]).parent)}


def cards(platform: Proc, count: int, case: str | None = None) -> list[dict]:
    """Sandbox catalogue cases, their cards signed with this platform's current keys."""
    r = control(platform, "GET", "/v1/sandbox/cases", params={"count": count, **({"case": case} if case else {})})
    r.raise_for_status()
    return r.json()["cases"]
