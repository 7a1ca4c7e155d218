"""Two more intruders of the `phished-account` scenario (see `loadtests.attacker`).

`Forger` (an audioprothésiste's phished account) signs hearing-aid cards of its own with
the key derivation the simulator used before issue 11 (`loadtests.forgery`) and asks PECs
on them while the platform is cut: the expensive case, since the gateway commits the AMC's
money offline on the card's word. It sends `FORGED_PECS` of them at `FORGED_PER_S`, each
for a new made-up beneficiary (no velocity limit applies). With keys random per state
directory they must all be declined `CARD_SIGNATURE_INVALID`, 0 € committed.

`TokenThief` never had a password: it holds an access token stolen from a shop's
workstation (the Locust master logs in for it at test start and hands the token over:
`STATE.shared["stolen_token"]`). It checks a genuine customer's rights with it from the
`return` phase on, while support resets that account's credentials (control API, at the
start of `reset`) and the platform is cut again (`recut`): the old token must be refused
online at once and offline too (the revocation feed carries credential versions; the
gateway holds them within one refresh interval). It keeps trying the same token: it has
nothing else.
"""
from __future__ import annotations

import uuid
from datetime import date

from locust import constant_throughput, task

from loadtests import collect
from loadtests.attacker import Intruder
from loadtests.forgery import forge_card
from loadtests.intruder import FORGED, STOLEN, random_identity
from loadtests.intruder_figures import COMMITTED, POSITIVE

FORGED_PECS = 20
FORGED_PER_S = 4
FORGED_PRICE = "1700.00"  # one class II hearing aid: AMO 240 €, PREMIUM pays the other 1,460 €
STOLEN_PER_S = 2
GENUINE_AUDIO = ("audi-i", "audi-ii")


class Forger(Intruder):
    operation, phases = FORGED, ("offline",)
    wait_time = constant_throughput(FORGED_PER_S)

    def on_start(self) -> None:
        super().on_start()
        genuine = [c for c in collect.STATE.cases if c["case"] in GENUINE_AUDIO]
        self.genuine = genuine[0]["card"] if genuine else None
        self.sent = 0
        self.login()

    @task
    def forge(self) -> None:
        if self.genuine is None or self.sent >= FORGED_PECS or not self.acting() or not self.has_token():
            return
        self.sent += 1
        identity = random_identity(self.rng, self.seen)
        card = forge_card(self.genuine, identity, collect.STATE.seed, self.rng, date.today())
        body = {"card": card, "beneficiary": identity, "domain": "AUDI",
                "professional": {"rpps": self.account.rpps, "profession": self.account.profession},
                "lines": [{"code": "AUD-II-ADULT", "class": "II", "price": FORGED_PRICE, "quantity": 1,
                           "ear": "right"}]}
        status, _ = self.ask("/v1/pec", body, {"Idempotency-Key": uuid.uuid4().hex})
        if status in (401, 403):
            self.token = None

    def reason_of(self, decision: str, reason: str, answer: dict | None) -> str:
        """An acceptance keeps what the gateway committed: "AMC 1460.00" (intruder_figures.COMMITTED)."""
        if decision in POSITIVE and answer:
            return f"{COMMITTED}{answer.get('amc') or '0.00'}"
        return reason


class TokenThief(Intruder):
    operation, phases, onward, logs_in = STOLEN, ("return",), True, False
    wait_time = constant_throughput(STOLEN_PER_S)

    def on_start(self) -> None:
        super().on_start()
        genuine = [c for c in collect.STATE.cases if c["case"] in GENUINE_AUDIO]
        self.case = genuine[-1] if genuine else None

    def has_token(self) -> bool:
        self.token = collect.STATE.shared.get("stolen_token")  # never a login: it has no secret
        return self.token is not None

    @task
    def use(self) -> None:
        if self.case is None or not self.acting() or not self.has_token():
            return
        self.ask("/v1/eligibility", {"card": self.case["card"], "beneficiary": self.case["beneficiary"],
                                     "domain": "AUDI"})
