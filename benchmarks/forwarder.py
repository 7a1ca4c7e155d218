"""The floor for `gateway_bench.py`'s added-latency figure: a forwarder that does nothing else.

Served by gunicorn with the gateway's own settings (gthread workers and threads,
keep-alive), it passes each request to the platform over a kept-alive http.client
connection per thread and relays the answer: no checks, breaker, retries, metrics, Flask
or logs. What it adds over a direct call is what any Python HTTP hop costs on the machine
at hand; the gateway's own share is its added latency minus this one's.

`/noop` answers a small JSON document itself, forwarding nothing: the floor for the
offline throughput figure (what the same server does per second when the work is nil).

    FORWARD_TO=127.0.0.1:8081 gunicorn -k gthread benchmarks.forwarder:app
"""
from __future__ import annotations

import http.client
import os
import threading

_HOST, _, _PORT = os.environ.get("FORWARD_TO", "127.0.0.1:8081").rpartition(":")
_local = threading.local()


_NOOP = b'{"decision": "noop"}'


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/noop":
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(_NOOP)))])
        return [_NOOP]
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = http.client.HTTPConnection(_HOST, int(_PORT), timeout=5)
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    headers = {"Content-Type": environ.get("CONTENT_TYPE", "application/json")}
    if "HTTP_AUTHORIZATION" in environ:
        headers["Authorization"] = environ["HTTP_AUTHORIZATION"]
    try:
        conn.request(environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"), body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    except (OSError, http.client.HTTPException):
        conn.close()
        _local.conn = None
        start_response("502 Bad Gateway", [("Content-Length", "0")])
        return [b""]
    start_response(f"{resp.status} {resp.reason}", [("Content-Type", resp.getheader("Content-Type", "")),
                                                    ("Content-Length", str(len(data)))])
    return [data]
