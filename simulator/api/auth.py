"""Who is calling: client-credentials login and bearer-token checks for the platform."""
from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from urllib.parse import parse_qs

from flask import request

from tiers_payant.parsing import MAX_BODY_BYTES, check_size, parse_json_object
from tiers_payant.privacy import secrets_equal
from tiers_payant.problems import Problem
from tiers_payant.tokens import Principal, bearer, issue_token, verify_token

from ..accounts import Account, account_by_client_id
from ..keys import TOKEN_KID, private_key


def gateway_account(seed: int, client_id: str) -> Account | None:
    """Gateways' service accounts (`gw-1`, `gw-2`...): they fetch keys and lists and send advices."""
    if not (3 < len(client_id) <= 9 and client_id[3:].isdigit()):
        return None
    secret = hmac.new(str(seed).encode(), client_id.encode(), hashlib.sha256).hexdigest()[:32]
    return Account(0, client_id, secret, "00", "00000000000")


class Auth:
    def __init__(self, settings, store) -> None:
        self.settings = settings
        self.store = store
        self.keys = {TOKEN_KID: private_key(settings.seed, TOKEN_KID).public_key()}

    def account_state(self, client_id: str):
        rows = self.store.query("SELECT secret, credential_version, suspended_at FROM accounts WHERE client_id=?",
                                (client_id,))
        return rows[0] if rows else None

    def login(self) -> dict:
        """OAuth2 client-credentials grant; form body (as OAuth2 clients send) or JSON."""
        mime = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        raw = request.stream.read(MAX_BODY_BYTES + 1)
        check_size(None, raw)
        if mime == "application/x-www-form-urlencoded":
            form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        elif mime == "application/json":
            form = parse_json_object(raw)
        else:
            raise Problem("UNSUPPORTED_MEDIA_TYPE", "send application/x-www-form-urlencoded or application/json")
        if form.get("grant_type") != "client_credentials":
            raise Problem("VALIDATION_FAILED", "grant_type must be client_credentials")
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if request.authorization and request.authorization.type == "basic":  # RFC 6749 client_secret_basic
            client_id, secret = request.authorization.username, request.authorization.password
        if not isinstance(client_id, str) or not isinstance(secret, str):
            raise Problem("INVALID_CLIENT", "client_id and client_secret are required")
        account = (gateway_account(self.settings.seed, client_id) if client_id.startswith("gw-")
                   else account_by_client_id(self.settings.seed, client_id, self.settings.accounts))
        state = self.account_state(client_id) if account else None
        expected = (state["secret"] if state is not None and state["secret"] else account.client_secret) if account else ""
        if account is None or not secrets_equal(secret, expected):
            raise Problem("INVALID_CLIENT", "unknown client or wrong secret")
        if state is not None and state["suspended_at"] is not None:
            raise Problem("ACCOUNT_SUSPENDED", "this account is suspended; ask the platform's support")
        now = time.time()
        token = issue_token(private_key(self.settings.seed, TOKEN_KID), TOKEN_KID, client_id=client_id,
                            rpps=account.rpps, profession=account.profession,
                            credential_version=state["credential_version"] if state is not None else 0,
                            now=now, ttl_s=self.settings.token_ttl_s, jti=uuid.uuid4().hex)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.settings.token_ttl_s}

    def principal(self) -> Principal:
        p = verify_token(bearer(request.headers.get("Authorization")), self.keys, time.time())
        state = self.account_state(p.client_id)
        if state is not None:
            if state["suspended_at"] is not None:
                raise Problem("ACCOUNT_SUSPENDED", "this account is suspended")
            if p.credential_version < state["credential_version"]:
                raise Problem("UNAUTHORIZED", "credentials were reset; log in again")
        return p
