"""What a load run needs from the platform's sandbox: signed cases and account credentials.

Both come from the platform's control API (admin token), because both are the platform's
own: its cards are signed with keys random to its state directory, and its secrets are
issued once and stored hashed. Before Locust starts, the runner
- writes the cases to a file under var/ (cards and synthetic people, no secret), keyed by
  the platform's published keys, so every Locust process of the run reads the same;
- issues secrets for the shops' accounts (and the intruder's) and hands them to the Locust
  processes in the `LOADTESTS_CREDENTIALS` variable, never in a file. An account issued
  earlier (the same platform, an earlier run) is reissued: the sandbox resets it.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import requests

CREDENTIALS_VAR = "LOADTESTS_CREDENTIALS"
MAX_PER_PROFESSION = 200


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str
    profession: str
    rpps: str
    token: str | None = None  # logged in before the run (see opened), or None
    token_until: float = 0.0  # epoch after which the token is not to be used

    def fresh_token(self, now: float, margin_s: float = 60.0) -> str | None:
        return self.token if self.token and now < self.token_until - margin_s else None


class SandboxError(RuntimeError):
    """The platform's control API would not give cases or credentials."""


def _control(stack, method: str, path: str, **kwargs) -> dict:
    if not stack.control_url:
        raise SandboxError("no control API: set CONTROL_URL and SIM_ADMIN_TOKEN (cards and sandbox secrets "
                           "come from the platform's control API)")
    try:
        r = requests.request(method, stack.control_url + path, timeout=120,
                             headers={"Authorization": f"Bearer {stack.admin_token}"}, **kwargs)
    except requests.RequestException as e:
        raise SandboxError(f"{method} {path}: {e}") from None
    if r.status_code != 200:
        raise SandboxError(f"{method} {path}: HTTP {r.status_code} {r.text[:200]}")
    return r.json()


def cases_file(stack, count: int, folder: Path) -> Path:
    """The platform's catalogue cases as JSON Lines, made once per (platform keys, count, day)."""
    jwks = requests.get(stack.platform_url + "/v1/keys", timeout=10).content
    path = folder / f"cases-{hashlib.sha256(jwks).hexdigest()[:12]}-{count}.jsonl"
    if not path.exists():
        cases = _control(stack, "GET", "/v1/sandbox/cases", params={"count": count})["cases"]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases))
        os.replace(tmp, path)  # whole or absent
    return path


def shop_client_ids(seed: int, per_profession: int, reserved: tuple[int, ...]) -> list[str]:
    """The first `per_profession` opticians (even k) and audiologists (odd k), past `reserved`."""
    from simulator.accounts import account
    out, k = [], 0
    while len(out) < 2 * per_profession:
        if k not in reserved:
            out.append(account(seed, k).client_id)
        k += 1
    return out


def issue(stack, client_ids: list[str]) -> list[Credentials]:
    """Secrets for these accounts, issued now (reissued when an earlier run had them)."""
    rows = _control(stack, "POST", "/v1/sandbox/accounts", json={"client_ids": client_ids})["accounts"]
    again = [r["client_id"] for r in rows if not r["client_secret"]]
    if again:
        rows = [r for r in rows if r["client_secret"]] + _control(
            stack, "POST", "/v1/sandbox/accounts", json={"client_ids": again, "reissue": True})["accounts"]
    return [Credentials(r["client_id"], r["client_secret"], r["profession"], r["rpps"]) for r in rows]


ENV_BYTES = 96_000  # one variable must stay under Linux's 128 KiB per string (MAX_ARG_STRLEN)


def credentials_env(creds: list[Credentials]) -> dict[str, str]:
    """As one variable; past ENV_BYTES the tokens are left out (each user then logs in itself)."""
    value = json.dumps([c.__dict__ for c in creds], separators=(",", ":"))
    if len(value) > ENV_BYTES:
        value = json.dumps([replace(c, token=None, token_until=0.0).__dict__ for c in creds], separators=(",", ":"))
    if len(value) > ENV_BYTES:
        raise SandboxError(f"{len(creds)} accounts do not fit in {CREDENTIALS_VAR}: ask for fewer users")
    return {CREDENTIALS_VAR: value}


def credentials_from_env(env=os.environ) -> list[Credentials]:
    raw = env.get(CREDENTIALS_VAR)
    return [Credentials(**row) for row in json.loads(raw)] if raw else []


def service_secret(stack, client_id: str) -> str:
    """A gateway's service account, issued afresh for the gateway the stack starts."""
    rows = _control(stack, "POST", "/v1/sandbox/accounts", json={"client_ids": [client_id], "reissue": True})
    return rows["accounts"][0]["client_secret"]


def opened(stack, creds: list[Credentials], reserved: set[str]) -> list[Credentials]:
    """The shops log in before the day starts: a login costs the platform one argon2id hash
    (tens of milliseconds of a core, by design), and thirty shops logging in at once at the
    test's start would queue everyone's first rights checks behind those hashes. Two at a
    time here, before Locust starts; the intruders (`reserved`) log in on their own."""
    def login(c: Credentials) -> Credentials:
        if c.client_id in reserved:
            return c
        try:
            r = requests.post(stack.platform_url + "/oauth/token", timeout=30, data={
                "grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret})
        except requests.RequestException:
            return c  # the user logs in itself
        if r.status_code != 200:
            return c
        doc = r.json()
        return replace(c, token=doc["access_token"], token_until=time.time() + int(doc.get("expires_in", 0)))
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(login, creds))


def prepare(stack, cases: int, per_profession: int, folder: Path) -> dict[str, str]:
    """Everything the Locust processes of one run need, as environment variables."""
    from loadtests.intruder import INTRUDER_ACCOUNTS
    from simulator.accounts import account
    reserved = INTRUDER_ACCOUNTS  # the phished-account intruders' (996-999)
    per_profession = max(1, min(per_profession, MAX_PER_PROFESSION))
    ids = shop_client_ids(stack.seed, per_profession, reserved) + [account(stack.seed, k).client_id for k in reserved]
    intruders = {account(stack.seed, k).client_id for k in reserved}
    creds = opened(stack, issue(stack, ids), intruders)
    return {"LOADTESTS_CASES_FILE": str(cases_file(stack, cases, folder)), **credentials_env(creds)}
