"""Composition root of the gateway: one Settings in, one Flask app out.

`create_app(settings, start_background=True)` is what each gunicorn worker runs (after the
fork): it opens the shared journal, breaker file and caches, and competes for the
background leadership. Tests call it with `start_background=False` and, when they need
to, their own `Services`.
"""
from __future__ import annotations

import atexit
import logging
import os
import time
from dataclasses import dataclass, replace

from flask import Flask

from gateway.online.breaker import config_of
from gateway.background import health
from gateway.background.tasks import Background
from gateway.online.breaker_store import SharedBreaker
from gateway.offline.platform_snapshot import CachedPlatform
from gateway.offline.group_commit import GroupCommit
from gateway.offline.journal import Journal
from gateway.offline.journal_sqlite import SqliteJournal
from gateway.offline.lookup_log import LookupLog
from gateway.background.leader import BackgroundLeader, run_when_leader
from gateway.metrics import BREAKER_TRANSITIONS
from gateway.offline.desk import OfflineDesk
from gateway.routes import bp
from gateway.service import GatewayService
from gateway.settings import Settings, from_env
from gateway.online.upstream import Upstream
from tiers_payant.httpkit import install, log_event, setup_logging
from tiers_payant.secrets_at_rest import installation_key
from tiers_payant.problem_pages import bp as problems_bp

log = logging.getLogger("gateway")


@dataclass
class Services:
    settings: Settings
    journal: Journal
    breaker: SharedBreaker | None
    cached: CachedPlatform
    upstream: Upstream
    gateway: GatewayService
    offline: OfflineDesk | None = None
    leader: BackgroundLeader | None = None
    background: Background | None = None

    def status(self) -> dict:
        """GET /v1/status, also the source of the scrape-time gauges."""
        j = self.journal.status() if self.settings.resilience == "full" else {}
        breaker = self.breaker.snapshot() if self.breaker else {"state": "disabled"}
        return {"resilience": self.settings.resilience, "platform": self.settings.platform_url,
                "breaker": breaker,
                "journal": {k: j.get(k, 0) for k in ("recorded", "pending", "drained", "failed")},
                "set_aside": self.journal.failed(5) if j.get("failed") else [],
                "reconciliation": {**{k: j.get(k, 0) for k in ("confirmed", "adjusted", "rejected", "cancelled")},
                                   "exposure_eur": j.get("exposure_eur", "0.00")},
                "caches": self.cached.ages(time.time()), "background": health.read(self.cached.disk),
                "offline_lookups": self.offline.lookups.counts() if self.offline and self.offline.lookups else {},
                "worker": os.getpid(), "journal_store": self.settings.journal_store,
                "leader": bool(self.leader and self.leader.is_leader),
                "drain_leader": bool(self.leader and self.leader.is_leader and self.background
                                     and self.background.drains)}


def _on_transition(old: str, new: str) -> None:
    BREAKER_TRANSITIONS.labels(old, new).inc()
    log_event(log, "breaker_transition", logging.WARNING, from_state=old, to_state=new)


def open_journal(settings: Settings) -> Journal:
    """The one place that picks the journal's store (PostgreSQL imports only when chosen)."""
    if settings.journal_store == "postgresql":
        from gateway.offline.journal_postgres import PostgresJournal
        return PostgresJournal(settings.journal, pool_size=settings.journal_pool_size)
    return SqliteJournal(settings.journal_path)


def drain_lock_of(settings: Settings):  # type: ignore[no-untyped-def]
    """None for SQLite (one host: the flock leader drains); the deployment-wide lock otherwise."""
    if settings.journal_store != "postgresql":
        return None
    from gateway.background.leader_pg import DatabaseLeadership
    return DatabaseLeadership(settings.journal)


def build_services(settings: Settings) -> Services:
    os.umask(0o077)  # journal, caches, breaker, keys: private (0600 files, 0700 directories)
    os.makedirs(settings.state_dir, mode=0o700, exist_ok=True)
    if not settings.log_key:  # pseudonyms keyed per installation, never a constant
        settings = replace(settings, log_key=installation_key(settings.pseudonym_key_path))
    journal = open_journal(settings)
    cached = CachedPlatform(settings.cache_path)
    full = settings.resilience == "full"
    breaker = SharedBreaker(settings.breaker_path, config_of(settings), on_transition=_on_transition) if full else None
    upstream = Upstream(settings, breaker)
    desk_journal = GroupCommit(journal, settings.journal_group_max) if settings.journal_group_commit else journal
    offline = (OfflineDesk(settings, cached, desk_journal,
                           lookups=LookupLog(settings.lookup_log_path, installation_key(settings.journal_key_path)))
               if full else None)
    if full:
        journal.check()  # fail at start-up, not at the first offline acceptance
        journal.bind_keys({"pseudonym": settings.log_key, "journal": installation_key(settings.journal_key_path)})
    return Services(settings, journal, breaker, cached, upstream, GatewayService(settings.resilience, upstream, offline),
                    offline)


def start_background(services: Services) -> None:
    if services.settings.resilience != "full" or services.breaker is None:
        return
    hedge = services.upstream.hedge  # this worker's healthy online latencies: the drain's live signal
    work = Background(services.settings, services.breaker, services.cached, services.journal,
                      live_p95=hedge.recent_p95 if hedge is not None else None,
                      drain_lock=drain_lock_of(services.settings))
    services.background = work
    services.leader = run_when_leader(services.settings.leader_lock_path, work.run, retry_s=0.5)
    atexit.register(services.leader.stop, 3.0)


def create_app(settings: Settings | None = None, *, services: Services | None = None,
               background: bool = False) -> Flask:
    setup_logging()
    settings = settings or from_env()
    services = services or build_services(settings)
    app = Flask("gateway")
    app.extensions["gateway"] = services
    install(app, log)
    app.register_blueprint(bp)
    app.register_blueprint(problems_bp)
    if background:
        start_background(services)
    return app
