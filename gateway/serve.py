"""`python -m gateway serve`: the gateway under gunicorn (gthread workers), behind the front.

    clients -> front (--port: whole requests only, deadlines, per-address caps; tiers_payant/front/)
            -> gunicorn on a loopback port (its child process) -> the gateway app

This process writes the settings into GW_* variables, gives prometheus_client a fresh
multiprocess directory, resets the shared breaker file (a new gateway starts closed; the
prober re-opens it within moments if the platform is still down), starts gunicorn
(`python -m gateway.serve <bind>`, its master) and, once it listens, serves the front on
the public port until SIGTERM. The journal and the caches are kept: they are what a
gateway restarted during an outage answers from.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading

from gunicorn.app.base import BaseApplication

from gateway.online.breaker import config_of
from gateway.online.breaker_store import SharedBreaker
from gateway.settings import Settings, to_env
from tiers_payant.front import Front, free_port, limits_from_env, wait_listening
from tiers_payant.gunicorn_worker import WORKER_CLASS
from tiers_payant.httpkit import log_event, setup_logging
from tiers_payant.secrets_at_rest import installation_key

log = logging.getLogger("gateway.serve")


def _worker_exit(server, worker) -> None:
    from gateway.wsgi import app  # already imported in this worker
    leader = app.extensions["gateway"].leader
    if leader is not None:
        leader.stop(3.0)


class GatewayServer(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from gateway.wsgi import app
        return app


def prepare(settings: Settings) -> None:
    os.umask(0o077)  # journal, keys, caches, breaker: private to the service's user
    os.makedirs(settings.state_dir, mode=0o700, exist_ok=True)
    os.chmod(settings.state_dir, 0o700)  # a directory made earlier by hand is tightened too
    metrics_dir = os.path.join(settings.state_dir, f"prometheus-{settings.port}")
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, mode=0o700)
    os.environ.update(to_env(settings))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    if settings.resilience == "full":
        SharedBreaker(settings.breaker_path, config_of(settings)).reset()
    # Keys are made here, once, before the workers fork: workers racing to create one would
    # read it half-written (a key file can live outside the state directory, shared by replicas).
    installation_key(settings.journal_key_path)
    if not settings.log_key:
        installation_key(settings.pseudonym_key_path)


def run_workers(bind: str) -> None:
    """gunicorn's master, in the child process; settings come from the GW_* variables."""
    from gateway.settings import from_env
    settings = from_env()
    GatewayServer({"bind": bind, "workers": settings.workers,
                   "worker_class": WORKER_CLASS, "threads": settings.threads, "timeout": 60,
                   "graceful_timeout": 5, "keepalive": 30, "backlog": 2048, "accesslog": None,
                   "control_socket_disable": True,  # gunicorn 23+ shares one socket path per user otherwise
                   "worker_exit": _worker_exit}).run()


def serve(settings: Settings) -> int:
    setup_logging()
    prepare(settings)
    log_event(log, "gateway_starting", port=settings.port, platform=settings.platform_url,
              resilience=settings.resilience, workers=settings.workers)
    internal = free_port()
    child = subprocess.Popen([sys.executable, "-m", "gateway.serve", f"127.0.0.1:{internal}"], env=dict(os.environ))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    front = None
    try:
        for _ in range(120):  # up to 60 s, but not a moment longer than gunicorn lives
            if wait_listening("127.0.0.1", internal, 0.5) or child.poll() is not None:
                break
        if child.poll() is not None or not wait_listening("127.0.0.1", internal, 0.1):
            log_event(log, "gunicorn_not_listening", logging.ERROR, code=child.poll())
            print("gateway: gunicorn did not start; see the log above", file=sys.stderr, flush=True)
            return 1
        try:
            front = Front(settings.host, settings.port, "127.0.0.1", internal, lambda: "pass",
                          limits_from_env("GW_", dict(os.environ)), poll_interval_s=1.0).start()
        except OSError as e:
            log_event(log, "front_cannot_bind", logging.ERROR, port=settings.port, error=str(e))
            print(f"gateway: cannot listen on {settings.host}:{settings.port}: {e}", file=sys.stderr, flush=True)
            return 1
        log_event(log, "gateway_ready", port=settings.port, internal_port=internal)
        while not stop.wait(0.5):
            if child.poll() is not None:
                log_event(log, "gunicorn_exited", logging.ERROR, code=child.returncode)
                return 1
        return 0
    finally:
        if front is not None:
            front.stop()
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    run_workers(sys.argv[1])
