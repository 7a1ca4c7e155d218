"""The drain never blocks: bytes-bounded batches, bisection to the bad advice, per-batch
back-off on transient failures, `pending` answers asked again; background duties that fail
are reported and survive (no leaked thread)."""
from __future__ import annotations

import json
import logging
import threading
import uuid
from decimal import Decimal

import pytest

from gateway.background.health import not_ready_reasons, read
from gateway.offline.journal import OfflineEntry
from tests.unit.test_gwshell_background import Waits, make, platform_script

pytestmark = pytest.mark.usefixtures("each_journal")  # every test on both journal stores

CONFIRMED = {"verdict": "confirmed", "reason": None, "platform_amc_eur": "10.00", "duplicate": False}

def record(journal, size: int = 10, at: float = 1.0) -> str:
    return journal.record(OfflineEntry(uuid.uuid4().hex, "pec", at, "123456789", "S-1", "b-x", "OPTI",
                                       Decimal("10.00"), "timeout", {"request": {"pad": "x" * size}}, "opt-1"))

def advices_script(answer):
    """The platform's token/refresh answers, and `answer(advices) -> (status, doc)` for advices."""
    base = platform_script([CONFIRMED])

    def script(r):
        if r.path_url == "/v1/advices":
            return answer(json.loads(r.body)["advices"])
        return base(r)
    return script

def test_batches_are_bounded_by_bytes_as_well_as_count(tmp_path):
    sizes = []

    def answer(advices):
        sizes.append(len(advices))
        return 200, {"results": [{"advice_id": a["advice_id"], **CONFIRMED} for a in advices]}
    bg, _ = make(tmp_path, advices_script(answer), drain_batch=60, drain_batch_bytes=20_000, drain_rate_per_s=1e6)
    for _ in range(10):
        record(bg.journal, size=5_000)  # about 5.4 kB each: three fit under 20 kB
    while bg.drain_once(Waits()):
        pass
    assert sizes == [3, 3, 3, 1] and bg.journal.status()["drained"] == 10

def test_a_permanent_refusal_is_bisected_to_the_offending_advice_and_the_rest_drains(tmp_path):
    bad = set()

    def answer(advices):
        if any(a["advice_id"] in bad for a in advices):
            return 422, {"code": "VALIDATION_FAILED", "status": 422}
        return 200, {"results": [{"advice_id": a["advice_id"], **CONFIRMED} for a in advices]}
    bg, platform = make(tmp_path, advices_script(answer), drain_batch=8, drain_rate_per_s=1e6)
    refs = [record(bg.journal) for _ in range(8)]
    bad.add(bg.journal.get(refs[5])["advice_id"])
    assert bg.drain_once(Waits()) == 8
    st = bg.journal.status()
    assert (st["drained"], st["failed"], st["pending"]) == (7, 1, 0)
    failed = bg.journal.get(refs[5])
    assert failed["state"] == "failed" and failed["failed_status"] == 422
    assert "422 VALIDATION_FAILED from POST /v1/advices" in failed["failed_reason"]
    assert bg.journal.failed()[0]["reference"] == refs[5]
    assert bg.journal.requeue(refs[5]) and bg.journal.status()["pending"] == 1  # an operator may send it again

def test_a_5xx_backs_off_that_batch_and_the_drain_goes_on_with_the_others(tmp_path):
    calls = []

    def answer(advices):
        calls.append(len(calls))
        if len(calls) == 1:
            return 500, {"code": "INTERNAL_ERROR", "status": 500}
        return 200, {"results": [{"advice_id": a["advice_id"], **CONFIRMED} for a in advices]}
    bg, _ = make(tmp_path, advices_script(answer), drain_batch=2, drain_rate_per_s=1e6, drain_concurrency=1,
                 drain_backoff_base_s=3600.0, drain_backoff_max_s=3600.0)  # one batch in flight: which one fails is known
    first = [record(bg.journal, at=1.0) for _ in range(2)]
    later = [record(bg.journal, at=2.0) for _ in range(2)]
    assert bg.drain_once(Waits()) == 2  # the 500: this batch waits for its back-off...
    assert bg.drain_once(Waits()) == 2  # ...and the next batch drains meanwhile
    assert [bg.journal.get(r)["state"] for r in first + later] == ["pending"] * 2 + ["drained"] * 2
    assert bg.drain_once(Waits()) == 0  # nothing claimable before the back-off ends

def test_a_pending_answer_is_asked_again_later_and_warned_past_the_threshold(tmp_path, caplog):
    answer = lambda advices: (200, {"results": [{"advice_id": a["advice_id"], "verdict": "pending"}
                                                for a in advices]})
    bg, _ = make(tmp_path, advices_script(answer), drain_backoff_base_s=0.0, drain_pending_warn_after=3,
                 drain_rate_per_s=1e6)
    ref = record(bg.journal)
    with caplog.at_level(logging.WARNING, logger="gateway.background"):
        for _ in range(3):
            assert bg.drain_once(Waits()) == 1
    assert bg.journal.get(ref)["pending_answers"] == 3
    assert [r for r in caplog.records if r.getMessage() == "advice_still_pending"]

def test_a_refused_service_login_is_loud_and_makes_the_gateway_not_ready(tmp_path, caplog):
    base = platform_script([CONFIRMED])
    script = lambda r: ((401, {"error": "invalid_client", "code": "UNAUTHENTICATED"})
                        if r.path_url == "/oauth/token" else base(r))
    bg, _ = make(tmp_path, script)
    with caplog.at_level(logging.ERROR, logger="gateway.background"):
        assert not bg.refresh_once()
    assert [r for r in caplog.records if r.getMessage() == "service_login_failed"]
    reasons = not_ready_reasons(read(bg.cached.disk))
    assert reasons == ["service-account login failing: 401 invalid_client from POST /oauth/token"]
    bg.client.session.adapters["http://"].script = base
    assert bg.refresh_once() and not_ready_reasons(read(bg.cached.disk)) == []

def test_a_failing_cache_write_is_reported_and_neither_kills_the_loop_nor_leaks_a_thread(tmp_path):
    bg, _ = make(tmp_path, platform_script([CONFIRMED]), refresh_interval_s=0.0, probe_interval_s=0.01,
                 probe_failures=10**9)  # the prober has no scripted platform: it must not open the breaker
    saves = []

    def full_disk(name, value, at):
        saves.append(name)
        raise OSError(28, "No space left on device")
    bg.cached.save = full_disk
    def ours() -> int:  # threads of the work; a PostgreSQL journal's pool threads live apart from it
        return sum(1 for t in threading.enumerate() if not t.name.startswith("gateway-journal"))
    before = ours()
    for _ in range(3):  # the leader restarting the work, as after a crash of it
        stop = threading.Event()
        runner = threading.Thread(target=bg.run, args=(stop,))
        runner.start()
        while len(saves) < 2:
            stop.wait(0.01)
        stop.set()
        runner.join(10)
        assert not runner.is_alive()
        saves.clear()
    assert ours() == before  # every prober stopped with its run
    assert read(bg.cached.disk)["refresh"]["error"].startswith("OSError")
