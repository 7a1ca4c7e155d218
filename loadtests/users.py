"""Opticians and audioprothésistes at work: check a customer's rights, sometimes ask a PEC
(priced by a cotation first now and then), then cancel it or invoice it.

Each user logs in with its own sandbox account (its own rate limit and audit trail, as in
a real shop) at the platform's token endpoint, then serves a small, fixed set of
customers drawn from the sandbox catalogue: about twenty, like a shop's day, which also
keeps a legitimate account far from what enumeration detection looks for. Every answer
is checked by `loadtests.expect` against the case's known outcome for the phase in force,
and marked a failure in Locust's statistics with the reason when it is not acceptable.
The check's verdict travels to `loadtests.collect` in the request's context.
"""
from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from urllib.parse import urlencode

import gevent
from locust import between, task
from locust.exception import StopUser
from locust.contrib.fasthttp import FastHttpUser

from loadtests import collect
from loadtests.expect import LIFE, Answer, check, check_life, summarize

CUSTOMERS_PER_USER = 20
_next_account = {"28": itertools.count(), "26": itertools.count()}
QUOTE_FIRST = 0.3  # of the PECs asked, the share priced by a cotation first
CANCEL_SHARE = 0.25  # of the agreements, the share cancelled; the others are invoiced


def account_slot(profession: str, worker_index: int, workers: int, pool: int) -> int:
    """Which of the run's issued accounts of this profession the next user takes: workers
    interleave (worker w takes w, w + W, w + 2W...), so two processes never share an
    account while the pool holds one per user (`loadtests.sandbox` issues the scenario's
    peak; past it, accounts are shared)."""
    n = next(_next_account[profession])
    return (max(worker_index, 0) + n * max(workers, 1)) % max(pool, 1)


class Professional(FastHttpUser):
    abstract = True
    profession = "28"
    domain = "OPTI"
    wait_time = between(0.5, 1.5)
    connection_timeout = 5.0
    network_timeout = 20.0  # naive mode may wait on the platform for long; do not wait forever

    def on_start(self) -> None:
        from loadtests.intruder import INTRUDER_CLIENT_IDS

        run = collect.STATE
        for _ in range(600):  # a worker may get its first users while it still loads the cases
            if run.cases:
                break
            gevent.sleep(0.1)
        mine = run.credentials_of(self.profession, reserved=INTRUDER_CLIENT_IDS)
        if not mine:
            run.note(f"no credentials for profession {self.profession}: LOADTESTS_CREDENTIALS is unset")
            raise StopUser()
        k = account_slot(self.profession, getattr(self.environment.runner, "worker_index", 0),
                         int(os.environ.get("LOADTESTS_WORKER_COUNT") or 1), len(mine))
        self.account = mine[k]
        pool = run.cases_for(self.domain)
        start = (k * 7) % max(len(pool), 1)
        self.customers = [pool[(start + i) % len(pool)] for i in range(min(CUSTOMERS_PER_USER, len(pool)))]
        self.visits = itertools.cycle(self.customers)
        self.token: str | None = self.account.fresh_token(time.time())  # logged in before the run opened
        if self.token is None:
            self.login()

    def login(self) -> None:
        """At the platform: it is the identity provider. Fails while the platform is down;
        the user then retries at its next visit (counted under `login` in Locust only)."""
        body = urlencode({"grant_type": "client_credentials", "client_id": self.account.client_id,
                          "client_secret": self.account.client_secret})
        with self.client.post(collect.STATE.login_url + "/oauth/token", data=body, name="login",
                              headers={"Content-Type": "application/x-www-form-urlencoded"},
                              catch_response=True) as r:
            if r.status_code == 200:
                self.token = json.loads(r.content)["access_token"]
                r.success()
            else:
                r.failure(f"login: HTTP {r.status_code}")

    @task
    def visit(self) -> None:
        if self.token is None:
            self.login()
            return
        case = next(self.visits)
        self.ask("eligibility", case)
        if self.token and random.random() < collect.STATE.pec_share:
            if random.random() < QUOTE_FIRST:  # a cotation first, as a shop prices a quote before committing
                self.ask("quote", case)
            agreement = self.ask("pec", case)
            number = (agreement or {}).get("pec_number")
            if self.token and number and (agreement or {}).get("decision") in ("accepted", "partial"):
                if random.random() < CANCEL_SHARE:  # the customer walks away
                    self.ask("cancel", case, number, {"reason": "abandoned"})
                else:  # the glasses or aids are delivered and invoiced at the agreed amounts
                    self.ask("invoice", case, number, {"invoice_number": "F-" + uuid.uuid4().hex[:12],
                                                       "amo": agreement["amo"], "amc": agreement["amc"]})

    def ask(self, operation: str, case: dict, pec_number: str = "", payload: dict | None = None) -> dict | None:
        body = payload or {"card": case["card"], "beneficiary": case["beneficiary"], "domain": case["domain"]}
        headers = {"Authorization": f"Bearer {self.token}"}
        path = f"/v1/pec/{pec_number}/{operation}" if pec_number else \
            {"quote": "/v1/quotes"}.get(operation, f"/v1/{operation}")
        if operation in ("pec", "quote"):
            body.update(professional={"rpps": self.account.rpps, "profession": self.profession}, **case["quote"])
        if operation != "eligibility":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        verdict: dict = {}
        with self.client.post(path, json=body, headers=headers, name=operation,
                              catch_response=True, context={"verdict": verdict}) as r:
            error = getattr(r, "error", None)
            status = 0 if error is not None and not r.status_code else (r.status_code or 0)
            answer = Answer(operation, status, _json(r), type(error).__name__ if error else "")
            ok, reason = check_life(case, answer, collect.STATE.kind_now(), pec_number) if operation in LIFE \
                else check(case, answer, collect.STATE.kind_now())
            mode, decision, _ = summarize(answer)
            verdict.update(mode=mode, decision=decision, expected=ok, reason=reason,
                           case=case["case"])
            if r.status_code == 401:
                self.token = None  # expired or revoked: log in again at the next visit
            if ok:
                r.success()
            else:
                r.failure(f"{case['case']}: {reason}")
            return answer.body if status == 200 else None


def _json(response) -> dict | None:
    try:
        value = json.loads(response.content or b"")
    except Exception:  # a truncated or empty body (malformed fault) is "no JSON", not a crash
        return None
    return value if isinstance(value, dict) else None


class Optician(Professional):
    """Opticien-lunetier (profession 28): glasses, OPTI cases, 100% Santé class A and B."""

    profession, domain, weight = "28", "OPTI", 3


class Audiologist(Professional):
    """Audioprothésiste (profession 26): hearing aids, AUDI cases, class I and II."""

    profession, domain, weight = "26", "AUDI", 2
