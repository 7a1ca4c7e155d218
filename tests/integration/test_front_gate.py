"""The front's request gate on real loopback sockets: whole requests only, deadlines, caps.

The upstream is a small threaded HTTP server that counts the connections it accepts: a
request still on the wire must never reach it (that is a worker thread held).
Source addresses 127.0.0.2... stand for other clients (Linux routes all of 127/8 to lo).
"""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tiers_payant.front import Front, FrontLimits

pytestmark = pytest.mark.integration
HOST = "127.0.0.1"


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    accepted = 0

    def setup(self):
        type(self).accepted += 1
        super().setup()

    def do_GET(self):
        self._answer({"path": self.path, "xff": self.headers.get_all("X-Forwarded-For")})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self._answer({"path": self.path, "body": self.rfile.read(n).decode(), "xff": self.headers.get_all("X-Forwarded-For"),
                      "expect": self.headers.get("Expect")})

    def _answer(self, doc):
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    Upstream.accepted = 0
    server = ThreadingHTTPServer((HOST, 0), Upstream)
    server.daemon_threads = True
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


LIMITS = FrontLimits(header_timeout_s=0.6, body_timeout_s=0.6, max_conns_per_ip=5)


@pytest.fixture
def front(upstream):
    f = Front(HOST, 0, HOST, upstream, lambda: "pass", LIMITS).start()
    yield f
    f.stop()


def connect(front, source: str = HOST) -> socket.socket:
    s = socket.create_connection((HOST, front.port), timeout=5, source_address=(source, 0))
    return s


def read_answer(s: socket.socket, timeout_s: float = 5.0) -> bytes:
    s.settimeout(timeout_s)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


def test_a_partial_request_never_reaches_the_server_and_gets_408(front):
    started = time.monotonic()
    head = connect(front)
    head.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n")  # no blank line: the head never ends
    body = connect(front)
    body.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
    silent = connect(front)  # connects and says nothing
    for s in (head, body, silent):
        answer = read_answer(s)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
        doc = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert doc["code"] == "REQUEST_TIMEOUT" and doc["status"] == 408
        s.close()
    # Each within its deadline plus the sweep period, with a wide margin for a loaded machine.
    assert time.monotonic() - started < LIMITS.header_timeout_s + LIMITS.body_timeout_s + 4
    assert Upstream.accepted == 0 and front.expired == 3


def test_trickling_does_not_extend_the_deadline(front):
    s = connect(front)
    s.sendall(b"GET /x HTTP/1.1\r\n")
    deadline = time.monotonic() + 10 * LIMITS.header_timeout_s
    got = b""
    s.settimeout(0.1)
    while time.monotonic() < deadline and not got:
        try:
            s.sendall(b"X-A: b\r\n")
            got = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
    assert got.startswith(b"HTTP/1.1 408") and Upstream.accepted == 0


def test_whole_requests_pass_with_the_real_peer_and_no_forged_one(front):
    r = requests.get(f"http://{HOST}:{front.port}/hello", headers={"X-Forwarded-For": "6.6.6.6"}, timeout=5)
    assert r.json() == {"path": "/hello", "xff": [HOST]}
    s = connect(front, "127.0.0.3")  # two pipelined requests, the second one chunked
    s.sendall(b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
              b"POST /two HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
              b"3\r\nabc\r\n0\r\n\r\n")
    answer = read_answer(s)
    assert answer.count(b"HTTP/1.1 200") == 2 and b'"/one"' in answer and b'"127.0.0.3"' in answer
    s.close()


def test_expect_100_continue_is_answered_by_the_front(front):
    s = connect(front)
    s.sendall(b"POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
    s.settimeout(5)
    assert s.recv(64).startswith(b"HTTP/1.1 100 Continue")
    s.sendall(b"ok")
    answer = read_answer(s)
    assert b'"body": "ok"' in answer and b'"expect": null' in answer


def test_connections_are_capped_per_address(front):
    held = [connect(front, "127.0.0.4") for _ in range(LIMITS.max_conns_per_ip)]
    extra = connect(front, "127.0.0.4")
    answer = read_answer(extra)
    assert answer.startswith(b"HTTP/1.1 429 ") and b"TOO_MANY_CONNECTIONS" in answer and b"Retry-After: 1" in answer
    # Another address is not affected by that one's connections.
    assert requests.get(f"http://{HOST}:{front.port}/other", timeout=5).status_code == 200
    for s in held:
        s.close()
    deadline = time.monotonic() + 5
    while front.per_ip.get("127.0.0.4") and time.monotonic() < deadline:
        time.sleep(0.02)
    again = connect(front, "127.0.0.4")
    again.sendall(b"GET /back HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert read_answer(again).startswith(b"HTTP/1.1 200")


def test_malformed_request_is_a_problem(front):
    s = connect(front)
    s.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n")
    answer = read_answer(s)
    assert answer.startswith(b"HTTP/1.1 400 ") and b"application/problem+json" in answer
    assert Upstream.accepted == 0


def test_a_kept_alive_connection_outlives_the_header_deadline(front):
    with requests.Session() as s:  # one connection: its first request must clear the connection's deadline
        assert s.get(f"http://{HOST}:{front.port}/a", timeout=5).status_code == 200
        time.sleep(LIMITS.header_timeout_s * 3)
        assert s.get(f"http://{HOST}:{front.port}/b", timeout=5).status_code == 200
    assert front.expired == 0 and Upstream.accepted == 1
