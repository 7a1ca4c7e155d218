"""The intruders of the `phished-account` scenario: stolen valid credentials, used to probe.

Each logs in like a shop (the credentials are genuine: those of a sandbox account in
`loadtests.intruder.ACCOUNTS`, which honest users never take, issued by the platform with the
shops' before Locust starts: `credentials`, `loadtests.sandbox`) and
goes through the gateway like everyone else. Proof of possession means an answer about a
person needs their card, NIR and birth date, so what an extractor can do is use the
answers as an oracle: present identities and learn which ones the platform knows. It mixes
    (a) one genuine card it holds (a customer's, photographed at the counter) with a fresh
        random identity each time: a valid-key NIR and a birth date that agrees with it
        (`random_identity`, pure, in `loadtests.intruder`);
    (b) requests without a usable card (expired, revoked, forged, unknown insurer), each
        with a fresh identity too.
It paces itself at `LOOKUPS_PER_S`, under the platform's per-account rate limit (20/s):
the rate limit alone does not stop a patient extractor, detection has to. It never
repeats an identity, so its answered requests count distinct identities.

`Attacker` probes online from the `attack` phase on; `OfflineProber` (another account)
does the same only while the platform is cut (`offline` phase), where the gateway's own
per-account limits must stop it. The forger and the token thief are in
`loadtests.attacker_offline`.

Samples carry the intruder's operation name (`attack`, `attack-offline`...): the scenario
keeps them apart from the shops' (`APART`), and they are always "expected" (the scenario's
`attack*` sections judge them, not `loadtests.expect`). Once refused (403
ACCOUNT_SUSPENDED, 401) an intruder drops its token and tries to log in again every
`RELOGIN_S`. Nothing here logs an identity: samples and Locust failures carry reason codes only.
"""
from __future__ import annotations

import json
import random
import time
from urllib.parse import urlencode

import gevent
from locust import constant_throughput, task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import StopUser

from loadtests import collect
from loadtests.expect import Answer, summarize
from loadtests.intruder import ACCOUNTS, ATTACK, OFFLINE_PROBE, client_id, random_identity
from loadtests.users import _json

LOOKUPS_PER_S = 10
NO_CARD_SHARE = 0.3
RELOGIN_S = 2.0
GENUINE = ("opti-a", "opti-b")  # catalogue cases whose card is genuine and current
UNUSABLE = ("card-expired", "card-revoked", "card-signature-invalid", "unknown-amc", "card-not-yet-valid")


def credentials(k: int):  # type: ignore[no-untyped-def]
    """The one place an intruder's credentials come from: sandbox account k's, issued by the
    platform with the shops' before Locust started (`loadtests.sandbox`), or None."""
    return collect.STATE.credentials_for(client_id(k))


class Intruder(FastHttpUser):
    """One of each for the whole run (`fixed_count`), whatever the number of workers."""

    abstract = True
    fixed_count = 1
    operation = ATTACK
    phases: tuple[str, ...] = ()  # it acts in these phases only (and from the first one on if `onward`)
    onward = False
    logs_in = True  # False: it has a token and no secret (the thief)
    connection_timeout, network_timeout = 5.0, 20.0

    def on_start(self) -> None:
        run = collect.STATE
        for _ in range(600):  # a worker may get its users while it still loads the cases
            if run.cases:
                break
            gevent.sleep(0.1)
        self.account = credentials(ACCOUNTS[self.operation])
        if self.account is None and self.logs_in:
            run.note(f"no credentials for the intruder's account {client_id(ACCOUNTS[self.operation])}: "
                     "LOADTESTS_CREDENTIALS is unset or lacks it")
            raise StopUser()
        self.rng, self.seen = random.Random(), set()
        self.token: str | None = None
        self.next_login = 0.0

    def acting(self) -> bool:
        run = collect.STATE
        if not (run.scenario and run.t0):
            return False
        phase = run.scenario.phase_at(run.elapsed())
        names = [p.name for p in run.scenario.phases]
        if phase is None or not self.phases or self.phases[0] not in names:
            return False
        if self.onward:
            return names.index(phase.name) >= names.index(self.phases[0])
        return phase.name in self.phases

    def login(self) -> None:
        self.next_login = time.monotonic() + RELOGIN_S
        body = urlencode({"grant_type": "client_credentials", "client_id": self.account.client_id,
                          "client_secret": self.account.client_secret})
        with self.client.post(collect.STATE.login_url + "/oauth/token", data=body, name=f"{self.operation} login",
                              headers={"Content-Type": "application/x-www-form-urlencoded"},
                              catch_response=True) as r:
            if r.status_code == 200:
                self.token = json.loads(r.content)["access_token"]
            if r.status_code in (200, 401, 403) or not r.status_code:  # refused or platform cut: not a bug
                r.success()
            else:
                r.failure(f"{self.operation} login: HTTP {r.status_code}")

    def has_token(self) -> bool:
        """A token, logging in again at most every RELOGIN_S when it has none."""
        if self.token is None and time.monotonic() >= self.next_login:
            self.login()
        return self.token is not None

    def ask(self, path: str, body: dict, headers: dict | None = None) -> tuple[int, dict | None]:
        """One request through the gateway, recorded as a sample of `operation`."""
        verdict: dict = {}
        with self.client.post(path, json=body, name=self.operation, catch_response=True,
                              headers={"Authorization": f"Bearer {self.token}", **(headers or {})},
                              context={"verdict": verdict}) as r:
            error = getattr(r, "error", None)
            status = 0 if error is not None and not r.status_code else (r.status_code or 0)
            answer = _json(r)
            mode, decision, reason = summarize(Answer("pec" if "pec" in path else "eligibility", status, answer,
                                                      type(error).__name__ if error else ""))
            verdict.update(mode=mode, decision=decision, expected=True, reason=self.reason_of(decision, reason, answer),
                           case=self.operation)
            if status == 0 or status >= 500:
                r.failure(f"{self.operation}: {reason}")
            else:
                r.success()
        return status, answer

    def reason_of(self, decision: str, reason: str, answer: dict | None) -> str:
        """What the sample keeps as its reason: the answer's code (a subclass may say more)."""
        return reason


class Attacker(Intruder):
    """Probes online from the `attack` phase on (the shops open first)."""

    operation, phases, onward = ATTACK, ("attack",), True
    wait_time = constant_throughput(LOOKUPS_PER_S)

    def on_start(self) -> None:
        super().on_start()
        cases = collect.STATE.cases
        genuine = [c for c in cases if c["case"] in GENUINE]
        self.card = genuine[0]["card"] if genuine else None
        self.unusable = [c["card"] for c in cases if c["case"] in UNUSABLE]

    @task
    def probe(self) -> None:
        if not self.acting() or not self.has_token():
            return
        usable = self.card is not None and (not self.unusable or self.rng.random() >= NO_CARD_SHARE)
        card = self.card if usable else self.rng.choice(self.unusable)
        status, _ = self.ask("/v1/eligibility", {"card": card, "beneficiary": random_identity(self.rng, self.seen),
                                                 "domain": "OPTI"})
        if status in (401, 403):
            self.token = None  # suspended (or its token revoked): try the door again later


class OfflineProber(Attacker):
    """The same oracle, another account, only while the platform is cut: the gateway stands
    in, so only its own per-account limits (OFFLINE_ACCOUNT_LIMIT) can stop it; the platform
    hears of it when the gateway replays its offline declines after the return."""

    operation, phases, onward = OFFLINE_PROBE, ("offline",), False

    def on_start(self) -> None:
        super().on_start()
        self.login()  # while the platform is still up: offline, nobody can log in
