"""The request gate in front of both services' WSGI workers: whole requests only.

gunicorn's gthread worker gives a thread to a connection as soon as bytes arrive and keeps
it until the request has been read; a client that trickles its headers holds that thread
for as long as it likes (slowloris). The front (`tiers_payant/front/`, asyncio) reads
each request through this gate and forwards it only once it has fully arrived, so a
worker thread is never held by a request still on the wire. Framing is h11's (the HTTP/1.1
parser of httpcore and uvicorn, python-hyper); the head is re-written from what h11
parsed, so the server behind sees exactly the request the gate understood (no smuggling
through a parser disagreement) with an `X-Forwarded-For` naming the real peer (one a
client sent is dropped). Bodies above `max_buffer_bytes` are streamed once that much has
arrived, under the same body deadline.

Limits (`FrontLimits`, `<PREFIX>FRONT_<FIELD>` variables): a header deadline from the
connection's start or the request's first byte, a body deadline from the end of the head,
connections per source address and in total. HAProxy (`timeout http-request`, `maxconn`,
stick tables) or nginx do the same; this front is in the path already for the platform's
socket faults, needs no system package, and runs the same way in tests and `make demo`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields, replace
from http import HTTPStatus

import h11

from ..problems import PROBLEM_CONTENT_TYPE, Problem

_HEAD_END = re.compile(rb"\n\r?\n")
_DROPPED = {b"x-forwarded-for", b"forwarded", b"expect"}  # re-written by the gate


@dataclass(frozen=True)
class FrontLimits:
    header_timeout_s: float = 10.0  # connection start (or first byte of a request) -> end of its head
    body_timeout_s: float = 20.0  # end of head -> end of body
    max_conns_per_ip: int = 256  # open connections from one source address
    max_conns: int = 10_000  # open connections in total (bounded by the process's file limit)
    max_buffer_bytes: int = 1 << 20  # a larger body is streamed once this much has arrived
    max_header_bytes: int = 64 << 10  # above gunicorn's own limits, which answer first


def limits_from_env(prefix: str, env: dict[str, str]) -> FrontLimits:
    """`SIM_FRONT_HEADER_TIMEOUT_S=5`, `GW_FRONT_MAX_CONNS_PER_IP=64`..."""
    limits = FrontLimits()
    for f in fields(FrontLimits):
        raw = env.get(f"{prefix}FRONT_{f.name.upper()}")
        if raw is not None:
            limits = replace(limits, **{f.name: type(getattr(limits, f.name))(raw)})
    return limits


class FrameError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def problem_bytes(code: str, detail: str, status: int | None = None, headers: dict[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 answer carrying a problem document, closing the connection."""
    p = Problem(code, detail, status=status)
    body = json.dumps(p.to_dict()).encode()
    lines = [f"HTTP/1.1 {p.http_status} {HTTPStatus(p.http_status).phrase}", f"Content-Type: {PROBLEM_CONTENT_TYPE}",
             f"Content-Length: {len(body)}", "Connection: close", "Cache-Control: no-store",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Framer:
    """Bytes from one client connection in; bytes safe to forward out. Pure (no I/O, no clock).

    `phase`: "idle" (between requests), "head" (a request has begun), "body" (its head is
    complete); the front times each phase. `continue_wanted` is set when a request asked
    for `100 Continue`: the front answers it (the header is not forwarded)."""

    def __init__(self, peer: str, limits: FrontLimits) -> None:
        self.peer, self.limits = peer.encode(), limits
        self.continue_wanted = False
        self.completed = 0  # whole requests framed so far on this connection
        self._start()

    def _start(self) -> None:
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_header_bytes)
        self.buf = bytearray()  # bytes of the current request not forwarded yet (and any after it)
        self.fed = 0  # bytes given to this request's parser
        self.forwarded = 0  # bytes of this request already forwarded
        self.request: h11.Request | None = None
        self.phase = "idle"

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        pending = data
        while pending:
            self.conn.receive_data(pending)
            self.buf += pending
            self.fed += len(pending)
            pending = b""
            if self.phase == "idle" and self.buf.strip(b"\r\n"):
                self.phase = "head"
            while True:
                try:
                    event = self.conn.next_event()
                except h11.RemoteProtocolError as e:
                    raise FrameError(e.error_status_hint or 400, str(e) or "malformed request") from None
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    break
                if isinstance(event, h11.Request):
                    self.request, self.phase = event, "body"
                    self.continue_wanted = any(k == b"expect" and v.lower() == b"100-continue"
                                               for k, v in event.headers)
                elif isinstance(event, h11.EndOfMessage):
                    trailing = self.conn.trailing_data[0]
                    out += self._emit(self.fed - len(trailing))
                    self.completed += 1
                    self._start()
                    pending = trailing
                    break
            if self.phase == "body" and len(self.buf) > self.limits.max_buffer_bytes:
                out += self._emit(self.fed)  # a large body: stream it from here on
        return bytes(out)

    def streaming(self) -> bool:
        return self.phase == "body" and self.forwarded > 0

    def _emit(self, upto: int) -> bytes:
        n = upto - self.forwarded
        chunk = bytes(self.buf[:n])
        del self.buf[:n]
        if self.forwarded == 0:
            chunk = self._rewrite_head(chunk)
        self.forwarded = upto
        return chunk

    def _rewrite_head(self, chunk: bytes) -> bytes:
        stripped = chunk.lstrip(b"\r\n")
        end = _HEAD_END.search(stripped)
        body = stripped[end.end():] if end else b""
        r = self.request
        assert r is not None
        lines = [b"%s %s HTTP/%s" % (r.method, r.target, r.http_version)]
        lines += [name + b": " + value for name, value in r.headers.raw_items() if name.lower() not in _DROPPED]
        lines.append(b"X-Forwarded-For: " + self.peer)
        return b"\r\n".join(lines) + b"\r\n\r\n" + body
