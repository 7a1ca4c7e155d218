"""The drain's leader across replicas: a PostgreSQL advisory lock on a dedicated connection.

`flock` (gateway.background.leader) elects one leader among the workers of one host. With
a PostgreSQL journal several replicas, on several hosts, share one journal: the drain must
still run once per deployment (one drainer is what a platform just coming back can take),
so each replica's leader also competes for a session-level advisory lock. The server frees
it when the holder's connection ends: a process killed with SIGKILL closes its socket at
once, and TCP keepalives plus `client_connection_check_interval` end a session whose host
vanished within about `DEAD_PEER_S`. The holder checks its connection before each batch
(at most every `check_every_s`): one that lost its session stops draining at once, so two
drainers can only overlap for one batch, and even then the leases (FOR UPDATE SKIP LOCKED)
keep them on different entries.
"""
from __future__ import annotations

import logging
import os
import time

import psycopg

log = logging.getLogger(__name__)
DRAIN_LOCK = 0x7470_6472_6169  # pg_advisory_lock key of the deployment's drainer
DEAD_PEER_S = 10
_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2}
_SESSION = ("-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=2"
            " -c client_connection_check_interval=2000 -c statement_timeout=5000")


class DatabaseLeadership:
    """Same shape as leader.Leadership: try_acquire never blocks, release gives the lead up."""

    def __init__(self, url: str, key: int = DRAIN_LOCK, check_every_s: float = 1.0) -> None:
        self.url, self.key, self.check_every_s = url, key, check_every_s
        self._conn: psycopg.Connection | None = None
        self._pid = 0
        self._checked = 0.0
        self._unreachable = False  # logged once per loss of the database, not every loop

    @property
    def is_leader(self) -> bool:
        return self._conn is not None and self._pid == os.getpid() and not self._conn.closed

    def try_acquire(self) -> bool:
        if self.is_leader:
            if time.monotonic() - self._checked < self.check_every_s:
                return True
            return self._still_held()
        self._drop()
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5, options=_SESSION,
                                   application_name=f"gateway-drain-{os.getpid()}", **_KEEPALIVE)
        except psycopg.Error as exc:
            if not self._unreachable:
                log.warning("drain leader: cannot reach the journal's database: %s", str(exc)[:200])
            self._unreachable = True
            return False
        if self._unreachable:
            log.info("drain leader: the journal's database answers again")
            self._unreachable = False
        try:
            got = bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0])
        except psycopg.Error:
            got = False
        if not got:
            conn.close()
            return False
        self._conn, self._pid, self._checked = conn, os.getpid(), time.monotonic()
        log.info("drain leader: pid %d holds the deployment's drain lock", self._pid)
        return True

    def _still_held(self) -> bool:
        assert self._conn is not None
        try:  # our own session still holds it (a lost session would have freed it)
            held = self._conn.execute("SELECT count(*) FROM pg_locks WHERE locktype='advisory' AND granted"
                                      " AND pid=pg_backend_pid() AND classid=%s AND objid=%s AND objsubid=1",
                                      (self.key >> 32, self.key & 0xFFFFFFFF)).fetchone()[0]
        except psycopg.Error as exc:
            log.warning("drain leader: lost the journal's database, giving up the drain: %s", str(exc)[:200])
            self._drop()
            return False
        if not held:
            log.warning("drain leader: the drain lock is no longer ours")
            self._drop()
            return False
        self._checked = time.monotonic()
        return True

    def release(self) -> None:
        if self.is_leader:
            assert self._conn is not None
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            except psycopg.Error:
                pass  # closing the session frees it anyway
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._pid == os.getpid():
            try:
                conn.close()
            except psycopg.Error:
                pass
