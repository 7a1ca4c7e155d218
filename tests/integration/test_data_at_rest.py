"""What the services keep at rest: private files, no identity in clear, nothing after the verdict.

An outage with offline rights checks and PECs, then the return and the drain. Every file
under both state directories and every log is searched for each NIR, last name, first name
and birth date on the cards used (whole families: the card carries them all) and for the
secrets used in the run. Before the drain the journal's sealed payloads hold only the
served beneficiary; after it, no sealed payload is left.
"""
from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
import requests

from tests.support.gateway_live import caches_loaded, eligibility, optician, pec, status, wait_until
from tests.support.procs import ADMIN_TOKEN, cards, restart_platform, service_account, start_gateway, start_platform
from tiers_payant.secrets_at_rest import unseal

pytestmark = pytest.mark.integration


def family(card_jws: str) -> list[dict]:
    part = card_jws.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["beneficiaries"]


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if p.is_file()]


def found(needles: set[str], paths: list[Path]) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for p in paths:
        data = p.read_bytes()
        for n in needles:
            if n.encode() in data:
                hits.setdefault(n, []).append(str(p))
    return hits


def test_state_files_are_private_and_hold_no_identity_in_clear(tmp_path):
    platform = start_platform(tmp_path)
    gw = start_gateway(tmp_path, platform.url, journal=tmp_path / "gw" / "journal.sqlite")
    gw_state = tmp_path / "gw"
    try:
        acc, token = optician(platform)
        h = {"Authorization": "Bearer " + token}
        cases = [c for c in cards(platform, 80) if c["case"] in ("opti-a", "opti-b")][:6]
        assert wait_until(lambda: caches_loaded(gw.url), 20)
        platform.stop()
        served = []
        for i, c in enumerate(cases):
            body = pec(c, acc) if i % 2 else eligibility(c)
            r = requests.post(gw.url + ("/v1/pec" if i % 2 else "/v1/eligibility"), json=body, headers=h, timeout=5)
            if r.json().get("journal_reference"):
                served.append(c)
        assert len(served) >= 3
        people = [b for c in cases for b in family(c["card"])]
        needles = ({b["nir"] for b in people} | {b["last_name"] for b in people if len(b["last_name"]) > 3}
                   | {b["first_name"] for b in people if len(b["first_name"]) > 3}
                   | {b["birth_date"] for b in people}
                   | {acc["client_secret"], service_account(platform)[1], ADMIN_TOKEN})  # the gateway's
        # secret reached it in a file of its own outside both state directories, as an operator provisions it
        logs = [gw.log_path, platform.log_path]
        assert found(needles, files_under(gw_state, platform.extra["state"]) + logs) == {}

        key = (gw_state / "journal.key").read_bytes()
        with sqlite3.connect(gw_state / "journal.sqlite") as db:
            rows = db.execute("SELECT advice_id, payload FROM offline_entry").fetchall()
        for advice_id, payload in rows:
            sealed = unseal(key, json.loads(payload)["sealed"], advice_id)
            assert "card" not in sealed["request"] and set(sealed["request"]["card_ref"]) == {"serial", "amc"}
            assert set(sealed["request"]["beneficiary"]) <= {"nir", "birth_date", "birth_rank"}  # the served one

        platform = restart_platform(tmp_path, platform)
        assert wait_until(lambda: status(gw.url)["journal"]["pending"] == 0, 30), status(gw.url)
        with sqlite3.connect(gw_state / "journal.sqlite") as db:
            payloads = [json.loads(p) for (p,) in db.execute("SELECT payload FROM offline_entry")]
        assert payloads and not [p for p in payloads if "sealed" in p]  # purged at the verdict
        assert found(needles, files_under(gw_state, platform.extra["state"]) + logs) == {}

        for p in files_under(gw_state, platform.extra["state"]):
            mode = stat.S_IMODE(os.stat(p).st_mode)
            assert mode & 0o077 == 0, f"{p} is {oct(mode)}"
        for d in (gw_state, platform.extra["state"]):
            assert stat.S_IMODE(os.stat(d).st_mode) & 0o077 == 0, f"{d} is readable by others"
    finally:
        gw.stop()
        platform.stop()
