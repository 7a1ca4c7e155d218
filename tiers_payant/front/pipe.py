"""One client connection through the front, and its upstream side (see `tiers_payant/front`).

`_Pipe` feeds the client's bytes to the gate and forwards whole requests; it asks the
front's current transport mode on every chunk, so a mode change reaches kept-alive
connections on their next request.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from typing import TYPE_CHECKING

from .gate import FrameError, Framer, problem_bytes

if TYPE_CHECKING:
    from .server import Front

log = logging.getLogger("tiers_payant.front")
LINGER_S = 1.0  # after a refusal, how long what the client still sends is read and dropped
_RST_LINGER = struct.pack("ii", 1, 0)  # SO_LINGER {on, 0 s}: close() sends RST, not FIN


def _reset(transport: asyncio.Transport) -> None:
    sock = transport.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST_LINGER)
    except OSError:
        pass  # already gone: nothing left to reset
    transport.abort()


class _Pipe(asyncio.Protocol):
    """One client connection; it asks the proxy's current mode on every chunk, so a mode
    change reaches keep-alive connections on their next request."""

    def __init__(self, proxy: Front):
        self.proxy, self.client, self.upstream = proxy, None, None
        self.pending: list[bytes] = []  # whole requests waiting for the upstream connection
        self.client_eof = self.connecting = False
        self.tainted = False  # bytes were dropped: the HTTP stream is no longer in step
        self.peer = ""
        self.framer: Framer | None = None
        self.deadline: float | None = None  # monotonic; None: no request under way
        self.phase, self.completed = "idle", 0  # what the deadline was set for
        self.counted = False  # in the front's per-address count
        self.refused = False  # a refusal was written: what follows is read and dropped

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.client = transport
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else "unknown"
        limits = self.proxy.limits
        self.framer = Framer(self.peer, limits)
        self.proxy.conns.add(self)
        if not self.proxy.admit(self):
            return
        self.deadline = time.monotonic() + limits.header_timeout_s  # a first request is due

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # answered already; lingering until the client closes
        mode = self.proxy.mode
        if mode == "pass":
            try:
                whole = self.framer.feed(data)
            except FrameError as e:
                self._refuse(problem_bytes("BAD_REQUEST", f"malformed request: {e.detail}"[:200], e.status))
                return
            if self.framer.continue_wanted and self.framer.phase == "body":  # the client waits for it
                self.framer.continue_wanted = False
                self.client.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._timed(self.framer.phase, self.framer.completed)
            if whole:
                if self.upstream is not None:
                    self.upstream.write(whole)
                else:
                    self.pending.append(whole)
                    self._connect()
        elif mode == "blackhole":
            self.tainted = True  # read and forget: the client's send never blocks, no answer comes
        else:
            self.reset()

    def _timed(self, phase: str, completed: int) -> None:
        """Start the deadline of a phase when it begins (a new request begins one too);
        between requests, none (gunicorn's keep-alive closes an idle upstream, and with it
        this connection)."""
        if (phase, completed) == (self.phase, self.completed):
            return
        self.phase, self.completed = phase, completed
        limits = self.proxy.limits
        if phase == "head":
            self.deadline = time.monotonic() + limits.header_timeout_s
        elif phase == "body":
            self.deadline = time.monotonic() + limits.body_timeout_s
        else:
            self.deadline = None

    def expire(self) -> None:
        """The request under way missed its deadline: 408 when nothing else may be on the wire."""
        self.proxy.expired += 1
        what = "body" if self.phase == "body" else "headers"
        limit = self.proxy.limits.body_timeout_s if what == "body" else self.proxy.limits.header_timeout_s
        if self.upstream is None and not self.connecting:
            self._refuse(problem_bytes("REQUEST_TIMEOUT", f"the request's {what} did not arrive within {limit:g} s"))
        else:  # a response may be in flight, or a streamed body half sent: drop both sides
            self.reset()

    def _refuse(self, answer: bytes) -> None:
        self.deadline = None
        self.proxy.conns.discard(self)
        if self.upstream is not None:
            self.upstream.abort()
        self.refused = True
        self.client.write(answer)
        if self.client.can_write_eof():
            # Lingering close, as web servers do: FIN after the answer, then read and drop what
            # the client still sends for a moment. Closing at once would answer its next bytes
            # with an RST, which can destroy the answer before the client has read it.
            self.client.write_eof()
            asyncio.get_running_loop().call_later(LINGER_S, self.client.close)
        else:
            self.client.close()  # after the answer is flushed

    def eof_received(self) -> bool:
        self.client_eof = True
        if self.refused:
            return False  # the client read its answer and closed: close now
        if self.framer is not None and self.framer.phase != "idle":
            self.reset()  # a request cut short: nothing whole to forward
            return False
        self.deadline = None
        if self.upstream is not None and self.upstream.can_write_eof():
            self.upstream.write_eof()
        elif self.upstream is None and not self.connecting:
            return False  # nothing asked, nothing to answer: close
        return True  # half-closed: keep reading the upstream's answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.proxy.conns.discard(self)
        self.proxy.release(self)
        if self.upstream is not None:
            self.upstream.close()

    # Flow control: a slow reader on one side pauses reading on the other.
    def pause_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.resume_reading()

    def reset(self) -> None:
        self.proxy.conns.discard(self)
        if self.upstream is not None:
            self.upstream.abort()
        _reset(self.client)

    def _connect(self) -> None:
        if self.connecting:
            return
        self.connecting = True
        asyncio.get_running_loop().create_task(self._open_upstream())

    async def _open_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_connection(
                lambda: _Upstream(self), self.proxy.upstream_host, self.proxy.upstream_port)
        except OSError as e:
            log.warning("upstream %s:%s unreachable: %s", self.proxy.upstream_host, self.proxy.upstream_port, e)
            self.client.close()
            return
        if self.client.is_closing():
            transport.close()
            return
        self.upstream = transport
        transport.write(b"".join(self.pending))
        self.pending.clear()
        if self.client_eof and transport.can_write_eof():
            transport.write_eof()


class _Upstream(asyncio.Protocol):
    def __init__(self, pipe: _Pipe):
        self.pipe = pipe

    def data_received(self, data: bytes) -> None:
        mode = self.pipe.proxy.mode
        if mode == "pass":
            self.pipe.client.write(data)
        elif mode == "blackhole":
            self.pipe.tainted = True
        else:
            self.pipe.reset()  # mid-response

    def eof_received(self) -> bool:
        return False  # the transport closes; connection_lost then closes the client

    def connection_lost(self, exc: Exception | None) -> None:
        self.pipe.client.close()  # after flushing what the upstream sent

    def pause_writing(self) -> None:
        self.pipe.client.pause_reading()

    def resume_writing(self) -> None:
        self.pipe.client.resume_reading()
