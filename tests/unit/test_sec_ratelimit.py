"""Token bucket: the pure rule, and one bucket shared by several store connections (workers)."""
from __future__ import annotations

import threading

from simulator.security.ratelimit import Bucket, SharedRateLimiter, retry_after_header, take
from simulator.store import Store


def run(times: list[float], rate: float = 20.0, burst: int = 40) -> list[bool]:
    bucket, out = None, []
    for t in times:
        taken = take(bucket, t, rate, burst)
        bucket = taken.bucket
        out.append(taken.allowed)
    return out


def test_a_burst_is_allowed_then_refused_with_a_retry_after():
    allowed = run([100.0] * 45)
    assert allowed == [True] * 40 + [False] * 5
    refused = take(Bucket(0.0, 100.0), 100.0, 20.0, 40)
    assert not refused.allowed and refused.retry_after_s == 0.05 and retry_after_header(refused.retry_after_s) == "1"


def test_an_honest_professional_at_10_per_second_is_never_refused():
    assert all(run([1000 + i / 10 for i in range(6000)]))  # ten minutes


def test_sustained_25_per_second_is_held_to_the_rate():
    times = [1000 + i / 25 for i in range(2500)]  # 100 s
    allowed = sum(run(times))
    assert 40 + 20 * 100 - 5 <= allowed <= 40 + 20 * 100 + 1


def test_the_bucket_refills_over_time_and_never_above_burst():
    b = take(Bucket(0.0, 0.0), 1000.0, 20.0, 40).bucket
    assert b.tokens == 39.0


def test_a_clock_stepping_back_refills_nothing():
    b = Bucket(0.5, 100.0)
    taken = take(b, 50.0, 20.0, 40)
    assert not taken.allowed and taken.bucket.updated_at == 100.0


def test_retry_after_is_whole_seconds_at_least_one():
    assert retry_after_header(0.0) == "1" and retry_after_header(1.2) == "2" and retry_after_header(3.0) == "3"


def test_two_workers_draw_from_one_bucket(tmp_path):
    """Two Store objects on one file stand for two gunicorn workers; threads hammer both."""
    path = str(tmp_path / "p.sqlite")
    limiters = [SharedRateLimiter(Store(path), 1e-9, 30), SharedRateLimiter(Store(path), 1e-9, 30)]
    results: list[bool] = []
    lock = threading.Lock()

    def hammer(limiter):
        for _ in range(40):
            ok = limiter.admit("opt-000000", 1000.0).allowed
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=hammer, args=(limiters[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 160 and sum(results) == 30  # not 2 x 30: the bucket is shared
    other = limiters[0].admit("aud-000001", 1000.0)
    assert other.allowed  # buckets are per account


def test_reset_gives_a_full_bucket(tmp_path):
    limiter = SharedRateLimiter(Store(str(tmp_path / "p.sqlite")), 1e-9, 2)
    assert [limiter.admit("a", 1.0).allowed for _ in range(3)] == [True, True, False]
    limiter.reset("a")
    assert limiter.admit("a", 1.0).allowed
