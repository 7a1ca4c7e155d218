"""Flask plumbing shared by both services: problem documents, limits, headers, JSON logs.

Every error leaves as `application/problem+json` with a stable code: HTTP errors raised by
Flask itself (404, 405, 413) are translated here too, and an unexpected exception becomes a
500 problem with no stack trace in the answer (the trace goes to the log, without bodies).
"""
from __future__ import annotations

import json
import logging
import time
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from .parsing import MAX_BODY_BYTES, MAX_JSON_DEPTH, check_content_type, check_size
from .problems import PROBLEM_CONTENT_TYPE, Problem

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
_HTTP_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
               405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}


# JSON logs live in .jsonlog (no Flask: the platform's supervisor logs without loading it).
from .jsonlog import JsonFormatter, log_event, redact, setup_logging  # noqa: E402,F401 - re-exported


def problem_response(p: Problem) -> Response:
    resp = Response(json.dumps(p.to_dict()), status=p.http_status, mimetype=PROBLEM_CONTENT_TYPE)
    for k, v in p.headers.items():
        resp.headers[k] = v
    if p.http_status == 401 and "WWW-Authenticate" not in resp.headers:  # RFC 9110 section 15.5.2: MUST
        resp.headers["WWW-Authenticate"] = 'Bearer realm="tiers-payant"'
    return resp


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    resp = Response(json.dumps(body, default=str), status=status, mimetype="application/json")
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def conditional(resp: Response) -> Response:
    """A strong ETag from the body, and 304 Not Modified when If-None-Match names it (RFC 9110 section 13.1.2)."""
    resp.add_etag()
    return resp.make_conditional(request)


def read_json_body() -> bytes:
    """Content type and size checks before anything is parsed."""
    check_content_type(request.headers.get("Content-Type"))
    check_size(request.content_length)
    return read_body()


def read_body() -> bytes:
    """At most MAX_BODY_BYTES + 1 bytes, read until the end: a chunked body has no
    Content-Length to trust and a stream may return short reads."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_BODY_BYTES:
        chunk = request.stream.read(MAX_BODY_BYTES + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    raw = b"".join(chunks)
    check_size(None, raw)
    return raw


def install(app: Flask, logger: logging.Logger) -> None:
    # One byte of slack: werkzeug refuses any read *at* its limit on a chunked body, so a
    # body of exactly MAX_BODY_BYTES would be refused; check_size does the exact check.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.errorhandler(Problem)
    def _problem(p: Problem) -> Response:
        return problem_response(p)

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> Response:
        code = _HTTP_CODES.get(e.code or 500, "BAD_REQUEST" if (e.code or 500) < 500 else "INTERNAL_ERROR")
        headers = {}
        if isinstance(e, MethodNotAllowed) and e.valid_methods:  # RFC 9110 section 15.5.6: MUST send Allow
            headers["Allow"] = ", ".join(sorted(e.valid_methods))
        return problem_response(Problem(code, e.description or "", headers=headers, status=e.code))

    @app.errorhandler(Exception)
    def _unexpected(e: Exception) -> Response:
        if isinstance(e, RecursionError):  # a parser met nesting no depth check caught: the input's fault
            return problem_response(Problem("MALFORMED_JSON", f"input nested deeper than {MAX_JSON_DEPTH} levels"))
        log_event(logger, "unhandled_error", logging.ERROR, path=request.path, error=type(e).__name__)
        return problem_response(Problem("INTERNAL_ERROR", "unexpected error; see the service log"))

    @app.after_request
    def _headers(resp: Response) -> Response:
        # One pass over the few headers already set, not a setdefault scan per header:
        # this runs on every answer, the online hot path included.
        have = {k.lower() for k in resp.headers.keys()}
        for k, v in SECURITY_HEADERS.items():
            if k.lower() not in have:
                resp.headers.add(k, v)
        return resp
