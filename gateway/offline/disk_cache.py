"""Persisted caches of what degraded mode needs when the platform is gone: the AMC keys
(JWKS), the revocation list and the stand-in policy.

They live on disk, not only in memory, for two reasons: a gateway restarted during an
outage still has them, and under gunicorn only the leader worker refreshes them while
every worker reads them. Writes are atomic (temp file, fsync, rename, fsync of the
directory), so a reader sees the old file or the new one, never half of one; a crash
mid-write leaves at worst a stray temp file, which `load` never reads.
"""
from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import threading
from typing import Any

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class DiskCache:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # name -> (file identity, value, fetched_at): re-read only when the file changed.
        self._memo: dict[str, tuple[tuple[int, int, int], dict[str, Any], float]] = {}
        self._lock = threading.Lock()

    def _path(self, name: str) -> str:
        if not _NAME.match(name):  # names become file names: no path tricks
            raise ValueError(f"bad cache name {name!r}")
        return os.path.join(self.directory, name + ".json")

    def save(self, name: str, value: dict[str, Any], fetched_at: float) -> None:
        path = self._path(name)
        data = json.dumps({"fetched_at": fetched_at, "value": value}, separators=(",", ":"))
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        _fsync_dir(self.directory)  # make the rename itself survive a power cut

    def load(self, name: str) -> tuple[dict[str, Any], float] | None:
        """(value, fetched_at), or None when never saved or unreadable.

        The value is shared with the memo and later callers: treat it as read-only.
        """
        path = self._path(name)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        # os.replace gives a new inode, so this identity changes even within one mtime tick.
        identity = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            memo = self._memo.get(name)
            if memo and memo[0] == identity:
                return memo[1], memo[2]
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            value, fetched_at = doc["value"], float(doc["fetched_at"])
            if not isinstance(value, dict):
                raise ValueError("value is not an object")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("cache %s unreadable, ignored: %s", name, exc)
            return None
        with self._lock:
            self._memo[name] = (identity, value, fetched_at)
        return value, fetched_at

    def age_s(self, name: str, now: float) -> float | None:
        """Seconds since the cached value was fetched from the platform (not since saved)."""
        loaded = self.load(name)
        return None if loaded is None else now - loaded[1]


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory: best effort
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
