"""Composition root of the platform: one Settings in, one Flask app out."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

from flask import Flask, g, request

from tiers_payant.httpkit import install, log_event, setup_logging
from tiers_payant.problem_pages import bp as problems_bp

from .api.auth import Auth
from .api.docs import bp as docs_bp
from .api.life_routes import bp as life_bp
from .api.routes import bp as routes_bp
from .control import bp as control_bp
from .control import on_control_port
from .counters import Counters
from .faults.http import install_faults
from .guard import NoGuard
from .keys import Keyring
from .pec_life import PecLife
from .platform import Platform
from .sandbox import bp as sandbox_bp
from .trust_control import bp as trust_bp
from .policy import standin_policy
from .population import Population
from .seeding import seed_revocations  # noqa: F401 - also this module's name for it
from .security import build_guard, build_login_throttle
from .security.admin import bp as security_admin_bp
from . import state_identity
from .settings import Settings, with_installation_keys
from .store import Store

log = logging.getLogger("simulator")


@dataclass
class Services:
    settings: Settings
    population: Population
    store: Store
    platform: Platform
    auth: Auth
    policies: dict
    counters: Counters
    guard: object = field(default_factory=NoGuard)
    life: PecLife | None = None  # the PEC's life: cotation, cancel, invoice, state


def build_services(settings: Settings) -> Services:
    os.umask(0o077)  # every state file private (0600), every directory 0700
    settings = with_installation_keys(settings)
    population = Population(seed=settings.seed, size=settings.contracts, amc_count=settings.amc_count,
                            reference_date=settings.today())
    store = Store(settings.db_path)
    state_identity.claim(store, settings)  # serve checked it already; a worker started alone checks too
    seed_revocations(store, population)
    guard = build_guard(settings, store)  # NoGuard when detection and rate limits are both off
    keys = Keyring.ensure(settings.state_dir, [a.number for a in population.amcs], time.time())
    platform = Platform(settings, population, store, keys)
    return Services(settings, population, store, platform, Auth(settings, store, keys, build_login_throttle(store)),
                    {a.number: standin_policy(settings.seed, a) for a in population.amcs}, Counters(store), guard,
                    PecLife(platform))


def operation_name(path: str) -> str:
    if path.startswith("/v1/pec/"):
        return path.rsplit("/", 1)[1] if path.endswith(("/cancel", "/invoice")) else "pec_status"
    return {"/v1/eligibility": "eligibility", "/v1/pec": "pec", "/v1/quotes": "quote", "/v1/advices": "advices", "/v1/keys": "keys",
            "/v1/revocations": "revocations", "/v1/standin-policy": "standin_policy",
            "/oauth/token": "token", "/metrics": "metrics"}.get(path, "other")


def create_app(settings: Settings, services: Services | None = None) -> Flask:
    setup_logging()
    services = services or build_services(settings)
    app = Flask("simulator")
    app.extensions["platform"] = services
    install(app, log)
    app.register_blueprint(routes_bp)
    app.register_blueprint(life_bp)
    app.register_blueprint(docs_bp)
    app.register_blueprint(problems_bp)
    # The control API; registered before install_faults so its port check runs first.
    app.register_blueprint(control_bp)
    app.register_blueprint(security_admin_bp)  # a control_* blueprint: control port only
    app.register_blueprint(sandbox_bp)  # control_sandbox: control port only
    app.register_blueprint(trust_bp)  # control_trust: keys, sandbox secrets and cases; control port only
    install_faults(app, services)

    @app.after_request
    def _count(resp):
        if on_control_port():  # /stats counts the platform's operations, not the admins' calls
            return resp
        op = operation_name(request.path)
        services.counters.inc(f"requests.{op}.{resp.status_code}")
        log_event(log, "request", op=op, status=resp.status_code, method=request.method,
                  client=getattr(g, "client_id", None),
                  ms=round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2))
        return resp

    return app
