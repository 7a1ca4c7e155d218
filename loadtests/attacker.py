"""The intruder of the `phished-account` scenario: stolen valid credentials, used to probe.

It logs in like a shop (the credentials are genuine: those of sandbox account
`ATTACKER_ACCOUNT`, which honest users never take, see `loadtests.users`) and goes through
the gateway like everyone else. Proof of possession means an answer about a person needs
their card, NIR and birth date, so what an extractor can do is use the answers as an
oracle: present identities and learn which ones the platform knows. It mixes
    (a) one genuine card it holds (a customer's, photographed at the counter) with a fresh
        random identity each time: a valid-key NIR and a birth date that agrees with it
        (`random_identity`, pure, in `loadtests.intruder`);
    (b) requests without a usable card (expired, revoked, forged, unknown insurer), each
        with a fresh identity too.
It paces itself at `LOOKUPS_PER_S`, under the platform's per-account rate limit (20/s):
the rate limit alone does not stop a patient extractor, detection has to. It never
repeats an identity, so its answered requests count distinct identities.

Its samples are operation `attack`: the scenario keeps them apart from the shops'
(`APART`), and they are always "expected" (its answers are judged by the scenario's
`attack` section, not by `loadtests.expect`). Once refused (403 ACCOUNT_SUSPENDED, 401) it
drops its token and tries to log in again every `RELOGIN_S`, as an intruder would.
Nothing here logs an identity: samples and Locust failures carry reason codes only.
"""
from __future__ import annotations

import json
import random
import time
from urllib.parse import urlencode

import gevent
from locust import constant_throughput, task
from locust.exception import StopUser
from locust.contrib.fasthttp import FastHttpUser

from loadtests import collect
from loadtests.expect import Answer, summarize
from loadtests.intruder import ATTACK, ATTACKER_CLIENT_ID, random_identity
from loadtests.users import _json

LOOKUPS_PER_S = 10
NO_CARD_SHARE = 0.3
RELOGIN_S = 2.0
START_PHASE = "attack"  # it waits for this phase (the shops open first)
GENUINE = ("opti-a", "opti-b")  # catalogue cases whose card is genuine and current
UNUSABLE = ("card-expired", "card-revoked", "card-signature-invalid", "unknown-amc", "card-not-yet-valid")


class Attacker(FastHttpUser):
    """One intruder for the whole run (`fixed_count`), whatever the number of workers."""

    fixed_count = 1
    wait_time = constant_throughput(LOOKUPS_PER_S)
    connection_timeout, network_timeout = 5.0, 20.0

    def on_start(self) -> None:
        run = collect.STATE
        for _ in range(600):  # a worker may get its users while it still loads the cases
            if run.cases:
                break
            gevent.sleep(0.1)
        self.account = run.credentials_for(ATTACKER_CLIENT_ID)  # issued with the shops' (loadtests.sandbox)
        if self.account is None:
            run.note("no credentials for the intruder's account: LOADTESTS_CREDENTIALS is unset")
            raise StopUser()
        genuine = [c for c in run.cases if c["case"] in GENUINE]
        self.card = genuine[0]["card"] if genuine else None
        self.unusable = [c["card"] for c in run.cases if c["case"] in UNUSABLE]
        self.rng, self.seen = random.Random(), set()
        self.token: str | None = None
        self.next_login = 0.0

    def login(self) -> None:
        self.next_login = time.monotonic() + RELOGIN_S
        body = urlencode({"grant_type": "client_credentials", "client_id": self.account.client_id,
                          "client_secret": self.account.client_secret})
        with self.client.post(collect.STATE.login_url + "/oauth/token", data=body, name="attack login",
                              headers={"Content-Type": "application/x-www-form-urlencoded"},
                              catch_response=True) as r:
            if r.status_code == 200:
                self.token = json.loads(r.content)["access_token"]
            if r.status_code in (200, 401, 403):  # a refused intruder is the defence working
                r.success()
            else:
                r.failure(f"attack login: HTTP {r.status_code}")

    @task
    def probe(self) -> None:
        run = collect.STATE
        phase = run.scenario.phase_at(run.elapsed()) if run.scenario and run.t0 else None
        if phase is not None and run.scenario.phases.index(phase) < _start_index(run.scenario):
            return  # the shops open first
        if self.token is None:
            if time.monotonic() >= self.next_login:
                self.login()
            return
        usable = self.card is not None and (not self.unusable or self.rng.random() >= NO_CARD_SHARE)
        card = self.card if usable else self.rng.choice(self.unusable)
        body = {"card": card, "beneficiary": random_identity(self.rng, self.seen), "domain": "OPTI"}
        verdict: dict = {}
        with self.client.post("/v1/eligibility", json=body, name=ATTACK, catch_response=True,
                              headers={"Authorization": f"Bearer {self.token}"},
                              context={"verdict": verdict}) as r:
            error = getattr(r, "error", None)
            status = 0 if error is not None and not r.status_code else (r.status_code or 0)
            mode, decision, reason = summarize(Answer("eligibility", status, _json(r),
                                                      type(error).__name__ if error else ""))
            verdict.update(mode=mode, decision=decision, expected=True, reason=reason, case=ATTACK)
            if status in (401, 403):
                self.token = None  # suspended (or its token revoked): try the door again later
            if status == 0 or status >= 500:
                r.failure(f"{ATTACK}: {reason}")
            else:
                r.success()


def _start_index(scenario) -> int:
    names = [p.name for p in scenario.phases]
    return names.index(START_PHASE) if START_PHASE in names else 0
