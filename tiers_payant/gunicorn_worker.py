"""gunicorn's gthread worker, with problem documents for the errors gunicorn answers itself.

gunicorn refuses an over-long request line (414) or over-large header fields (431) before
the application sees the request, and answers with a small HTML page. Integrators are
promised `application/problem+json` for every error, so this worker writes the same
problem document the application would, with the same stable codes. gunicorn's limits
themselves (`limit_request_line` 4094 bytes, `limit_request_field_size` 8190 bytes,
`limit_request_fields` 100) are kept: raising them would only widen a denial of service.
Both services run it: `--worker-class tiers_payant.gunicorn_worker.ProblemWorker`.
"""
from __future__ import annotations

import json

from gunicorn import util
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.workers.gthread import ThreadWorker

from .problems import PROBLEM_CONTENT_TYPE, Problem

WORKER_CLASS = "tiers_payant.gunicorn_worker.ProblemWorker"
_REASONS = {414: "URI Too Long", 431: "Request Header Fields Too Large"}


def problem_bytes(exc: Exception) -> bytes | None:
    """The raw HTTP answer for a limit gunicorn enforces, or None for any other error."""
    if isinstance(exc, LimitRequestLine):
        p = Problem("URI_TOO_LONG", "the request line (method, path and query) is over 4094 bytes; "
                                    "send long data in a JSON body instead")
    elif isinstance(exc, LimitRequestHeaders):
        p = Problem("HEADERS_TOO_LARGE", "at most 100 header fields of at most 8190 bytes each")
    else:
        return None
    body = json.dumps(p.to_dict()).encode()
    head = (f"HTTP/1.1 {p.http_status} {_REASONS[p.http_status]}\r\nConnection: close\r\n"
            f"Content-Type: {PROBLEM_CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n"
            "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n")
    return head.encode("latin-1") + body


class ProblemWorker(ThreadWorker):
    def handle_error(self, req, client, addr, exc):  # noqa: ANN001 - gunicorn's signature
        raw = problem_bytes(exc)
        if raw is None:
            return super().handle_error(req, client, addr, exc)
        self.log.warning("request refused by a limit: %s", type(exc).__name__)
        try:
            util.write_nonblock(client, raw)
        except OSError:
            pass  # the client is gone; nothing to tell it
        return None
