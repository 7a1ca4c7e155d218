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
from dataclasses import dataclass
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


def credentials_env(creds: list[Credentials]) -> dict[str, str]:
    return {CREDENTIALS_VAR: json.dumps([c.__dict__ for c in creds], separators=(",", ":"))}


def credentials_from_env(env=os.environ) -> list[Credentials]:
    raw = env.get(CREDENTIALS_VAR)
    return [Credentials(**row) for row in json.loads(raw)] if raw else []


def service_secret(stack, client_id: str) -> str:
    """A gateway's service account, issued afresh for the gateway the stack starts."""
    rows = _control(stack, "POST", "/v1/sandbox/accounts", json={"client_ids": [client_id], "reissue": True})
    return rows["accounts"][0]["client_secret"]


def prepare(stack, cases: int, per_profession: int, folder: Path) -> dict[str, str]:
    """Everything the Locust processes of one run need, as environment variables."""
    from loadtests.intruder import INTRUDER_ACCOUNTS
    from simulator.accounts import account
    reserved = INTRUDER_ACCOUNTS  # the phished-account intruders' (996-999)
    per_profession = max(1, min(per_profession, MAX_PER_PROFESSION))
    ids = shop_client_ids(stack.seed, per_profession, reserved) + [account(stack.seed, k).client_id for k in reserved]
    return {"LOADTESTS_CASES_FILE": str(cases_file(stack, cases, folder)), **credentials_env(issue(stack, ids))}
