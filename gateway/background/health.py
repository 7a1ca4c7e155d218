"""What each background task last did, shared with every worker through one small file.

Only the leader runs the tasks, but any worker answers /readyz and /v1/status: the leader
writes `background_health` in the disk cache (atomic rename) when a task's outcome changes,
and readers load it. A task that keeps failing the same way writes once, not per attempt.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from gateway.offline.disk_cache import DiskCache

log = logging.getLogger("gateway.background")
NAME = "background_health"
TASKS = ("login", "refresh", "drain", "probe")


class Health:
    def __init__(self, disk: DiskCache) -> None:
        self.disk = disk
        self._state: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def ok(self, task: str, now: float) -> None:
        self._set(task, {"ok": True, "error": None, "since": now}, now)

    def failed(self, task: str, error: str, now: float) -> bool:
        """Record a failure; True when it is new (another error than last time): log it then."""
        return self._set(task, {"ok": False, "error": error[:300], "since": now}, now)

    def _set(self, task: str, value: dict[str, Any], now: float) -> bool:
        with self._lock:
            old = self._state.get(task)
            if old is not None and (old["ok"], old["error"]) == (value["ok"], value["error"]):
                return False
            last_error = value if not value["ok"] else (old or {}).get("last_error")
            self._state[task] = {**value, "last_error": last_error}
            snapshot = dict(self._state)
        try:
            self.disk.save(NAME, snapshot, now)
        except OSError as exc:  # a full disk must not stop the task that reports it
            log.warning("background health not saved: %s", exc)
        return True


def read(disk: DiskCache) -> dict[str, Any]:
    loaded = disk.load(NAME)
    return loaded[0] if loaded else {}


def not_ready_reasons(health: dict[str, Any]) -> list[str]:
    """What /readyz names: a service account the platform refuses makes the gateway unable to
    refresh its snapshot or drain its journal, however well online calls go."""
    login = health.get("login")
    if login and not login.get("ok"):
        return [f"service-account login failing: {login.get('error')}"]
    return []
