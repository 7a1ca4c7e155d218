"""`python -m gateway serve`: the gateway under gunicorn (gthread workers).

This process is gunicorn's master. Before the workers start it writes the settings into
GW_* variables, gives prometheus_client a fresh multiprocess directory, and resets the
shared breaker file (a new gateway starts closed; the prober re-opens it within moments
if the platform is still down). The journal and the caches are kept: they are what a
gateway restarted during an outage answers from.
"""
from __future__ import annotations

import os
import shutil

from gunicorn.app.base import BaseApplication

from gateway.online.breaker import config_of
from gateway.online.breaker_store import SharedBreaker
from gateway.settings import Settings, to_env
from tiers_payant.gunicorn_worker import WORKER_CLASS
from tiers_payant.httpkit import log_event, setup_logging


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
    os.makedirs(settings.state_dir, exist_ok=True)
    metrics_dir = os.path.join(settings.state_dir, f"prometheus-{settings.port}")
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, mode=0o700)
    os.environ.update(to_env(settings))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    if settings.resilience == "full":
        SharedBreaker(settings.breaker_path, config_of(settings)).reset()


def serve(settings: Settings) -> int:
    setup_logging()
    prepare(settings)
    log_event(__import__("logging").getLogger("gateway.serve"), "gateway_starting", port=settings.port,
              platform=settings.platform_url, resilience=settings.resilience, workers=settings.workers)
    GatewayServer({"bind": f"{settings.host}:{settings.port}", "workers": settings.workers,
                   "worker_class": WORKER_CLASS, "threads": settings.threads, "timeout": 60,
                   "graceful_timeout": 5, "keepalive": 30, "backlog": 2048, "accesslog": None,
                   "control_socket_disable": True,  # gunicorn 23+ shares one socket path per user otherwise
                   "worker_exit": _worker_exit}).run()
    return 0
