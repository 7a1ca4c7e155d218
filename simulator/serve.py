"""`python -m simulator serve`: gunicorn behind the fault proxy, like Toxiproxy in front of a service.

    clients -> proxy (--port, socket-level faults) -> gunicorn on a loopback port (the platform app)
    admins  -> gunicorn on --control-port (control API, loopback by default)

The proxy lives in this supervising process; gunicorn is its child. Both read the fault
plan from the shared SQLite store, so a fault set through the control API reaches every
process without restarting any of them.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from tiers_payant.front import free_port, wait_listening
from tiers_payant.gunicorn_worker import WORKER_CLASS
from tiers_payant.jsonlog import log_event, setup_logging

from . import state_identity
from .keys import Keyring
from .seeding import seed_revocations
from .population import Population
from .settings import Settings, to_env, with_admin_token
from .store import Store

log = logging.getLogger("simulator.serve")


def gunicorn_command(s: Settings) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--workers", str(s.workers), "--worker-class", WORKER_CLASS,
            "--threads", str(s.threads), "--bind", f"127.0.0.1:{s.internal_port}",
            "--bind", f"{s.control_host}:{s.control_port}", "--graceful-timeout", "5", "--timeout", "60",
            "--keep-alive", "30", "--backlog", "2048", "--no-control-socket",
            "--config", "python:simulator.gunicorn_conf", "simulator.wsgi:app"]


def serve(settings: Settings, reset_state: bool = False) -> int:
    setup_logging()
    os.umask(0o077)  # state files private (0600/0700), for this process and gunicorn's
    s = with_admin_token(settings)
    if not settings.admin_token:
        print(f"control API admin token: {s.admin_token}", flush=True)
    if not s.internal_port:
        from dataclasses import replace
        s = replace(s, internal_port=free_port())
    os.makedirs(s.state_dir, mode=0o700, exist_ok=True)
    os.chmod(s.state_dir, 0o700)  # a directory made earlier by hand is tightened too
    if reset_state:
        for path in state_identity.reset(s):
            print(f"removed {path}", flush=True)
    store = Store(s.db_path)
    try:
        state_identity.claim(store, s)
    except state_identity.StateMismatch as exc:
        log_event(log, "state_dir_mismatch", logging.ERROR, error=str(exc))
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    population = Population(seed=s.seed, size=s.contracts, amc_count=s.amc_count, reference_date=s.today())
    seed_revocations(store, population)
    # Random keys on first start, before any worker: every worker then reads the same keyring.
    Keyring.ensure(s.state_dir, [a.number for a in population.amcs], time.time())
    child = subprocess.Popen(gunicorn_command(s), env={**os.environ, **to_env(s)})
    from .faults.runtime import start_proxy
    proxy = start_proxy(s, store)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if not wait_listening("127.0.0.1", s.internal_port, 60):
        log_event(log, "gunicorn_not_listening", logging.ERROR)
        child.terminate()
        proxy.stop()
        return 1
    log_event(log, "platform_ready", port=s.port, control_port=s.control_port, internal_port=s.internal_port,
              contracts=s.contracts)
    print(f"platform listening on http://{s.host}:{s.port} (control http://{s.control_host}:{s.control_port})\n"
          f"sandbox secrets, each shown once: python -m simulator accounts --state-dir {s.state_dir} [--service gw-1]",
          flush=True)
    while not stop.wait(0.5):
        if child.poll() is not None:
            log_event(log, "gunicorn_exited", logging.ERROR, code=child.returncode)
            break
    proxy.stop()
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
    return 0
