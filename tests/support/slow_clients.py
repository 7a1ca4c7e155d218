"""Slow clients (slowloris): sockets that start a request and never finish it.

Half stop inside the head, half inside a declared body. They come from 127.0.0.2...
(Linux routes all of 127/8 to the loopback), a few tens per address, so each address
stays under the front's per-address cap and every socket is really held open: what is
shown is that an open, unfinished request costs the service nothing, not that it was
refused. Used by the slow-client test and benchmarks/slow_clients_bench.py.
"""
from __future__ import annotations

import resource
import socket


def raise_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed), hard))


class SlowClients:
    def __init__(self, port: int, count: int, per_address: int = 50, host: str = "127.0.0.1") -> None:
        raise_file_limit(4 * count + 1024)
        self.socks: list[socket.socket] = []
        for i in range(count):
            source = f"127.0.0.{2 + i // per_address}"
            s = socket.create_connection((host, port), timeout=5, source_address=(source, 0))
            if i % 2 == 0:
                s.sendall(b"POST /v1/eligibility HTTP/1.1\r\nHost: slow\r\n")  # the head never ends
            else:
                s.sendall(b"POST /v1/eligibility HTTP/1.1\r\nHost: slow\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 4096\r\n\r\n{\"card\": \"")  # nor does the body
            s.setblocking(False)
            self.socks.append(s)

    def trickle(self) -> None:
        """One more line or byte on each: a slowloris keeps its sockets busy, so an idle timer alone misses it."""
        for i, s in enumerate(self.socks):
            try:
                s.send(b"X-Slow: 1\r\n" if i % 2 == 0 else b"a")
            except OSError:
                pass

    def still_open(self) -> int:
        """Sockets the service has neither closed nor answered."""
        n = 0
        for s in self.socks:
            try:
                if s.recv(1, socket.MSG_PEEK):
                    continue  # answered (a 408): no longer held
            except BlockingIOError:
                n += 1
            except OSError:
                pass
        return n

    def close(self) -> None:
        for s in self.socks:
            s.close()
        self.socks.clear()
