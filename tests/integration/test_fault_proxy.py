"""The fault proxy on real loopback sockets, in front of a small threaded HTTP server."""
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from simulator.faults.proxy import FaultProxy

pytestmark = pytest.mark.integration
HOST = "127.0.0.1"


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn answers
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def do_GET(self):
        # The peer port names the proxy's upstream connection: same port, same client connection.
        self._answer(json.dumps({"path": self.path, "peer": self.client_address[1]}).encode())

    def do_POST(self):
        self._answer(self.rfile.read(int(self.headers["Content-Length"])))

    def _answer(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Switch:
    """The transport mode the proxy reads, flipped by the test."""

    def __init__(self):
        self.mode = "pass"

    def __call__(self):
        return self.mode


def eventually(check, timeout_s=3.0):
    """Retry `check` until it returns truthy; the proxy applies a mode within ~20 ms."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@pytest.fixture
def upstream():
    server = ThreadingHTTPServer((HOST, 0), Upstream)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def switch():
    return Switch()


@pytest.fixture
def proxy(upstream, switch):
    proxy = FaultProxy(HOST, 0, HOST, upstream, switch).start()
    yield proxy
    proxy.stop()


def url(proxy, path="/x"):
    return f"http://{HOST}:{proxy.port}{path}"


def set_mode(proxy, switch, mode):
    switch.mode = mode
    eventually(lambda: proxy.mode == mode)


def test_pass_forwards_both_ways(proxy):
    assert requests.get(url(proxy, "/hello"), timeout=5).json()["path"] == "/hello"
    body = bytes(range(256)) * 8192  # 2 MiB: exercises flow control, bytes must arrive intact
    assert requests.post(url(proxy), data=body, timeout=10).content == body


def test_refuse_closes_the_port_then_serves_again_on_it(proxy, switch):
    port = proxy.port
    set_mode(proxy, switch, "refuse")

    def refused():
        try:
            socket.create_connection((HOST, port), timeout=2).close()
        except ConnectionRefusedError:
            return True
        return False
    eventually(refused)
    with pytest.raises(requests.ConnectionError):
        requests.get(url(proxy), timeout=2)

    set_mode(proxy, switch, "pass")
    assert proxy.port == port
    assert eventually(lambda: requests.get(url(proxy), timeout=2).status_code == 200)


def test_blackhole_accepts_and_never_answers(proxy, switch):
    set_mode(proxy, switch, "blackhole")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):  # connected, then silence
        requests.get(url(proxy), timeout=1)
    assert time.monotonic() - started < 5
    set_mode(proxy, switch, "pass")
    assert requests.get(url(proxy), timeout=2).status_code == 200


def test_reset_gives_connection_reset(proxy, switch):
    set_mode(proxy, switch, "reset")
    with socket.create_connection((HOST, proxy.port), timeout=2) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            sock.recv(1024)
    with pytest.raises(requests.ConnectionError):
        requests.get(url(proxy), timeout=2)


def test_keep_alive_connection_sees_each_mode_change(proxy, switch):
    with requests.Session() as session:
        first = session.get(url(proxy), timeout=2).json()["peer"]
        assert session.get(url(proxy), timeout=2).json()["peer"] == first  # one connection reused

        set_mode(proxy, switch, "reset")
        with pytest.raises(requests.ConnectionError):
            session.get(url(proxy), timeout=2)

        set_mode(proxy, switch, "pass")
        session.get(url(proxy), timeout=2)  # a fresh connection, kept alive
        set_mode(proxy, switch, "blackhole")
        with pytest.raises(requests.exceptions.ReadTimeout):
            session.get(url(proxy), timeout=1)

        set_mode(proxy, switch, "pass")
        assert session.get(url(proxy), timeout=2).status_code == 200
        set_mode(proxy, switch, "refuse")
        with pytest.raises(requests.ConnectionError):  # the established connection is dropped too
            session.get(url(proxy), timeout=2)


def test_connections_out_of_step_after_a_blackhole_are_reset(proxy, switch):
    with socket.create_connection((HOST, proxy.port), timeout=2) as sock:
        set_mode(proxy, switch, "blackhole")
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # swallowed
        eventually(lambda: any(p.tainted for p in proxy.conns))
        set_mode(proxy, switch, "pass")
        with pytest.raises(ConnectionResetError):  # not a late answer to a lost request
            sock.recv(1024)


def test_refuse_drops_established_connections(proxy, switch):
    with socket.create_connection((HOST, proxy.port), timeout=2) as sock:
        eventually(lambda: len(proxy.conns) == 1)
        set_mode(proxy, switch, "refuse")
        assert sock.recv(1024) == b""  # closed by the proxy, well before the 2 s timeout


def test_a_failing_mode_source_keeps_the_last_mode(upstream):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) > 1:
            raise OSError("plan file unreadable")
        return "pass"
    proxy = FaultProxy(HOST, 0, HOST, upstream, flaky).start()
    try:
        eventually(lambda: len(calls) > 3)
        assert proxy.mode == "pass"
        assert requests.get(url(proxy), timeout=2).status_code == 200
    finally:
        proxy.stop()


def test_starts_refusing_and_stops_cleanly(upstream):
    switch = Switch()
    switch.mode = "refuse"
    proxy = FaultProxy(HOST, 0, HOST, upstream, switch).start()
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((HOST, proxy.port), timeout=2).close()
    finally:
        proxy.stop()
    assert not any(t.name == "fault-proxy" and t.is_alive() for t in threading.enumerate())


def test_unreachable_upstream_closes_the_client(switch):
    with socket.socket() as placeholder:  # a free port nobody listens on
        placeholder.bind((HOST, 0))
        dead_port = placeholder.getsockname()[1]
    proxy = FaultProxy(HOST, 0, HOST, dead_port, switch).start()
    try:
        with pytest.raises(requests.ConnectionError):
            requests.get(url(proxy), timeout=2)
    finally:
        proxy.stop()
