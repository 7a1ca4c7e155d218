"""Group commit: concurrent offline acceptances of one worker share one durable commit.

Each acceptance must be on disk before it is answered (journal: WAL, synchronous=FULL), so
each used to pay its own fsync, and under load the threads queued on SQLite's write lock
one fsync at a time. Here the first thread to arrive becomes the leader and commits every
acceptance that queued up meanwhile in one transaction (`Journal.record_many`); the others
wait on their own event and are answered only after that commit returned. Nothing waits
on purpose: alone, a thread commits at once (no timer, no added latency at low rates);
under load, the batch is whatever arrived during the previous commit, so the batch size
follows the fsync time. No dedicated thread: a leader serves batches until its own entry
is committed, then hands the lead to the next waiting thread.

Velocity limits are checked inside the transaction, per entry in arrival order (the
journal does it); an entry's own failure (VelocityExceeded) is its alone; a failed commit
fails every entry of that batch with JournalError, and none of them is answered accepted.

Everything else (reads, claims, verdicts) goes straight to the wrapped journal.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from gateway.offline.journal import Journal, OfflineEntry, VelocityLimit


@dataclass
class _Request:
    entry: OfflineEntry
    reference: str | None
    velocity: VelocityLimit | None
    event: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    done: bool = False


class GroupCommit:
    def __init__(self, journal: Journal, max_batch: int = 64) -> None:
        self.journal, self.max_batch = journal, max(1, max_batch)
        self._queue: list[_Request] = []
        self._leading = False
        self._lock = threading.Lock()
        self.batches = self.committed = 0  # for the benchmark's report

    def __getattr__(self, name: str) -> Any:  # reads, claims, verdicts: the journal's own
        return getattr(self.journal, name)

    def record(self, entry: OfflineEntry, reference: str | None = None,
               velocity: VelocityLimit | None = None) -> str:
        return self.record_once(entry, reference, velocity)[0]

    def record_once(self, entry: OfflineEntry, reference: str | None = None,
                    velocity: VelocityLimit | None = None) -> tuple[str, dict[str, Any] | None]:
        """As Journal.record_once; returns only once the entry's commit is on disk."""
        me = _Request(entry, reference, velocity)
        with self._lock:
            self._queue.append(me)
            lead = not self._leading
            self._leading = True
        if not lead:
            me.event.wait()  # set when committed, or when handed the lead
        if not me.done:
            self._lead(me)
        if isinstance(me.result, BaseException):
            raise me.result
        return me.result

    def _lead(self, me: _Request) -> None:
        while not me.done:
            with self._lock:
                batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                results = self.journal.record_many([(r.entry, r.reference, r.velocity) for r in batch])
            except Exception as exc:  # noqa: BLE001 - a failed commit fails each of its entries
                results = [exc] * len(batch)
            self.batches += 1
            self.committed += len(batch)
            for r, result in zip(batch, results):
                r.result, r.done = result, True
                if r is not me:
                    r.event.set()
        with self._lock:
            if self._queue:  # someone arrived during the last commit: they lead now
                self._queue[0].event.set()
            else:
                self._leading = False
