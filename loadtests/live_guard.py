"""Who may drive the classroom page: pure checks of a request's Host, Origin and CSRF token.

The page can cut the platform, so a web site the teacher happens to visit must not be able
to press its buttons: a foreign `Host` (DNS rebinding) or `Origin` (a cross-site post) is
refused, and every state-changing call carries a token bound to the browser's session
cookie (HMAC under a per-process secret), which another site can neither read nor guess.
No CORS header is ever sent, so no other origin can read an answer either.
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Mapping

SESSION_COOKIE = "live_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def allowed_hosts(port: int, extra: str = "") -> frozenset[str]:
    """`host:port` values this server answers to: loopback names, plus `extra` (comma separated,
    e.g. a classroom machine's name when the page is exposed on purpose)."""
    names = {"127.0.0.1", "localhost", "[::1]", *(h.strip() for h in extra.split(",") if h.strip())}
    return frozenset(f"{n}:{port}" if ":" not in n.strip("[]") else n for n in names)


@dataclass(frozen=True)
class Guard:
    hosts: frozenset[str]
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def csrf_token(self, session: str) -> str:
        return hmac.new(self.secret, session.encode(), "sha256").hexdigest()

    def refusal(self, method: str, headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
        """None when the request may proceed; else why it is refused (a 403)."""
        host = (headers.get("Host") or "").lower()
        if host not in self.hosts:
            return f"Host {host or '(none)'} is not this page's"
        origin = headers.get("Origin")
        if origin is not None and origin.lower() not in {f"http://{h}" for h in self.hosts}:
            return f"Origin {origin} is not this page's"
        if headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            return "a cross-site request"
        if method.upper() in SAFE_METHODS:
            return None
        session, token = cookies.get(SESSION_COOKIE, ""), headers.get(CSRF_HEADER, "")
        if not session or not token or not hmac.compare_digest(token, self.csrf_token(session)):
            return "missing or wrong CSRF token (reload the page)"
        return None
