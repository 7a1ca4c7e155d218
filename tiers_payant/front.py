"""The public port of both services: an asyncio front before gunicorn's workers.

The server (gunicorn) listens on an internal loopback port; this front owns the public
one. Two jobs:

- **Whole requests only** (`tiers_payant/gate.py`): each request is forwarded once it has
  fully arrived, within header and body deadlines (408 otherwise), and connections are
  capped per source address and in total (429 / 503). Thousands of slow sockets cost the
  front a buffer each and gunicorn nothing.
- **Transport faults** (the platform's only, as Toxiproxy does): it asks
  `transport_mode()` every ~20 ms what to do ("pass", "refuse", "blackhole", "reset").
  The callable runs in a worker thread, so it may read the shared plan from a file or a
  database; if it raises, the last mode stays in force. The gateway passes `lambda: "pass"`.
"""
from __future__ import annotations

import asyncio
import logging
import resource
import signal
import socket
import struct
import threading
import time
from typing import Callable

from .gate import FrameError, Framer, FrontLimits, problem_bytes

log = logging.getLogger(__name__)
MODES = ("pass", "refuse", "blackhole", "reset")
LINGER_S = 1.0  # after a refusal, how long what the client still sends is read and dropped
REPORT_EVERY_S = 10.0  # how often refusals are summed up in the log
_RST_LINGER = struct.pack("ii", 1, 0)  # SO_LINGER {on, 0 s}: close() sends RST, not FIN


def _raise_file_limit(wanted: int) -> None:
    """Up to the hard limit: a default soft limit of 1,024 would cap the front far below MAX_CONNS."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            log.warning("cannot raise the open-file limit from %s to %s", soft, target)


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


class Front:
    """`Front("127.0.0.1", 8081, "127.0.0.1", 18081, mode_fn, limits).start()`; `.stop()` when done.

    refuse: the listening socket is closed (connects get ECONNREFUSED, no process
    restarts) and established connections are dropped; leaving it re-binds the same port.
    blackhole: connections are accepted and read, nothing is forwarded either way; when
    it ends, connections that lost bytes are reset, since their HTTP stream is out of step.
    reset: the next bytes from the client (or from upstream, mid-response) get an RST.
    """

    def __init__(self, listen_host: str, listen_port: int, upstream_host: str, upstream_port: int,
                 transport_mode: Callable[[], str], limits: FrontLimits | None = None,
                 poll_interval_s: float = 0.02):
        self.listen_host, self.upstream_host, self.upstream_port = listen_host, upstream_host, upstream_port
        self.poll_interval_s = poll_interval_s
        self.limits = limits or FrontLimits()
        self.mode = "pass"
        self.conns: set[_Pipe] = set()
        self.per_ip: dict[str, int] = {}  # open connections by source address
        self.open = 0
        self.expired = self.capped = 0  # requests timed out, connections refused by a cap
        self._transport_mode, self._port = transport_mode, listen_port
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._mode_failing = False

    def admit(self, pipe: _Pipe) -> bool:
        """Count the connection; refuse it (and say why) above a cap."""
        count = self.per_ip.get(pipe.peer, 0)
        if count >= self.limits.max_conns_per_ip:
            self.capped += 1
            pipe._refuse(problem_bytes("TOO_MANY_CONNECTIONS", f"at most {self.limits.max_conns_per_ip} open "
                                       "connections per address", headers={"Retry-After": "1"}))
            return False
        if self.open >= self.limits.max_conns:
            self.capped += 1
            pipe._refuse(problem_bytes("SERVICE_UNAVAILABLE", "too many open connections; retry shortly",
                                       headers={"Retry-After": "1"}))
            return False
        self.per_ip[pipe.peer] = count + 1
        self.open += 1
        pipe.counted = True
        return True

    def release(self, pipe: _Pipe) -> None:
        if getattr(pipe, "counted", False):
            pipe.counted = False
            self.open -= 1
            left = self.per_ip.get(pipe.peer, 1) - 1
            if left > 0:
                self.per_ip[pipe.peer] = left
            else:
                self.per_ip.pop(pipe.peer, None)

    @property
    def port(self) -> int:
        """The public port (the one actually bound when constructed with 0)."""
        return self._port

    def start(self, timeout_s: float = 5.0) -> FaultProxy:
        """Serve from a background thread; returns once bound and the first mode is applied."""
        self._thread = threading.Thread(target=self._run_in_thread, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError("fault proxy did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:
                pass  # the loop has already ended
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
            self._thread = None

    def run_forever(self) -> None:
        """Serve in this thread (a process's main loop) until stop(), SIGTERM or SIGINT."""
        asyncio.run(self._main(handle_signals=threading.current_thread() is threading.main_thread()))

    def _run_in_thread(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as e:  # reported to start(), which is waiting
            self._error = e
            self._ready.set()

    async def _main(self, handle_signals: bool = False) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._stopping.set)
        _raise_file_limit(2 * self.limits.max_conns + 256)  # each connection: a client and an upstream socket
        await self._bind()  # a taken port fails here, at once
        await self._apply(await self._read_mode())
        self._ready.set()
        log.info("front :%s -> %s:%s", self._port, self.upstream_host, self.upstream_port)
        poller = loop.create_task(self._poll())
        sweeper = loop.create_task(self._sweep())
        try:
            await self._stopping.wait()
        finally:
            poller.cancel()
            sweeper.cancel()
            self._unbind()
            for pipe in list(self.conns):
                pipe.client.abort()
            await asyncio.sleep(0)  # let connection_lost close the upstream sides

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            await self._apply(await self._read_mode())

    async def _sweep(self) -> None:
        """Deadlines, checked a few times a second: a late request is refused within
        its deadline plus this period."""
        period = max(0.05, min(0.5, self.limits.header_timeout_s / 4, self.limits.body_timeout_s / 4))
        reported, reported_at = (0, 0), time.monotonic()
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            if now - reported_at >= REPORT_EVERY_S and (self.expired, self.capped) != reported:
                # One line per period, not one per refused socket: an attack must not flood the log.
                log.warning("front refused requests", extra={"fields": {
                    "event_kind": "front_refusals", "port": self._port, "timed_out": self.expired - reported[0],
                    "over_connection_cap": self.capped - reported[1], "open": self.open,
                    "addresses": len(self.per_ip)}})
                reported, reported_at = (self.expired, self.capped), now
            if self.mode != "pass":  # a blackholed platform answers nothing, not even a 408
                continue
            for pipe in [p for p in self.conns if p.deadline is not None and p.deadline <= now]:
                pipe.expire()

    async def _read_mode(self) -> str:
        try:
            mode = await asyncio.get_running_loop().run_in_executor(None, self._transport_mode)
        except Exception:
            if not self._mode_failing:  # once per failure spell, not 50 times a second
                log.exception("transport_mode() failed; keeping mode %s", self.mode)
            self._mode_failing = True
            return self.mode
        self._mode_failing = False
        if mode not in MODES:
            log.warning("transport_mode() returned %r; keeping mode %s", mode, self.mode)
            return self.mode
        return mode

    async def _apply(self, mode: str) -> None:
        if mode != "refuse" and self._server is None:
            try:
                await self._bind()
            except OSError as e:  # someone took the port meanwhile: try again next poll
                log.warning("cannot re-bind port %s: %s", self._port, e)
        if mode == self.mode:
            return
        previous = self.mode
        log.info("transport mode %s -> %s", previous, mode)
        if mode == "refuse":
            self._unbind()
            for pipe in list(self.conns):
                pipe.client.abort()
        elif previous == "blackhole":
            for pipe in [p for p in self.conns if p.tainted]:
                pipe.reset()
        self.mode = mode  # published once in effect: a reader seeing "refuse" finds the port closed

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Pipe(self), self.listen_host, self._port, reuse_address=True, backlog=1024)
        self._port = self._server.sockets[0].getsockname()[1]

    def _unbind(self) -> None:
        if self._server is not None:
            self._server.close()  # closes the listening socket now: connects are refused
            self._server = None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_listening(host: str, port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


FaultProxy = Front  # the platform's name for it: the front with the fault plan's mode
