"""The incident's scale: 20 million beneficiaries, served with memory that does not grow."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.support.procs import accounts, cards, login, start_platform

pytestmark = pytest.mark.integration


def group_rss_mb(pgid: int) -> float:
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                total += int((stat.parent / "statm").read_text().split()[1]) * 4096
        except (OSError, IndexError, ValueError):
            continue
    return total / 2**20


def test_twenty_million_beneficiaries_start_fast_and_stay_small(tmp_path):
    started = time.monotonic()
    proc = start_platform(tmp_path, beneficiaries=20_000_000, timeout_s=30)
    try:
        ready_s = time.monotonic() - started
        assert ready_s < 10, f"/healthz answered after {ready_s:.1f} s"
        assert requests.get(proc.url + "/healthz", timeout=5).json()["contracts"] > 8_000_000
        acc = accounts(proc, 1)[0]
        token = login(proc.url, acc["client_id"], acc["client_secret"])
        peak = 0.0
        for case in cards(proc, 40):
            body = {k: case[k] for k in ("card", "beneficiary", "domain")}
            r = requests.post(proc.url + "/v1/eligibility", json=body, headers={"Authorization": "Bearer " + token},
                              timeout=10)
            if "decision" in case["expect"]:
                assert r.json()["decision"] == case["expect"]["decision"]
            peak = max(peak, group_rss_mb(proc.proc.pid))
        assert 0 < peak < 300, f"all platform processes together: {peak:.0f} MB resident"
    finally:
        proc.stop()
