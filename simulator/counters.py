"""Per-worker request counters, flushed to the shared store once a second.

Writing every request to SQLite would put a write lock on the hot path; a second of
staleness in `GET /stats` costs nothing.
"""
from __future__ import annotations

import os
import threading
from collections import Counter


class Counters:
    def __init__(self, store, interval_s: float = 1.0) -> None:
        self.store = store
        self.values: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.interval_s = interval_s
        self._thread: threading.Thread | None = None
        self._pid = 0

    def inc(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.values[name] += n
        if self._pid != os.getpid():  # started lazily, after gunicorn forked us
            self._start()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._loop, name="counters", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        stop = threading.Event()
        while not stop.wait(self.interval_s):
            self.flush()

    def flush(self) -> None:
        with self.lock:
            snapshot = dict(self.values)
        if snapshot:
            self.store.flush_counters(f"{os.uname().nodename}:{os.getpid()}", snapshot)
