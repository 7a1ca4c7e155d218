"""Keys and secrets random to each state directory; rotation live, online and offline.

The old trust model derived every card key as SHA-256("tp-sim:<seed>:<kid>") and every
client secret as HMAC-SHA256(seed, client_id)[:32]: anyone who knew (or guessed) the seed
held every AMC's signing key and every account. These tests derive the old way and find
nothing that matches, forge a card with such a key and see it declined offline at no cost,
and rotate a live AMC key and the token key with their overlap.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.support.gateway_live import caches_loaded, eligibility, optician, pec, status, wait_until
from tests.support.procs import ADMIN_TOKEN, ROOT, accounts, answers, cards, control, login, start_gateway, start_platform
from tiers_payant.cards import card_kid

pytestmark = pytest.mark.integration
ADMIN = {"Authorization": "Bearer " + ADMIN_TOKEN}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def seed_derived_key(seed: int, name: str) -> Ed25519PrivateKey:
    """How the simulator derived its keys before: from the public seed."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"tp-sim:{seed}:{name}".encode()).digest())


def seed_derived_secret(seed: int, client_id: str) -> str:
    return hmac.new(str(seed).encode(), client_id.encode(), hashlib.sha256).hexdigest()[:32]


def forged(card: str, key: Ed25519PrivateKey) -> str:
    """The same header and claims, signed with `key`."""
    head, payload, _ = card.split(".")
    return f"{head}.{payload}.{b64(key.sign(f'{head}.{payload}'.encode()))}"


def jwks(platform) -> list[dict]:
    return requests.get(platform.url + "/v1/keys", timeout=5).json()["keys"]


def test_one_seed_two_directories_two_keyrings_and_nothing_derivable_from_the_seed(tmp_path):
    one = start_platform(tmp_path, beneficiaries=2_000, workers=1)  # two state directories (one per port)
    two = start_platform(tmp_path, beneficiaries=2_000, workers=1)
    try:
        keys = {p.url: {k["kid"]: k["x"] for k in jwks(p)} for p in (one, two)}
        assert set(keys[one.url]) == set(keys[two.url])  # the same AMCs (one population), versioned kids
        assert not set(keys[one.url].values()) & set(keys[two.url].values())  # no key in common
        for kid, x in keys[one.url].items():
            family = kid.rsplit("-", 1)[0]
            for name in {kid, family, "token-1"}:  # the old kids were "amc-<number>" and "token-1"
                derived = seed_derived_key(42, name).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
                assert b64(derived) != x, f"{kid} is derivable from the seed"
        a, b = accounts(one, 3), accounts(two, 3)
        for mine, theirs in zip(a, b):
            assert mine["client_id"] == theirs["client_id"] and mine["client_secret"] != theirs["client_secret"]
            old_way = seed_derived_secret(42, mine["client_id"])
            assert mine["client_secret"] != old_way
            r = requests.post(one.url + "/oauth/token", timeout=10, data={
                "grant_type": "client_credentials", "client_id": mine["client_id"], "client_secret": old_way})
            assert r.status_code == 401 and r.json()["error"] == "invalid_client"
        r = requests.post(one.url + "/oauth/token", timeout=10, data={  # a secret of the other directory
            "grant_type": "client_credentials", "client_id": b[0]["client_id"], "client_secret": b[0]["client_secret"]})
        assert r.status_code == 401
        db = (one.extra["state"] / "platform.sqlite").read_bytes() + (one.extra["state"] / "platform.sqlite-wal").read_bytes()
        assert not [x for x in a if x["client_secret"].encode() in db]  # hashed at rest only
        assert db.count(b"$argon2id$") >= len(a)
        assert (one.extra["state"] / "keys" / "keyring.json").stat().st_mode & 0o077 == 0
        assert (one.extra["state"] / "keys").stat().st_mode & 0o077 == 0
        again = control(one, "POST", "/v1/sandbox/accounts", json={"client_ids": [a[0]["client_id"]]}).json()
        assert again["accounts"][0]["client_secret"] is None  # shown once
    finally:
        one.stop()
        two.stop()


def offline(platform) -> None:
    r = requests.post(platform.extra["control"] + "/v1/faults", json={"mode": "down", "for_s": 60}, headers=ADMIN,
                      timeout=5)
    assert r.ok, r.text


def online(platform) -> None:
    requests.post(platform.extra["control"] + "/v1/faults", json={"mode": "up"}, headers=ADMIN, timeout=5)


def ask(gw, path: str, body: dict, h: dict, mode: str) -> dict:
    """The gateway's answer once it answers in `mode` (the breaker opens within a few calls)."""
    found = wait_until(lambda: (lambda a: a if a.get("mode") == mode else None)(
        requests.post(gw.url + path, json=body, headers=h, timeout=10).json()), 20, every_s=0.1)
    assert found, f"no {mode} answer for {path}"
    return found


@pytest.fixture
def stack(tmp_path):
    platform = start_platform(tmp_path, env={"SIM_RATE_PER_S": "0", "SIM_DETECTION": "off"})
    gw = start_gateway(tmp_path, platform.url, env={"GW_REFRESH_INTERVAL_S": "0.5"})
    try:
        acc, token = optician(platform)
        assert wait_until(lambda: caches_loaded(gw.url), 20)
        yield platform, gw, acc, {"Authorization": "Bearer " + token}
    finally:
        online(platform)
        gw.stop()
        platform.stop()


def test_a_card_forged_with_a_seed_derived_key_is_declined_online_and_offline_at_no_cost(stack):
    platform, gw, acc, h = stack
    audio_acc = next(a for a in accounts(platform, 4) if a["profession"] == "26")
    h_audio = {"Authorization": "Bearer " + login(platform.url, audio_acc["client_id"], audio_acc["client_secret"])}
    case = cards(platform, 1, case="audi-i")[0]  # two hearing aids: the costly forgery
    kid = card_kid(case["card"])
    fakes = [forged(case["card"], seed_derived_key(42, name)) for name in (kid, kid.rsplit("-", 1)[0])]
    for fake in fakes:
        r = requests.post(platform.url + "/v1/pec", json={**pec(case, audio_acc), "card": fake}, headers=h_audio,
                          timeout=10)
        assert (r.json()["decision"], r.json()["reason"]) == ("refused", "CARD_SIGNATURE_INVALID")
    offline(platform)
    before = status(gw.url)["journal"]["recorded"]
    for fake in fakes:
        answer = ask(gw, "/v1/pec", {**pec(case, audio_acc), "card": fake}, h_audio, "offline")
        assert (answer["decision"], answer["reason"]) == ("refused", "CARD_SIGNATURE_INVALID")
        assert "journal_reference" not in answer or answer["journal_reference"] is None
    st = status(gw.url)
    assert st["journal"]["recorded"] == before  # nothing committed: 0 EUR exposure


def test_rotating_an_amc_key_keeps_old_cards_valid_during_the_overlap_and_retiring_it_ends_them(stack):
    platform, gw, acc, h = stack
    old = cards(platform, 1, case="opti-a")[0]
    kid = card_kid(old["card"])
    r = control(platform, "POST", "/v1/keys/rotate", json={"amc": kid.split("-")[1], "overlap_s": 3600})
    assert r.status_code == 200 and r.json()["replaced"] == kid
    new_kid = r.json()["kid"]
    assert new_kid == kid.rsplit("-", 1)[0] + "-2"
    new = cards(platform, 1, case="opti-a")[0]  # the same contract's card, signed again with the new key
    assert card_kid(new["card"]) == new_kid and new["beneficiary"] == old["beneficiary"]
    assert {kid, new_kid} <= {k["kid"] for k in jwks(platform)}
    for card in (old, new):
        r = requests.post(gw.url + "/v1/eligibility", json=eligibility(card), headers=h, timeout=10).json()
        assert (r["mode"], r["decision"]) == ("online", "eligible")
    rotated_at = time.time()
    assert wait_until(lambda: (lambda age: age is not None and age < time.time() - rotated_at)(
        status(gw.url)["caches"]["jwks"]), 15, every_s=0.05), "the gateway did not refresh its keys"
    offline(platform)
    for card in (old, new):  # offline, from the gateway's refreshed keys: both verify during the overlap
        assert ask(gw, "/v1/eligibility", eligibility(card), h, "offline")["decision"] == "eligible"
    online(platform)
    assert wait_until(lambda: answers(platform), 15)
    r = control(platform, "POST", "/v1/keys/retire", json={"kid": kid})
    assert r.status_code == 200
    retired_at = time.time()
    assert kid not in {k["kid"] for k in jwks(platform)}
    refused = ask(gw, "/v1/eligibility", eligibility(old), h, "online")
    assert (refused["decision"], refused["reason"]) == ("not_eligible", "CARD_KEY_RETIRED")
    assert wait_until(lambda: (lambda age: age is not None and age < time.time() - retired_at)(
        status(gw.url)["caches"]["jwks"]), 15, every_s=0.05)
    offline(platform)
    answer = ask(gw, "/v1/eligibility", eligibility(old), h, "offline")
    assert (answer["decision"], answer["reason"]) == ("not_eligible", "CARD_KEY_RETIRED")
    assert ask(gw, "/v1/eligibility", eligibility(new), h, "offline")["decision"] == "eligible"
    current = control(platform, "POST", "/v1/keys/retire", json={"kid": new_kid})
    assert current.status_code == 409 and current.json()["code"] == "KEY_IS_CURRENT"


def test_rotating_the_token_key_keeps_tokens_of_the_overlap_and_retiring_it_asks_for_a_new_login(tmp_path):
    platform = start_platform(tmp_path, beneficiaries=2_000, workers=2, env={"SIM_RATE_PER_S": "0"})
    try:
        acc = accounts(platform, 1)[0]
        before = login(platform.url, acc["client_id"], acc["client_secret"])
        r = control(platform, "POST", "/v1/keys/rotate", json={"tokens": True, "overlap_s": 600})
        assert r.json()["kid"] == "token-2" and r.json()["replaced"] == "token-1"
        after = login(platform.url, acc["client_id"], acc["client_secret"])
        revocations = platform.url + "/v1/revocations"
        for token in (before, after):  # every worker re-read the keyring: both verify everywhere
            for _ in range(6):
                assert requests.get(revocations, headers={"Authorization": "Bearer " + token}, timeout=5).ok
        control(platform, "POST", "/v1/keys/retire", json={"kid": "token-1"})
        r = requests.get(revocations, headers={"Authorization": "Bearer " + before}, timeout=5)
        assert r.status_code == 401 and "retired" in r.json()["detail"]
        assert requests.get(revocations, headers={"Authorization": "Bearer " + after}, timeout=5).ok
        # an overlap that runs out by itself: token-2 stays published 1 s after token-3 replaces it
        r = control(platform, "POST", "/v1/keys/rotate", json={"tokens": True, "overlap_s": 1})
        ends = r.json()["replaced_retires_at"]
        assert requests.get(revocations, headers={"Authorization": "Bearer " + after}, timeout=5).ok or \
            time.time() >= ends  # still inside the overlap (unless this machine took longer than it)
        assert wait_until(lambda: time.time() > ends and requests.get(
            revocations, headers={"Authorization": "Bearer " + after}, timeout=5).status_code == 401, 15)
    finally:
        platform.stop()


def test_the_command_line_rotates_keys_and_signs_cards_with_the_state_directorys_keys(tmp_path):
    platform = start_platform(tmp_path, beneficiaries=2_000, workers=1)
    state = str(platform.extra["state"])

    def cli(*args: str) -> list[dict]:
        out = subprocess.run([sys.executable, "-m", "simulator", *args, "--state-dir", state], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    try:
        case = cli("cards", "--case", "opti-a")[0]
        kid = card_kid(case["card"])
        rotation = cli("keys", "rotate", "--amc", kid.split("-")[1])[0]
        assert rotation["replaced"] == kid and rotation["replaced_retires_at"] > time.time() + 86_400
        listed = {k["kid"]: k for k in cli("keys", "list")}
        assert listed[kid]["published"] and listed[rotation["kid"]]["retires_at"] is None
        again = cli("cards", "--case", "opti-a")[0]
        assert card_kid(again["card"]) == rotation["kid"]
        assert rotation["kid"] in {k["kid"] for k in jwks(platform)}  # the running platform saw the rotation
        acc = cli("accounts", "--count", "1")[0]
        token = login(platform.url, acc["client_id"], acc["client_secret"])
        r = requests.post(platform.url + "/v1/eligibility", json=eligibility(again),
                          headers={"Authorization": "Bearer " + token}, timeout=10)
        assert r.json()["decision"] == "eligible"
        wrong = subprocess.run([sys.executable, "-m", "simulator", "cards", "--state-dir", state, "--seed", "7"],
                               cwd=ROOT, capture_output=True, text=True)
        assert wrong.returncode == 2 and "not this state directory's population" in wrong.stderr
    finally:
        platform.stop()
