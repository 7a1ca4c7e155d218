"""Who is calling: client-credentials login and bearer-token checks for the platform."""
from __future__ import annotations

import ipaddress
import time
import uuid

from flask import request

from tiers_payant.parsing import MAX_BODY_BYTES, check_size
from tiers_payant.problems import Problem
from tiers_payant.tokens import Principal, bearer, issue_token, verify_token

from ..accounts import known_account, service_account
from ..credentials import secret_ok
from ..key_rotation import TOKEN_FAMILY
from ..security.ratelimit import retry_after_header
from .oauth import oauth_problem, parse_token_request


# What a token lets its holder do (informational: each operation checks the account itself).
PROFESSIONAL_SCOPE = ("eligibility", "pec")
GATEWAY_SCOPE = ("eligibility", "pec", "keys", "revocations", "advices")
TOKEN_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 section 5.1


def client_address(settings) -> str:
    """The caller's address. Behind the platform's front (the internal port) it is the
    `X-Forwarded-For` the front wrote, having dropped any the client sent."""
    from ..control import request_port
    fwd = request.headers.get("X-Forwarded-For")
    if fwd and settings.internal_port and request_port() == settings.internal_port:
        try:
            return str(ipaddress.ip_address(fwd.strip()))
        except ValueError:
            pass
    return request.remote_addr or "unknown"


class Auth:
    def __init__(self, settings, store, keys, throttle=None) -> None:
        self.settings = settings
        self.store = store
        self.keys = keys  # simulator.keys.Keyring: the token key that signs, the ones that verify
        self.throttle = throttle

    def account_state(self, client_id: str):
        rows = self.store.query("SELECT secret, credential_version, suspended_at FROM accounts WHERE client_id=?",
                                (client_id,))
        return rows[0] if rows else None

    def login(self) -> tuple[dict, dict[str, str]]:
        """OAuth2 client-credentials grant (RFC 6749 section 4.4); (answer, headers).

        Unknown and known client ids do the same work (one throttle read, one account read,
        one argon2id verification, against a dummy hash when nothing is stored, one failure
        write), so timing tells them apart no better than chance."""
        try:
            return self._login(), TOKEN_HEADERS
        except Problem as p:
            p = oauth_problem(p)
            p.headers.update(TOKEN_HEADERS)
            raise p from None

    def _login(self) -> dict:
        mime = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        raw = request.stream.read(MAX_BODY_BYTES + 1)
        check_size(None, raw)
        creds = parse_token_request(mime, raw, request.headers.get("Authorization"))
        client_id, source, now = creds.client_id[:128], client_address(self.settings), time.time()
        wait = self.throttle.check(client_id, source, now) if self.throttle else 0.0
        if wait > 0:
            raise Problem("LOGIN_THROTTLED", f"too many failed logins for this client or address; retry in "
                          f"{retry_after_header(wait)} s", headers={"Retry-After": retry_after_header(wait)})
        account = known_account(self.settings.seed, client_id, self.settings.accounts)
        state = self.account_state(client_id)  # always read: unknown ids cost the same query
        stored = state["secret"] if state is not None and account is not None else None
        if not secret_ok(stored, creds.secret) or account is None:
            if self.throttle:
                self.throttle.failed(client_id, source, now)
            raise Problem("INVALID_CLIENT", "unknown client or wrong secret")
        if state is not None and state["suspended_at"] is not None:
            raise Problem("ACCOUNT_SUSPENDED", "this account is suspended; ask the platform's support")
        scope = " ".join(GATEWAY_SCOPE if service_account(client_id) else PROFESSIONAL_SCOPE)
        if creds.scope is not None and not set(creds.scope.split()) <= set(scope.split()):
            raise Problem("INVALID_SCOPE", f"this client may ask for: {scope}")
        if self.throttle:
            self.throttle.succeeded(client_id, source, now)
        kid, key = self.keys.signer(TOKEN_FAMILY)
        token = issue_token(key, kid, client_id=client_id,
                            rpps=account.rpps, profession=account.profession,
                            credential_version=state["credential_version"] if state is not None else 0,
                            now=now, ttl_s=self.settings.token_ttl_s, jti=uuid.uuid4().hex)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.settings.token_ttl_s,
                "scope": scope}

    def principal(self) -> Principal:
        now = time.time()
        p = verify_token(bearer(request.headers.get("Authorization")), self.keys.token_keys(now), now)
        state = self.account_state(p.client_id)
        if state is not None:
            if state["suspended_at"] is not None:
                raise Problem("ACCOUNT_SUSPENDED", "this account is suspended")
            if p.credential_version < state["credential_version"]:
                raise Problem("UNAUTHORIZED", "credentials were reset; log in again")
        return p
