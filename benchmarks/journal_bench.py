"""Durable offline acceptances per second, and their latency, on each journal store.

    .venv/bin/python benchmarks/journal_bench.py [--threads 8] [--per-thread 250] [--json out.json]

What the offline desk does for each acceptance: `record_once` with the beneficiary's
velocity limit, answered after the commit (SQLite: WAL + synchronous=FULL, one writer;
PostgreSQL: synchronous_commit=on, a per-beneficiary lock row, a pool per process). Threads
record for distinct beneficiaries (a shop's customers), so the limit never refuses and only
the store's durable commit is measured. PostgreSQL is a throwaway local cluster
(tests.support.pg, fsync on) unless JOURNAL_URL names a server. Prints one line per store.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gateway.offline.journal import Journal, OfflineEntry, VelocityLimit  # noqa: E402
from gateway.offline.journal_postgres import PostgresJournal  # noqa: E402
from gateway.offline.journal_sqlite import SqliteJournal  # noqa: E402
from tests.support.pg import Cluster  # noqa: E402

LIMIT = VelocityLimit(since=0.0, max_count=10_000, max_amount_eur=Decimal("1000000.00"))


def entry(key: str, i: int) -> OfflineEntry:
    return OfflineEntry(uuid.uuid4().hex, "pec", 1_700_000_000.0 + i, "123456789", "S-1", key, "OPTI",
                        Decimal("120.00"), "unreachable", {"request": {"card": "x" * 600}, "answer": {}}, "opt-1")


def measure(journal: Journal, threads: int, per_thread: int) -> dict:
    journal.check()
    latencies: list[float] = []
    lock, barrier = threading.Lock(), threading.Barrier(threads + 1)

    def work(t: int) -> None:
        key, mine = f"bk-bench-{t}", []
        barrier.wait()
        for i in range(per_thread):
            started = time.perf_counter()
            journal.record(entry(key, i), velocity=LIMIT)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for p in pool:
        p.start()
    barrier.wait()
    started = time.perf_counter()
    for p in pool:
        p.join()
    elapsed = time.perf_counter() - started
    assert journal.status()["recorded"] == threads * per_thread
    q = statistics.quantiles(latencies, n=100)
    return {"acceptances": len(latencies), "per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(q[49] * 1000, 2), "p99_ms": round(q[98] * 1000, 2), "threads": threads}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--per-thread", type=int, default=250)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    out = {}
    with tempfile.TemporaryDirectory(prefix="journal-bench-") as tmp:
        sqlite = SqliteJournal(str(Path(tmp) / "journal.sqlite"))
        out["sqlite"] = measure(sqlite, args.threads, args.per_thread)
        sqlite.close()
    with Cluster.start() as cluster:
        pg = PostgresJournal(cluster.create_database("bench"), pool_size=args.threads)
        out["postgresql"] = measure(pg, args.threads, args.per_thread)
        pg.close()
    for store, r in out.items():
        print(f"{store:10s} {r['per_s']:8.1f} durable acceptances/s  p50 {r['p50_ms']:6.2f} ms"
              f"  p99 {r['p99_ms']:6.2f} ms  ({r['acceptances']} with {r['threads']} threads)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
