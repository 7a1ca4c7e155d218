"""One circuit breaker for the whole gateway, shared by its gunicorn workers.

Choice: the pure `BreakerState` lives in a small binary file beside the journal, read and
rewritten under an exclusive `flock` (plus a thread lock, since flock does not exclude
threads sharing one descriptor). Why a file and not a SQLite table: a breaker is consulted
on every request, and flock + pread + pwrite costs a few microseconds with no fsync,
where a SQLite write transaction costs a hundred or more. Durability is not needed (the
page cache is shared by all processes; `serve` resets the file at start), atomicity is:
every reader holds the lock. Times are `time.monotonic()`, which is one clock for all
processes of a machine.

Layout: a header (state, opened_at, probe counters, transitions, cumulative counts, size
of the window), then the window: the calls tuple in `marshal` format (C-speed both ways;
the file is ours, written and read by the same Python).
"""
from __future__ import annotations

import fcntl
import marshal
import math
import os
import struct
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from gateway.online import breaker as core
from gateway.online.breaker import BreakerConfig, BreakerState

_HEADER = struct.Struct("<4sBdIIQQQQQI")  # magic, state, opened_at, in_flight, successes, transitions,
_MAGIC = b"GWB1"                           # recorded, failures, short_circuited, forced, n_calls
_STATES = ("closed", "open", "half_open")
Listener = Callable[[str, str], None]


class SharedBreaker:
    def __init__(self, path: str, cfg: BreakerConfig, clock: Callable[[], float] = time.monotonic,
                 on_transition: Listener | None = None) -> None:
        self.path, self.cfg, self.clock = path, cfg, clock
        self.on_transition = on_transition
        self._fd: int | None = None
        self._pid = 0
        self._tlock = threading.Lock()

    # -- public API: one lock round per call -------------------------------------------
    def allow(self, probe_after_s: float | None = None, early: bool = False) -> bool:
        """May one call go to the platform now? Every True must be followed by `record`.

        `probe_after_s`: once the breaker has opened, refuse (without probing) until it has
        been open that long; live traffic leaves the probing to the background prober.
        `early`: the prober saw the platform answer; half-open now (breaker.allow).
        """
        def step(st: BreakerState, extra: list[int]) -> tuple[BreakerState, bool]:
            now = self.clock()
            if probe_after_s is not None and st.opened_at is not None and now - st.opened_at < probe_after_s:
                ok, new = False, st
            else:
                ok, new = core.allow(st, self.cfg, now, early)
            extra[2] += not ok
            return new, ok
        return bool(self._update(step, header_only_when_closed=True))

    def record(self, outcome: str) -> None:
        def step(st: BreakerState, extra: list[int]) -> tuple[BreakerState, None]:
            extra[0] += 1
            extra[1] += outcome == "failure"
            return core.record(st, self.cfg, self.clock(), outcome), None  # type: ignore[arg-type]
        self._update(step)

    def force_open(self) -> None:
        def step(st: BreakerState, extra: list[int]) -> tuple[BreakerState, None]:
            new = core.force_open(st, self.clock())
            extra[3] += new is not st
            return new, None
        self._update(step)

    def state(self) -> str:
        """The current state name, from the header only (cheap)."""
        with self._locked() as fd:
            return self._read(fd, header_only=True)[0].state

    def opened_for_s(self) -> float | None:
        with self._locked() as fd:
            st = self._read(fd, header_only=True)[0]
        return None if st.opened_at is None else self.clock() - st.opened_at

    def snapshot(self) -> dict:
        with self._locked() as fd:
            st, extra = self._read(fd)
        calls = core._window(st.calls, self.cfg, self.clock()) if st.state == "closed" else st.calls
        return {"state": st.state, "storage": f"file+flock {self.path}",
                "window_calls": len(calls), "window_failures": sum(1 for c in calls if not c[1]),
                "window_slow": sum(1 for c in calls if c[2]),
                "failure_rate": round(core.failure_rate(calls), 3), "slow_rate": round(core.slow_rate(calls), 3),
                "transitions": st.transitions, "recorded": extra[0], "failures": extra[1],
                "short_circuited": extra[2], "forced_open": extra[3],
                "open_for_s": None if st.opened_at is None else round(self.clock() - st.opened_at, 3)}

    def reset(self) -> None:
        with self._locked() as fd:
            os.ftruncate(fd, 0)

    # -- file plumbing -----------------------------------------------------------------
    def _update(self, step, header_only_when_closed: bool = False):
        """Read, apply the pure step, write back what changed; tell the listener after."""
        with self._locked() as fd:
            st, extra = self._read(fd, header_only=header_only_when_closed)
            if header_only_when_closed and st.state == "closed":
                return step(st, extra)[1]  # allow() in closed changes nothing: no window read, no write
            if header_only_when_closed:
                st, extra = self._read(fd)
            before = list(extra)
            new, result = step(st, extra)
            if new is not st or extra != before:
                self._write(fd, new, extra, calls_changed=new.calls is not st.calls)
        change = core.transition(st, new)
        if change and self.on_transition:
            self.on_transition(*change)
        return result

    @contextmanager
    def _locked(self) -> Iterator[int]:
        with self._tlock:
            fd = self._descriptor()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield fd
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # never use a descriptor across fork
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def _read(self, fd: int, header_only: bool = False) -> tuple[BreakerState, list[int]]:
        raw = os.pread(fd, _HEADER.size, 0)
        if len(raw) < _HEADER.size or raw[:4] != _MAGIC:
            return BreakerState(), [0, 0, 0, 0]
        _, code, opened, in_flight, succ, trans, rec, fail, short, forced, n = _HEADER.unpack(raw)  # n: window bytes
        calls: tuple = ()
        if n and not header_only:
            calls = marshal.loads(os.pread(fd, n, _HEADER.size))
        opened_at = None if math.isnan(opened) else opened
        return BreakerState(_STATES[code], opened_at, calls, in_flight, succ, trans), [rec, fail, short, forced]

    def _write(self, fd: int, st: BreakerState, extra: list[int], calls_changed: bool) -> None:
        header = _HEADER.pack(_MAGIC, _STATES.index(st.state), math.nan if st.opened_at is None else st.opened_at,
                              st.probes_in_flight, st.probe_successes, st.transitions, *extra, 0)
        if not calls_changed:
            os.pwrite(fd, header, 0)
            return
        body = marshal.dumps(st.calls)
        header = header[:-4] + struct.pack("<I", len(body))
        os.pwrite(fd, header + body, 0)
