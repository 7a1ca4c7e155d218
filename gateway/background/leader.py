"""Background work once per gateway, not once per gunicorn worker.

Draining the journal and refreshing the caches must run in one process only: N drainers
would multiply the load on a platform that is just coming back (a recovery storm), and N
refreshers would hammer it for the same keys. Workers compete for an exclusive `flock` on
a lock file; the kernel drops the lock when its holder dies, even by SIGKILL, so another
worker takes over within `retry_s` with no stale-lock cleanup and no heartbeat.

Acquire in the worker, after the fork (a lock taken in the gunicorn master would be shared
by every forked child through the inherited open file). `is_leader` is therefore false in
a process that inherited a Leadership object, and `release` there only closes its copy.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
from typing import Callable

log = logging.getLogger(__name__)


class Leadership:
    def __init__(self, lock_path: str) -> None:
        self.lock_path = lock_path
        self._fd: int | None = None
        self._pid = 0  # the process that took the lock

    @property
    def is_leader(self) -> bool:
        return self._fd is not None and self._pid == os.getpid()

    def try_acquire(self) -> bool:
        """Never blocks: True when this process holds (or now takes) the lock."""
        if self.is_leader:
            return True
        self._forget_inherited()
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # BlockingIOError: someone else leads
            os.close(fd)
            return False
        self._fd, self._pid = fd, os.getpid()
        os.ftruncate(fd, 0)  # the holder's pid, for people looking at the file
        os.write(fd, f"{self._pid}\n".encode())
        return True

    def release(self) -> None:
        if self.is_leader:
            assert self._fd is not None
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._forget_inherited()

    def _forget_inherited(self) -> None:
        # LOCK_UN on an inherited descriptor would free the parent's lock: only close it.
        if self._fd is not None and self._pid != os.getpid():
            os.close(self._fd)
            self._fd = None


class BackgroundLeader:
    """A daemon thread that waits for the lead, then runs `fn(stop_event)` while leading."""

    def __init__(self, lock_path: str, fn: Callable[[threading.Event], None],
                 retry_s: float = 1.0) -> None:
        self.leadership = Leadership(lock_path)
        self._fn, self._retry_s = fn, retry_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateway-leader", daemon=True)

    @property
    def is_leader(self) -> bool:
        return self.leadership.is_leader

    def start(self) -> "BackgroundLeader":
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask fn to finish (it watches the event), wait for it, give up the lead."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._try_acquire():
                log.info("background leader: pid %d took the lead", os.getpid())
                try:
                    self._fn(self._stop)  # returns when the event is set
                except Exception:  # a crash of the work must not kill the thread for good
                    log.exception("background work failed; giving up the lead")
                finally:
                    self.leadership.release()
            self._stop.wait(self._retry_s)

    def _try_acquire(self) -> bool:
        try:
            return self.leadership.try_acquire()
        except OSError as exc:  # lock directory missing or unwritable: keep trying, loudly
            log.warning("background leader: cannot open %s: %s", self.leadership.lock_path, exc)
            return False


def run_when_leader(lock_path: str, fn: Callable[[threading.Event], None],
                    retry_s: float = 1.0) -> BackgroundLeader:
    """Start competing for the lead now; call `.stop()` at worker exit."""
    return BackgroundLeader(lock_path, fn, retry_s).start()
