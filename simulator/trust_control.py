"""Control API for what the platform trusts: its keys, the sandbox's secrets and signed cases.

Control port only, admin token (a `control_*` blueprint; see `simulator/control.py`).

    GET  /v1/keys/status                  every key: kid, use, created, retires (never a private half)
    POST /v1/keys/rotate                  {"amc": "<number>"} or {"tokens": true}, optional "overlap_s"
    POST /v1/keys/retire                  {"kid": "..."}: end a replaced key's overlap now
    POST /v1/sandbox/accounts             {"count": N} and/or {"client_ids": [...]}, optional "reissue":
                                          secrets issued now are answered once; earlier ones are null
    GET  /v1/sandbox/cases?count=N&case=  catalogue cases, cards signed with the current keys

The same operations exist on the command line against a state directory
(`python -m simulator keys ...`, `accounts --state-dir`, `cards --state-dir`).
"""
from __future__ import annotations

import math
import time

from flask import Blueprint, current_app, request

from tiers_payant.httpkit import json_response, read_json_body
from tiers_payant.parsing import parse_json_object
from tiers_payant.problems import FieldError, Problem

from .accounts import account, known_account
from .catalogue import CASE_NAMES, cases, cases_of
from .credentials import issue
from .key_rotation import TOKEN_FAMILY, card_family

bp = Blueprint("control_trust", __name__)
MAX_ISSUE = 1000  # secrets per call: each costs an argon2id hash (tens of milliseconds)
MAX_CASES = 2000


def _svc():
    return current_app.extensions["platform"]


@bp.before_request
def _admin_only() -> None:
    from .control import control_port_admin_only
    control_port_admin_only()


def key_status(keys, now: float) -> list[dict]:
    return [{"kid": e.kid, "use": e.use, "created_at": e.created_at, "retires_at": e.retires_at,
             "published": e.retires_at is None or now < e.retires_at} for e in keys.entries()]


@bp.get("/v1/keys/status")
def keys_status():
    return json_response({"keys": key_status(_svc().platform.keys, time.time())})


def _invalid(name: str, why: str) -> Problem:
    return Problem("VALIDATION_FAILED", f"{name}: {why}", [FieldError(name, why)])


def family_of(body: dict, population) -> str:
    """The key family a rotation names: one AMC's card keys, or the token keys."""
    if body.get("tokens") is True and "amc" not in body:
        return TOKEN_FAMILY
    amc = body.get("amc")
    if not isinstance(amc, str) or population.amc_by_number(amc) is None:
        raise _invalid("amc", "the number of an AMC served here (or {\"tokens\": true})")
    return card_family(amc)


@bp.post("/v1/keys/rotate")
def rotate():
    s = _svc()
    body = parse_json_object(read_json_body())
    family = family_of(body, s.population)
    overlap = body.get("overlap_s", s.settings.overlap_s(family))
    if type(overlap) not in (int, float) or not math.isfinite(overlap) or not 0 <= overlap <= 400 * 86_400:
        raise _invalid("overlap_s", "seconds the replaced key stays published, 0 to 400 days")
    return json_response(s.platform.keys.rotate(family, time.time(), float(overlap)))


@bp.post("/v1/keys/retire")
def retire():
    body = parse_json_object(read_json_body())
    kid = body.get("kid")
    try:
        return json_response(_svc().platform.keys.retire(kid if isinstance(kid, str) else "", time.time()))
    except KeyError:
        raise _invalid("kid", "no such key") from None
    except ValueError as e:
        raise Problem("KEY_IS_CURRENT", str(e)) from None


def wanted_accounts(body: dict, settings) -> list[str]:
    count, ids = body.get("count", 0), body.get("client_ids", [])
    if type(count) is not int or not 0 <= count <= min(MAX_ISSUE, settings.accounts):
        raise _invalid("count", f"0 to {min(MAX_ISSUE, settings.accounts)}: the first N sandbox accounts")
    if not isinstance(ids, list) or len(ids) > MAX_ISSUE or not all(isinstance(i, str) for i in ids):
        raise _invalid("client_ids", f"a list of at most {MAX_ISSUE} client ids")
    unknown = [i for i in ids if known_account(settings.seed, i, settings.accounts) is None]
    if unknown:
        raise _invalid("client_ids", f"unknown client ids: {', '.join(sorted(unknown)[:5])}")
    out = [account(settings.seed, k).client_id for k in range(count)]
    return out + [i for i in dict.fromkeys(ids) if i not in set(out)]


def described(settings, issued: list[dict]) -> list[dict]:
    out = []
    for row in issued:
        a = known_account(settings.seed, row["client_id"], settings.accounts)
        out.append({**row, "profession": a.profession, "rpps": a.rpps} if not row["client_id"].startswith("gw-")
                   else {**row, "service": True})
    return out


@bp.post("/v1/sandbox/accounts")
def issue_accounts():
    s = _svc()
    body = parse_json_object(read_json_body())
    reissue = body.get("reissue", False)
    if not isinstance(reissue, bool):
        raise _invalid("reissue", "true resets the accounts named (new secrets, older tokens refused)")
    ids = wanted_accounts(body, s.settings)
    answer = described(s.settings, issue(s.store, ids, time.time(), reissue=reissue))
    return json_response({"accounts": answer}, headers={"Cache-Control": "no-store"})


@bp.get("/v1/sandbox/cases")
def sandbox_cases():
    s = _svc()
    raw, name = request.args.get("count", "20"), request.args.get("case")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_CASES:
        raise _invalid("count", f"1 to {MAX_CASES}")
    if name is not None and name not in CASE_NAMES:
        raise _invalid("case", f"one of {', '.join(CASE_NAMES)}")
    today = s.settings.today()
    found = (cases_of(s.population, s.platform.keys, today, name, int(raw)) if name
             else cases(s.population, s.platform.keys, today, int(raw)))
    return json_response({"cases": list(found)}, headers={"Cache-Control": "no-store"})
