"""Logs keep identities out: after an end-to-end run (rights checks, PECs, declines, a bad
NIR, an enumeration attack and its suspension) through the platform and the gateway, no
log line of either process holds a NIR, a name or a birth date of the people involved."""
from __future__ import annotations

import base64
import json
import random
import re
from datetime import date

import pytest
import requests

from tests.support.procs import ROOT, accounts, cards, login, start_gateway, start_platform
from tiers_payant.nir import make_nir

pytestmark = pytest.mark.integration
HAVE_GATEWAY = (ROOT / "gateway" / "app.py").exists()
# Lines that are not ours: gunicorn's own log format and the supervisor's startup prints.
FOREIGN = re.compile(r"^(\[\d{4}-\d{2}-\d{2} [\d:]+ [+-]\d{4}\] \[\d+\] \[[A-Z]+\] |platform listening on |"
                     r"control API admin token: |gateway listening on |sandbox secrets, each shown once: )")


def people_on(card_token: str) -> list[dict]:
    payload = card_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["beneficiaries"]


def date_forms(iso: str) -> set[str]:
    d = date.fromisoformat(iso)
    return {iso, d.strftime("%d/%m/%Y"), d.strftime("%Y%m%d"), d.strftime("%d%m%Y")}


def run_sequence(base_url: str, tokens: dict, accs: dict, used: list[dict]) -> None:
    for case in used:
        auth = {"Authorization": "Bearer " + tokens[case["prof"]]}
        body = {k: case[k] for k in ("card", "beneficiary", "domain")}
        requests.post(base_url + "/v1/eligibility", json=body, headers=auth, timeout=10)
        acc = accs[case["prof"]]
        pec = {**body, "professional": {"rpps": acc["rpps"], "profession": acc["profession"]},
               "lines": case["quote"]["lines"]}
        answer = requests.post(base_url + "/v1/pec", json=pec, headers=auth, timeout=10).json()
        if answer.get("pec_number"):
            requests.get(base_url + f"/v1/pec/{answer['pec_number']}", headers=auth, timeout=10)
        # a typo'd NIR and a body with an extra field: refused, and their inputs must not leak either
        typo = {**body, "beneficiary": {**body["beneficiary"], "nir": case["beneficiary"]["nir"][:13] + "00"}}
        requests.post(base_url + "/v1/eligibility", json=typo, headers=auth, timeout=10)
        requests.post(base_url + "/v1/eligibility", json={**body, "last_name": "x"}, headers=auth, timeout=10)


def test_no_identity_in_any_log_line(tmp_path):
    # detection on, so the suspension is logged too; no rate limit: this run is quicker than a shop
    platform = start_platform(tmp_path, env={"SIM_RATE_PER_S": "0"})
    gateway = start_gateway(tmp_path, platform.url) if HAVE_GATEWAY else None
    try:
        catalogue = cards(platform, 60)
        kinds = ("opti-a", "audi-i", "beneficiary-not-on-card", "card-expired", "contract-terminated",
                 "renewal-not-due", "nir-invalid", "opti-b")
        used = [next(c for c in catalogue if c["case"] == k) for k in kinds]
        for c in used:
            c["prof"] = "26" if c["domain"] == "AUDI" else "28"
        accs = {a["profession"]: a for a in accounts(platform, 2)}
        tokens = {p: login(platform.url, a["client_id"], a["client_secret"]) for p, a in accs.items()}
        run_sequence(platform.url, tokens, accs, used)
        if gateway:
            run_sequence(gateway.url, tokens, accs, used)

        # the phished account: probes with one real card until suspended
        attacker = accounts(platform, 4)[2]
        token = login(platform.url, attacker["client_id"], attacker["client_secret"])
        rng = random.Random(5)
        probe_nirs = []
        for _ in range(30):
            nir = make_nir(rng.choice([1, 2]), rng.randint(1940, 2000), rng.randint(1, 12),
                           f"{rng.randint(1, 95):02d}", f"{rng.randint(1, 990):03d}", rng.randint(1, 999))
            probe_nirs.append(nir)
            body = {"card": used[0]["card"], "domain": "OPTI", "beneficiary": {**used[0]["beneficiary"], "nir": nir}}
            base = gateway.url if gateway and len(probe_nirs) % 2 else platform.url
            r = requests.post(base + "/v1/eligibility", json=body, headers={"Authorization": "Bearer " + token},
                              timeout=10)
            if r.status_code == 403:
                break
    finally:
        platform.stop()
        if gateway:
            gateway.stop()

    secrets = set(probe_nirs)
    for case in used:
        secrets.add(case["beneficiary"]["nir"])
        secrets |= date_forms(case["beneficiary"]["birth_date"])
        for person in people_on(case["card"]):
            secrets |= {person["nir"], person["last_name"], person["first_name"]} | date_forms(person["birth_date"])
    logs = {"platform": platform.log()} | ({"gateway": gateway.log()} if gateway else {})

    for name, text in logs.items():
        lines = [l for l in text.splitlines() if l.strip()]
        ours = [l for l in lines if not FOREIGN.match(l)]
        events = [json.loads(l) for l in ours]  # every line of ours is one JSON object
        assert events, f"{name}: no log line of ours at all"
        leaks = sorted({s for s in secrets for l in lines if s in l})
        assert leaks == [], f"{name} log holds identity data: {leaks[:5]}"
    platform_events = [json.loads(l) for l in logs["platform"].splitlines() if l.startswith("{")]
    assert sum(e.get("event") == "request" for e in platform_events) >= 40, "too few request lines to mean anything"
    assert any(e.get("event") == "account_suspended" and e.get("client") == attacker["client_id"]
               for e in platform_events), "the attack was not even logged"
