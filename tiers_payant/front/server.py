"""The front's server: binds the public port, applies the transport mode, sweeps deadlines."""
from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from typing import Callable

from .gate import FrontLimits, problem_bytes
from .pipe import _Pipe
from .sockets import _raise_file_limit

log = logging.getLogger("tiers_payant.front")
MODES = ("pass", "refuse", "blackhole", "reset")
REPORT_EVERY_S = 10.0  # how often refusals are summed up in the log


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


FaultProxy = Front  # the platform's name for it: the front with the fault plan's mode
