"""The phished-account scenario, end to end: shops and intruders against a real gateway and
platform, once with enumeration detection (the gate passes) and once without (it fails).

Besides the online intruder: a prober at the offline gateway, forged-card hearing-aid PECs
offline, and a stolen token across a credential reset. The gateway refreshes its caches
every 0.5 s here (GW_REFRESH_INTERVAL_S), so that the squeezed `reset` phase still outlasts
one refresh interval. Forged cards are judged by what the platform's keys are: while they
are the seed-derived ones of the old code the forgery must be accepted (it proves the
forger signs as the old code did, and the gate must fail on the euros); once they are
random per state directory it must be declined CARD_SIGNATURE_INVALID, 0 €.
"""
import base64

import pytest
import requests

from loadtests.forgery import old_card_key
from loadtests.run import RunOptions, run
from loadtests.stack import Stack
from tests.support.procs import ADMIN_TOKEN, start_gateway, start_platform
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
FORGED = "attack_forged.committed_eur"


def _stack(tmp_path, detection):
    platform = start_platform(tmp_path, extra_args=("--detection", detection))
    gateway = None
    try:
        gateway = start_gateway(tmp_path, platform.url, env={"GW_REFRESH_INTERVAL_S": "0.5"})
        return Stack(platform.url, platform.extra["control"], gateway.url, "full", ADMIN_TOKEN,
                     platform.extra["beneficiaries"]), [gateway, platform]
    except BaseException:
        platform.stop()
        raise


@pytest.fixture
def stack_with(tmp_path):
    started = []

    def make(detection):
        stack, procs = _stack(tmp_path / detection, detection)
        started.extend(procs)
        return stack
    (tmp_path / "on").mkdir()
    (tmp_path / "off").mkdir()
    yield make
    for proc in started:
        proc.stop()


def _failed(summary):
    return [r for r in summary["slos"] if not r["pass"]]


def seed_derived_keys(stack, seed=42) -> bool:
    """Whether the platform's card keys are still the old code's derivation of the seed."""
    keys = requests.get(stack.platform_url + "/v1/keys", timeout=5).json()["keys"]
    card = next(k for k in keys if k.get("tp_use") == "card")
    raw = old_card_key(seed, card["kid"]).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == card["x"]


def _check_forged(summary, derived):
    forged = summary["attack_forged"]
    assert forged["offline"] == forged["requests"] == 20  # every forged PEC reached the offline gateway
    if derived:  # the old trust model: the forgery holds, the AMC pays for hearing aids nobody bought
        assert forged["accepted_offline"] == 20 and float(forged["committed_eur"]) >= 20 * 300
    else:
        assert forged["declined_signature"] == 20 and forged["committed_eur"] == "0.00"


def test_the_intruders_are_stopped_and_the_shops_never_notice(stack_with, tmp_path):
    stack = stack_with("on")
    derived = seed_derived_keys(stack)
    opts = RunOptions("phished-account", users=10, duration="44s", reports=tmp_path / "reports")
    summary, folder = run(opts, stack)
    assert summary is not None, (folder / "locust-master.out").read_text()[-3000:]
    attack = summary["attack"]
    assert {r["metric"] for r in _failed(summary)} == ({FORGED} if derived else set()), \
        (_failed(summary), summary["run"]["notes"])
    assert attack["suspended"] is True and attack["rule"] in ("enumeration", "failed_proofs")
    assert 1 <= attack["distinct_beneficiaries_answered"] <= 50
    assert attack["started_after_s"] < attack["suspended_after_s"] < summary["duration_s"]
    assert attack["answered_after_suspension"] == 0
    assert attack["refused"].get("ACCOUNT_SUSPENDED", 0) >= 1  # it kept knocking, and was refused
    # the platform saw what the intruder saw: every answered identity, plus the probe that tipped it over
    platform = attack["platform"]
    assert platform["distinct_identities_probed"] - attack["distinct_beneficiaries_answered"] in (0, 1)
    assert platform["distinct_beneficiaries_answered"] == 0  # no proof of possession ever held
    # offline: refused past its limits, and every offline lookup counted by the platform after the drain
    offline = summary["attack_offline"]
    assert offline["offline"] > 11  # (a probe sent as the cut begins may still be answered online)
    assert 1 <= offline["answered_offline"] <= 10 < offline["answered_offline"] + offline["refused_offline"]
    assert offline["reached_detection"] == offline["offline"] and offline["undetected"] == 0
    # the stolen token: answered before the reset, refused after it, online then offline
    stolen = summary["attack_stolen"]
    assert stolen["token_obtained"] is True and stolen["accepted_before_reset"] >= 1
    assert stolen["online_accepted_after_reset"] == stolen["offline_accepted_after_reset"] == 0
    assert stolen["online_refused"] >= 1 and stolen["offline_refused"] >= 1
    assert 0 <= stolen["online_refused_after_s"] < stolen["offline_refused_after_s"]
    _check_forged(summary, derived)
    # the shops: many answers, none unexpected, and the intruders' requests are not theirs
    assert summary["unexpected"] == 0 and summary["requests"] > 50
    intruders = sum(summary["locust"]["by_name"].get(op, {}).get("requests", 0)
                    for op in ("attack", "attack-offline", "attack-stolen", "attack-forged"))
    assert summary["locust"]["by_name"]["attack"]["requests"] == attack["requests"]
    assert summary["requests"] + intruders == sum(summary["run"]["samples_by_node"].values())


def test_without_detection_the_same_day_fails(stack_with, tmp_path):
    stack = stack_with("off")
    derived = seed_derived_keys(stack)
    opts = RunOptions("phished-account", users=10, duration="36s", reports=tmp_path / "reports", detection="off")
    summary, folder = run(opts, stack)
    assert summary is not None, (folder / "locust-master.out").read_text()[-3000:]
    attack = summary["attack"]
    assert summary["slo_pass"] is False
    # the platform keeps no lookups without detection: the offline probes go unseen too
    assert {r["metric"] for r in _failed(summary)} == {
        "attack.suspended", "attack.distinct_beneficiaries_answered", "attack_offline.undetected",
        *([FORGED] if derived else [])}
    assert attack["suspended"] is False and attack["suspended_after_s"] is None
    assert attack["distinct_beneficiaries_answered"] > 50
    assert summary["attack_offline"]["reached_detection"] == 0
    assert summary["unexpected"] == 0
    assert summary["run"]["detection"] == "off"
