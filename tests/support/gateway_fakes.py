"""Fakes for the gateway shell's unit tests: keys, cards, tokens, caches, a scripted platform.

The scripted platform answers from a script (a status and body, or an exception to
raise). It serves both of the gateway's clients: as a requests transport adapter (`send`,
for the background work's Session, whose code paths from `session.request` on are the
real ones) and as the online hop's transport (`request`, what gateway.online.hop.PlatformHop
offers). Scripts are written once for both: a requests exception raised on the hop is
turned into the HopError the real hop would raise for the same failure.
"""
from __future__ import annotations

import base64
import json
import time
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, Callable

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from requests.adapters import BaseAdapter

from gateway.online.hop import HopError, Reply
from gateway.settings import Settings
from tiers_payant.cards import sign_card
from tiers_payant.model import Card, CardBeneficiary, StandinPolicy
from tiers_payant.nir import make_nir
from tiers_payant.tokens import issue_token

AMC = "123456789"
CARD_KEY = Ed25519PrivateKey.from_private_bytes(b"c" * 32)
TOKEN_KEY = Ed25519PrivateKey.from_private_bytes(b"t" * 32)
NIR = make_nir(1, 80, 5, "75", "056", 12)
BIRTH = date(1980, 5, 17)
RPPS = "12345678901"


def jwk(key: Ed25519PrivateKey, kid: str, use: str) -> dict:
    x = base64.urlsafe_b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).rstrip(b"=")
    return {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": kid, "x": x.decode(), "tp_use": use}


JWKS = {"keys": [jwk(CARD_KEY, f"amc-{AMC}-1", "card"), jwk(TOKEN_KEY, "token-1", "token")]}
POLICY = StandinPolicy(AMC, (("AUDI", Decimal("2000")), ("OPTI", Decimal("600"))), Decimal("3500"), 4, 30,
                       86_400, True, "decline")


def card(serial: str = "S-1", valid_to: date = date(2099, 12, 31)) -> str:
    c = Card(AMC, "TPS", "01", "M-1", date(2020, 1, 1), valid_to,
             (CardBeneficiary("Doe", "Jo", BIRTH, 1, NIR),), ("OPTI", "AUDI", "PHAR"), serial, True,
             (("AUDI", "CONFORT"), ("OPTI", "CONFORT")))
    return sign_card(c, CARD_KEY, f"amc-{AMC}-1")


def token(client_id: str = "opt-000001", ttl_s: int = 900, now: float | None = None) -> str:
    return issue_token(TOKEN_KEY, "token-1", client_id=client_id, rpps=RPPS, profession="28", credential_version=0,
                       now=time.time() if now is None else now, ttl_s=ttl_s, jti="j")


def eligibility_body(serial: str = "S-1", **kw: Any) -> dict:
    return {"card": card(serial, **kw), "beneficiary": {"nir": NIR, "birth_date": BIRTH.isoformat(), "birth_rank": 1},
            "domain": "OPTI"}


def pec_body(serial: str = "S-1") -> dict:
    return {**eligibility_body(serial), "professional": {"rpps": RPPS, "profession": "28"},
            "lines": [{"code": "OPT-A-FRAME", "class": "A", "price": "30.00", "quantity": 1},
                      {"code": "OPT-A-LENS-SIMPLE", "class": "A", "price": "40.00", "quantity": 1, "eye": "right"}]}


def fill_caches(cached, revoked_cards=(), suspended=(), fetched_at: float | None = None) -> None:
    at = time.time() if fetched_at is None else fetched_at
    cached.save("jwks", JWKS, at)
    cached.save("revocations", {"version": 1, "cards": list(revoked_cards), "accounts": list(suspended)}, at)
    cached.save("standin_policy", {"policies": [POLICY.to_json()]}, at)


JOURNAL = ""  # "" = SQLite in tmp_path; tests/conftest.py's `each_journal` sets a PostgreSQL URL


def settings(tmp_path, **kw: Any) -> Settings:
    base = Settings(platform_url="http://platform.test", journal_path=str(tmp_path / "journal.sqlite"),
                    journal=JOURNAL, client_secret="service-secret-of-the-fake-platform")
    return replace(base, **kw)


Script = Callable[[requests.PreparedRequest], "tuple[int, Any] | tuple[int, Any, dict] | BaseException"]


class ScriptedPlatform(BaseAdapter):
    """`script(request)` returns (status, body[, headers]) or an exception instance to raise."""

    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.sent.append(request)
        out = self.script(request)
        if isinstance(out, BaseException):
            raise out
        status, body, headers = (*out, {}) if len(out) == 2 else out
        r = requests.Response()
        r.status_code, r.request, r.url = status, request, request.url
        r._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        r.headers.update({"Content-Type": "application/json", **headers})
        return r

    def request(self, method: str, path: str, headers: dict, body: bytes | None, timeout,
                hedge_s: float | None = None) -> Reply:
        """The online hop's interface (gateway.online.upstream.Transport); answers at once,
        so `hedge_s` never fires here (the live tests hedge for real)."""
        prep = requests.PreparedRequest()
        prep.prepare(method=method, url="http://platform.test" + path, headers=headers, data=body)
        try:
            r = self.send(prep, timeout=timeout)
        except requests.Timeout as exc:
            raise HopError("timeout") from exc
        except requests.ConnectionError as exc:
            raise HopError("refused" if "refused" in str(exc).lower() else "reset") from exc
        return Reply(r.status_code, r.content, r.headers.get("Content-Type", "application/json"),
                     r.headers.get("Retry-After"))

    def close(self) -> None:
        pass


def refused() -> requests.ConnectionError:
    return requests.ConnectionError("HTTPConnectionPool: [Errno 111] Connection refused")
