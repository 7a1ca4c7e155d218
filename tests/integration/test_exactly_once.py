"""Exactly once under concurrency: one Idempotency-Key, one decision, at both services.

8 identical PECs with one key fired at once, 20 times (each time a new key and a new
beneficiary): exactly one decision is recorded, every answer is the first answer byte for
byte or a 409 IDEMPOTENCY_IN_PROGRESS problem, never a 5xx. The same through the gateway
online, and offline (the journal holds one entry). The same key with another payload is
422 IDEMPOTENCY_KEY_REUSED, and nothing is stored from it.
"""
from __future__ import annotations

import json
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.gateway_live import caches_loaded, optician, pec, wait_until
from tests.support.procs import cards, start_gateway, start_platform

pytestmark = pytest.mark.integration
TRIALS, COPIES = 20, 8
OPEN_LIMITS = {"SIM_RATE_PER_S": "0", "SIM_DETECTION": "off"}  # 160 calls a burst: not an attack


def fire(url: str, body: dict, headers: dict) -> list[requests.Response]:
    with ThreadPoolExecutor(COPIES) as pool:
        sessions = [requests.Session() for _ in range(COPIES)]
        return list(pool.map(lambda s: s.post(url + "/v1/pec", json=body, headers=headers, timeout=30), sessions))


def one_decision(answers: list[requests.Response]) -> bytes:
    assert all(r.status_code < 500 for r in answers), [r.status_code for r in answers]
    decided = [r for r in answers if r.status_code == 200]
    others = [r for r in answers if r.status_code != 200]
    assert decided, [r.text[:200] for r in answers]
    assert all(r.content == decided[0].content for r in decided), {r.content for r in decided}  # request_id too
    assert all(r.status_code == 409 and r.json()["code"] == "IDEMPOTENCY_IN_PROGRESS" for r in others)
    return decided[0].content


def count(db_path, sql: str, args: tuple = ()) -> int:
    with sqlite3.connect(db_path) as db:
        return db.execute(sql, args).fetchone()[0]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("once")
    platform = start_platform(tmp, env=OPEN_LIMITS)
    gw = start_gateway(tmp, platform.url)
    acc, token = optician(platform)
    opti = [c for c in cards(platform, 200) if c["case"] in ("opti-a", "opti-b")]
    yield platform, gw, acc, {"Authorization": "Bearer " + token}, opti
    gw.stop()
    platform.stop()


def test_concurrent_copies_at_the_platform_decide_once(stack):
    platform, _, acc, h, opti = stack
    db = platform.extra["state"] / "platform.sqlite"
    for case in opti[:TRIALS]:
        key = uuid.uuid4().hex
        body = one_decision(fire(platform.url, pec(case, acc), {**h, "Idempotency-Key": key}))
        assert b'"decision": "accepted"' in body or b'"decision": "partially_accepted"' in body
        assert count(db, "SELECT COUNT(*) FROM pecs WHERE idem_key=?", (key,)) == 1


def test_concurrent_copies_through_the_gateway_online_decide_once(stack):
    platform, gw, acc, h, opti = stack
    db = platform.extra["state"] / "platform.sqlite"
    for case in opti[TRIALS:2 * TRIALS]:
        key = uuid.uuid4().hex
        body = one_decision(fire(gw.url, pec(case, acc), {**h, "Idempotency-Key": key}))
        assert b'"mode": "online"' in body
        assert count(db, "SELECT COUNT(*) FROM pecs WHERE idem_key=?", (key,)) == 1


def test_the_same_key_with_another_payload_is_refused_and_stores_nothing(stack):
    platform, gw, acc, h, opti = stack
    db = platform.extra["state"] / "platform.sqlite"
    first, second = pec(opti[2 * TRIALS], acc), pec(opti[2 * TRIALS + 1], acc)
    for url in (platform.url, gw.url):
        key = uuid.uuid4().hex
        assert requests.post(url + "/v1/pec", json=first, headers={**h, "Idempotency-Key": key}, timeout=10).ok
        before = count(db, "SELECT COUNT(*) FROM pecs")
        r = requests.post(url + "/v1/pec", json=second, headers={**h, "Idempotency-Key": key}, timeout=10)
        assert r.status_code == 422 and r.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert count(db, "SELECT COUNT(*) FROM pecs") == before
        # key order and white space do not make another payload (README: canonical JSON)
        same = requests.post(url + "/v1/pec", data=json.dumps(dict(reversed(first.items()))),
                             headers={**h, "Idempotency-Key": key, "Content-Type": "application/json"}, timeout=10)
        assert same.status_code == 200 and same.headers.get("Idempotent-Replayed", "true") == "true"


def test_concurrent_copies_through_the_gateway_offline_journal_once(stack, tmp_path):
    platform, gw, acc, h, opti = stack
    assert wait_until(lambda: caches_loaded(gw.url), 20)
    platform.stop()  # the cut: every copy is answered by the stand-in
    try:
        journal, accepted = gw.extra["journal"], 0
        for case in opti[2 * TRIALS + 2:3 * TRIALS + 2]:
            key = uuid.uuid4().hex
            before = count(journal, "SELECT COUNT(*) FROM offline_entry")
            body = one_decision(fire(gw.url, pec(case, acc), {**h, "Idempotency-Key": key}))
            assert b'"mode": "offline"' in body
            ref = json.loads(body)["journal_reference"]
            added = count(journal, "SELECT COUNT(*) FROM offline_entry") - before
            if ref:  # accepted offline: one journal entry, whatever the number of copies
                accepted += 1
                assert added == 1 and count(journal, "SELECT COUNT(*) FROM offline_entry WHERE reference=?",
                                            (ref,)) == 1
            else:  # declined offline (over the AMC's offline ceiling): nothing journaled
                assert added == 0
        assert accepted >= TRIALS // 4  # the journal path was exercised
    finally:
        from tests.support.procs import restart_platform
        stack_platform = restart_platform(tmp_path, platform, env=OPEN_LIMITS)
        platform.proc, platform.log_path = stack_platform.proc, stack_platform.log_path
