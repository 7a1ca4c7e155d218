"""The online hop on real loopback sockets: keep-alive, stale connections, every failure kind."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from gateway.online.hop import HopError, PlatformHop
from tests.support.procs import free_port

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class RawServer:
    """A loopback server whose every connection runs `behaviour(conn, index)`."""

    def __init__(self, behaviour) -> None:
        self.behaviour, self.accepted = behaviour, 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)
            threading.Thread(target=self.behaviour, args=(conn, self.accepted), daemon=True).start()

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next((int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")), 0)
    while len(rest) < length:
        rest += conn.recv(65536)
    return head


def keep_alive(conn, _):
    while read_request(conn):
        conn.sendall(OK)


@pytest.fixture
def hop_to():
    """A PlatformHop to a port, closed (its idle sockets with it) after the test."""
    made: list[PlatformHop] = []

    def make(port: int, **kw) -> PlatformHop:
        made.append(PlatformHop(f"http://127.0.0.1:{port}", **kw))
        return made[-1]
    yield make
    for h in made:
        h.close()


@pytest.fixture
def server():
    made = []

    def start(behaviour):
        made.append(RawServer(behaviour))
        return made[-1]
    yield start
    for s in made:
        s.close()


def test_connections_are_kept_alive_and_reused(server, hop_to):
    srv = server(keep_alive)
    hop = hop_to(srv.port)
    for _ in range(5):
        r = hop.request("POST", "/v1/eligibility", {"Content-Type": "application/json"}, b"{}", (1, 1))
        assert r.status == 200 and r.body == b"{}" and r.content_type == "application/json"
    assert srv.accepted == 1


def test_a_connection_the_platform_closed_while_idle_is_replaced_without_an_error(server, hop_to):
    def one_answer_then_close(conn, _):
        if read_request(conn):
            conn.sendall(OK)
        time.sleep(0.05)
        conn.close()
    srv = server(one_answer_then_close)
    hop = hop_to(srv.port)
    assert hop.request("GET", "/healthz", {}, None, (1, 1)).status == 200
    time.sleep(0.3)  # the server has closed the idle socket
    assert hop.request("GET", "/healthz", {}, None, (1, 1)).status == 200
    assert srv.accepted == 2


def test_a_reused_connection_closed_in_the_race_is_retried_once_on_a_new_one(server, hop_to):
    def answer_once_then_drop_the_next(conn, index):
        if index > 1:
            return keep_alive(conn, index)
        read_request(conn)
        conn.sendall(OK)
        read_request(conn)  # the keep-alive race: the request arrives as the server gives up
        conn.close()
    srv = server(answer_once_then_drop_the_next)
    hop = hop_to(srv.port)
    assert hop.request("GET", "/healthz", {}, None, (1, 1)).status == 200
    assert hop.request("POST", "/v1/pec", {"Idempotency-Key": "k"}, b"{}", (1, 1)).status == 200
    assert srv.accepted == 2


def test_a_new_connection_closed_before_the_answer_is_not_retried(server, hop_to):
    def drop(conn, _):
        read_request(conn)
        conn.close()
    srv = server(drop)
    hop = hop_to(srv.port)
    with pytest.raises(HopError) as exc:
        hop.request("POST", "/v1/pec", {}, b"{}", (1, 1))
    assert exc.value.kind == "reset" and srv.accepted == 1


def test_refused_when_nothing_listens(hop_to):
    hop = hop_to(free_port())
    with pytest.raises(HopError) as exc:
        hop.request("GET", "/healthz", {}, None, (1, 1))
    assert exc.value.kind == "refused"


def test_a_blackhole_is_a_timeout_within_the_read_timeout(server, hop_to):
    srv = server(lambda conn, _: time.sleep(5))
    hop = hop_to(srv.port)
    t = time.monotonic()
    with pytest.raises(HopError) as exc:
        hop.request("POST", "/v1/pec", {}, b"{}", (1, 0.3))
    assert exc.value.kind == "timeout" and time.monotonic() - t < 3


def test_a_reset_before_the_answer_is_a_reset(server, hop_to):
    def reset(conn, _):
        read_request(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()  # RST, not FIN
    srv = server(reset)
    hop = hop_to(srv.port)
    with pytest.raises(HopError) as exc:
        hop.request("POST", "/v1/pec", {}, b"{}", (1, 1))
    assert exc.value.kind == "reset"


def test_a_truncated_body_is_a_protocol_error(server, hop_to):
    def truncated(conn, _):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"decision\":")
        conn.close()
    srv = server(truncated)
    hop = hop_to(srv.port)
    with pytest.raises(HopError) as exc:
        hop.request("POST", "/v1/eligibility", {}, b"{}", (1, 1))
    assert exc.value.kind == "protocol"


def test_connection_close_is_honoured_and_the_pool_is_bounded(server, hop_to):
    def close_after(conn, _):
        if read_request(conn):
            conn.sendall(OK.replace(b"Content-Length", b"Connection: close\r\nContent-Length"))
        conn.close()
    srv = server(close_after)
    hop = hop_to(srv.port, pool_size=2)
    for _ in range(3):
        assert hop.request("GET", "/healthz", {}, None, (1, 1)).status == 200
    assert srv.accepted == 3 and hop._idle == []

    srv2 = server(keep_alive)
    hop2 = hop_to(srv2.port, pool_size=2)
    barrier = threading.Barrier(4)

    def call():
        barrier.wait()
        hop2.request("GET", "/healthz", {}, None, (1, 1))
    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(hop2._idle) <= 2


def test_only_http_urls():
    with pytest.raises(ValueError):
        PlatformHop("ftp://127.0.0.1:21")
