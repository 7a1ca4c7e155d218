"""The online hop to the platform: kept-alive `http.client` connections in a small LIFO pool.

Why not requests (as the background work uses) or urllib3: on the hot path every
professional's request pays the client's own cost. Measured on the reference 2-core
machine, the same POST to the platform took 3.6 ms through http.client, 4.6 ms through
urllib3's pool and 5.2 ms through a requests adapter (`benchmarks/gateway_bench.py`
prints the gateway's added latency this buys). What the libraries gave us and this
module keeps: pooled keep-alive connections, connect and read timeouts, no hidden
retries, no proxies from the environment, a check that an idle connection was not
closed by the platform before it is reused, and a fresh socket per process after fork.

Errors leave as `HopError(kind)`, kind one of failures.TRANSPORT_ERRORS plus "refused":
the upstream shell classifies them for the breaker and the retries.
"""
from __future__ import annotations

import http.client
import os
import select
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str
    retry_after: str | None = None
    www_authenticate: str | None = None  # relayed with a platform's 401 (RFC 9110 section 11.6.1)


class HopError(Exception):
    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind  # refused | timeout | reset | connect | protocol


class Hedged(Exception):
    """The request was sent but no byte of the answer came within the hedge budget.

    `late.finish()` waits for the rest of the read timeout and returns the Reply (or
    raises HopError); the caller runs it off the professional's thread. The connection
    goes back to the pool or is closed by `finish`, never by the caller.
    """

    def __init__(self, late: "Late") -> None:
        super().__init__("hedged")
        self.late = late


class Late:
    def __init__(self, hop: "PlatformHop", conn: http.client.HTTPConnection, deadline: float) -> None:
        self.hop, self.conn, self.deadline = hop, conn, deadline

    def finish(self) -> "Reply":
        left = self.deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError("late answer past its read timeout")
            self.conn.sock.settimeout(left)
            reply = _read(self.conn)
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            raise _classify(exc) from exc
        except BaseException:
            self.conn.close()
            raise
        self.hop._checkin(self.conn)
        return reply

    def abandon(self) -> None:
        self.conn.close()


# A reused connection that fails before any answer most likely met the platform closing
# it while idle (the keep-alive race): worth one immediate try on a new socket. All our
# calls may be sent twice: rights checks and status reads change nothing, a PEC always
# carries its Idempotency-Key.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class _OneWrite:
    """Request line, headers and body in one write, as CPython's http.client did until 3.5.

    Two writes reach the platform as two segments, so every process on the way (the
    platform's front, its worker) wakes twice per request; the body is small (a card and a
    few lines, bounded by the gateway's own size limit), so one copy costs less.
    """

    def _send_output(self, message_body=None, encode_chunked=False):
        if isinstance(message_body, bytes) and not encode_chunked:
            self._buffer.extend((b"", b""))
            head = b"\r\n".join(self._buffer)
            del self._buffer[:]
            self.send(head + message_body)
            return
        super()._send_output(message_body, encode_chunked)


class _HTTPConnection(_OneWrite, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_OneWrite, http.client.HTTPSConnection):
    pass


class PlatformHop:
    def __init__(self, base_url: str, pool_size: int = 32) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"platform URL must be http(s), not {base_url!r}")
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.pool_size = pool_size
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def request(self, method: str, path: str, headers: dict, body: bytes | None,
                timeout: float | tuple[float, float], hedge_s: float | None = None) -> Reply:
        """`hedge_s`: when no byte of the answer has come that long after the request was
        written, raise Hedged (the exchange goes on in `Hedged.late`)."""
        connect_s, read_s = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        conn, reused = self._checkout(connect_s)
        try:
            try:
                reply = self._exchange(conn, method, path, headers, body, read_s, hedge_s)
            except _STALE:
                if not reused:
                    raise
                conn.close()
                conn, reused = self._connect(connect_s), False
                reply = self._exchange(conn, method, path, headers, body, read_s, hedge_s)
        except Hedged:
            raise  # the connection now belongs to the late completion
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _classify(exc) from exc
        except BaseException:
            conn.close()
            raise
        self._checkin(conn)
        return reply

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- connections -------------------------------------------------------------------
    def _checkout(self, connect_s: float) -> tuple[http.client.HTTPConnection, bool]:
        while True:
            with self._lock:
                if self._pid != os.getpid():  # sockets must not cross a fork: forget the parent's
                    self._idle, self._pid = [], os.getpid()
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect(connect_s), False
            if not _dropped(conn):
                return conn, True
            conn.close()

    def _checkin(self, conn: http.client.HTTPConnection) -> None:
        if conn.sock is None:  # the platform said Connection: close
            return
        with self._lock:
            if self._pid == os.getpid() and len(self._idle) < self.pool_size:
                self._idle.append(conn)
                return
        conn.close()

    def _connect(self, connect_s: float) -> http.client.HTTPConnection:
        cls = _HTTPSConnection if self.https else _HTTPConnection
        conn = cls(self.host, self.port, timeout=connect_s)
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            raise _classify(exc, connecting=True) from exc
        # No Nagle delay for a request written while the previous answer's ACK is pending.
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _exchange(self, conn: http.client.HTTPConnection, method: str, path: str, headers: dict,
                  body: bytes | None, read_s: float, hedge_s: float | None = None) -> Reply:
        conn.sock.settimeout(read_s)  # per socket operation, like requests' read timeout
        conn.request(method, self.prefix + path, body=body, headers=headers)
        if hedge_s is not None and hedge_s < read_s and not _readable(conn, hedge_s):
            raise Hedged(Late(self, conn, time.monotonic() + read_s - hedge_s))
        return _read(conn)


def _read(conn: http.client.HTTPConnection) -> Reply:
    resp = conn.getresponse()
    data = resp.read()
    return Reply(resp.status, data, resp.getheader("Content-Type", "application/json"),
                 resp.getheader("Retry-After"), resp.getheader("WWW-Authenticate"))


def _readable(conn: http.client.HTTPConnection, wait_s: float) -> bool:
    """Did the first byte of the answer (or an EOF) come within `wait_s`? One poll: the
    healthy path pays one system call for the hedge, no thread hand-off."""
    poller = select.poll()
    poller.register(conn.sock, select.POLLIN | select.POLLERR | select.POLLHUP)
    try:
        return bool(poller.poll(max(0, int(wait_s * 1000))))
    except OSError:
        return True  # let the read report it


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """An idle keep-alive socket that is readable was closed (or sent garbage): do not reuse."""
    sock = conn.sock
    if sock is None:
        return True
    poller = select.poll()  # not select(): descriptors above 1023 are fine
    poller.register(sock, select.POLLIN)
    try:
        return bool(poller.poll(0))
    except OSError:
        return True


def _classify(exc: BaseException, connecting: bool = False) -> HopError:
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return HopError("timeout", "connect" if connecting else "read")
    if isinstance(exc, ConnectionRefusedError):
        return HopError("refused")
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError,
                        http.client.RemoteDisconnected)):
        return HopError("reset", type(exc).__name__)
    if isinstance(exc, http.client.HTTPException):
        return HopError("protocol", type(exc).__name__)  # truncated body, bad status line
    return HopError("connect", type(exc).__name__)
