"""The token request as RFC 6749 reads it (sections 2.3.1, 3.2, 4.4, 5.1, 5.2). Pure.

`parse_token_request(mime, body, authorization)` returns who claims to be calling and how
they authenticated, or raises a Problem that already carries the RFC's `error` and
`error_description` members, so a standard client (authlib, requests-oauthlib) raises its
own `invalid_request` / `unsupported_grant_type` / `invalid_client` error.

- client_secret_basic (`Authorization: Basic`, id and secret form-urlencoded before
  base64, section 2.3.1) and client_secret_post (`client_id` / `client_secret` in the
  body); both at once is refused: "MUST NOT use more than one authentication method".
- Parameters "MUST NOT be included more than once" (section 3.2): a repeated one is
  `invalid_request`; so is a missing `grant_type`. Another grant is `unsupported_grant_type`.
- The body is `application/x-www-form-urlencoded` as the RFC says; JSON is also accepted
  (the sandbox's earlier clients send it), with the same rules.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote_plus

from tiers_payant.parsing import parse_json_object
from tiers_payant.problems import REGISTRY, Problem

OAUTH_ERRORS = {  # our registry code -> RFC 6749 section 5.2 `error`
    "INVALID_REQUEST": "invalid_request", "MALFORMED_JSON": "invalid_request", "BAD_REQUEST": "invalid_request",
    "VALIDATION_FAILED": "invalid_request", "PAYLOAD_TOO_LARGE": "invalid_request",
    "UNSUPPORTED_MEDIA_TYPE": "invalid_request", "UNSUPPORTED_GRANT_TYPE": "unsupported_grant_type",
    "INVALID_SCOPE": "invalid_scope", "INVALID_CLIENT": "invalid_client",
    # Not in RFC 6749's list, which has no word for these; the closest the RFC family has:
    "ACCOUNT_SUSPENDED": "unauthorized_client", "LOGIN_THROTTLED": "temporarily_unavailable",
    "RATE_LIMITED": "temporarily_unavailable",
}
BASIC_CHALLENGE = 'Basic realm="tiers-payant", charset="UTF-8"'


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    secret: str
    method: str  # "client_secret_basic" | "client_secret_post"
    scope: str | None


def oauth_problem(p: Problem) -> Problem:
    """The same problem with `error` / `error_description`, and the token endpoint's challenge on a 401."""
    code = "INVALID_REQUEST" if p.code == "VALIDATION_FAILED" else p.code  # RFC 6749: a bad request is a 400
    members = {"error": OAUTH_ERRORS.get(code, "invalid_request"), "error_description": p.detail or code}
    headers = dict(p.headers)
    if REGISTRY[code].status == 401:
        headers.setdefault("WWW-Authenticate", BASIC_CHALLENGE)
    return Problem(code, p.detail, p.errors, headers, p.status, {**p.members, **members})


def _fail(code: str, detail: str) -> Problem:
    return Problem(code, detail)


KNOWN_PARAMETERS = frozenset({"grant_type", "client_id", "client_secret", "scope"})


def _form(raw: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw.strip()))
    except (UnicodeDecodeError, ValueError):
        raise _fail("INVALID_REQUEST", "the body is not valid application/x-www-form-urlencoded UTF-8") from None
    out: dict[str, str] = {}
    for k, v in pairs:
        if k not in KNOWN_PARAMETERS:
            continue  # RFC 6749 section 3.2: unrecognized parameters are ignored
        if k in out:
            raise _fail("INVALID_REQUEST", f"parameter {k} is repeated (RFC 6749 section 3.2)")
        out[k] = v
    return out


def _json(raw: bytes) -> dict[str, str]:
    seen: list[str] = []

    def pairs(items):  # a repeated key is refused here too, not silently last-wins
        seen.extend(k for k, _ in items)
        return dict(items)
    try:
        json.loads(raw, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        pass  # parse_json_object below gives the precise problem
    doc = parse_json_object(raw)
    repeated = sorted({k for k in seen if seen.count(k) > 1 and k in KNOWN_PARAMETERS})
    if repeated:
        raise _fail("INVALID_REQUEST", f"parameter {repeated[0]} is repeated (RFC 6749 section 3.2)")
    # RFC 6749 section 3.2: unrecognized parameters are ignored; the known ones must be strings
    bad = [k for k, v in doc.items() if k in KNOWN_PARAMETERS and not isinstance(v, str)]
    if bad:
        raise _fail("INVALID_REQUEST", f"parameter {bad[0]} must be a string")
    return doc


def _basic(authorization: str) -> tuple[str, str]:
    scheme, _, value = authorization.partition(" ")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _fail("INVALID_CLIENT", "the Basic credentials are not base64 of id:secret") from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise _fail("INVALID_CLIENT", "the Basic credentials are not base64 of id:secret")
    return unquote_plus(user), unquote_plus(password)


def parse_token_request(mime: str, raw: bytes, authorization: str | None) -> ClientCredentials:
    if mime == "application/x-www-form-urlencoded":
        form = _form(raw)
    elif mime == "application/json":
        form = _json(raw)
    else:
        raise Problem("UNSUPPORTED_MEDIA_TYPE", "send application/x-www-form-urlencoded (RFC 6749) or application/json")
    grant = form.get("grant_type")
    if grant is None or grant == "":
        raise _fail("INVALID_REQUEST", "grant_type is required (client_credentials)")
    if grant != "client_credentials":
        raise _fail("UNSUPPORTED_GRANT_TYPE", "only grant_type=client_credentials is supported")
    scope = form.get("scope")
    basic = authorization is not None and authorization[:6].lower() == "basic "
    if basic:
        if "client_secret" in form:
            raise _fail("INVALID_REQUEST", "use one client authentication method: Basic or client_secret in the body")
        client_id, secret = _basic(authorization)
        if form.get("client_id", client_id) != client_id:
            raise _fail("INVALID_REQUEST", "client_id in the body differs from the Basic credentials")
        return ClientCredentials(client_id, secret, "client_secret_basic", scope)
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if not client_id or secret is None:
        raise _fail("INVALID_CLIENT", "client authentication is required: Basic, or client_id and client_secret")
    return ClientCredentials(client_id, secret, "client_secret_post", scope)
