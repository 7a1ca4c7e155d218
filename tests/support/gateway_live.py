"""Helpers for live gateway tests: a professional's session and the sandbox requests."""
from __future__ import annotations

import time

import requests

from tests.support.procs import accounts, cards, login



def optician(platform) -> tuple[dict, str]:
    """An optician's sandbox account on this platform (a `procs.Proc`), and a token."""
    acc = next(a for a in accounts(platform, 4) if a["profession"] == "28")
    return acc, login(platform.url, acc["client_id"], acc["client_secret"])


def eligibility(case: dict) -> dict:
    return {"card": case["card"], "beneficiary": case["beneficiary"], "domain": case["domain"]}


def pec(case: dict, acc: dict) -> dict:
    return {**eligibility(case), "professional": {"rpps": acc["rpps"], "profession": acc["profession"]},
            **case["quote"]}


def catalogue(platform, count: int = 60) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for c in cards(platform, count):
        out.setdefault(c["case"], []).append(c)
    return out


def wait_until(predicate, timeout_s: float = 30.0, every_s: float = 0.1):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    return predicate()


def status(gateway_url: str) -> dict:
    return requests.get(gateway_url + "/v1/status", timeout=5).json()


def caches_loaded(gateway_url: str) -> bool:
    return all(v is not None for v in status(gateway_url)["caches"].values())
