"""The phished-account scenario, end to end: shops and an intruder against a real gateway
and platform, once with enumeration detection (the gate passes) and once without (it fails)."""
import pytest

from loadtests.run import RunOptions, run
from loadtests.stack import Stack
from tests.support.procs import ADMIN_TOKEN, start_gateway, start_platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _stack(tmp_path, detection):
    platform = start_platform(tmp_path, extra_args=("--detection", detection))
    gateway = None
    try:
        gateway = start_gateway(tmp_path, platform.url)
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


def test_the_intruder_is_suspended_and_the_shops_never_notice(stack_with, tmp_path):
    opts = RunOptions("phished-account", users=8, duration="24s", reports=tmp_path / "reports")
    summary, folder = run(opts, stack_with("on"))
    assert summary is not None, (folder / "locust-master.out").read_text()[-3000:]
    attack = summary["attack"]
    assert summary["slo_pass"], (_failed(summary), attack, summary["run"]["notes"])
    assert attack["suspended"] is True and attack["rule"] in ("enumeration", "failed_proofs")
    assert 1 <= attack["distinct_beneficiaries_answered"] <= 50
    assert attack["started_after_s"] < attack["suspended_after_s"] < summary["duration_s"]
    assert attack["answered_after_suspension"] == 0
    assert attack["refused"].get("ACCOUNT_SUSPENDED", 0) >= 1  # it kept knocking, and was refused
    # the platform saw what the intruder saw: every answered identity, plus the probe that tipped it over
    platform = attack["platform"]
    assert platform["distinct_identities_probed"] - attack["distinct_beneficiaries_answered"] in (0, 1)
    assert platform["distinct_beneficiaries_answered"] == 0  # no proof of possession ever held
    # the shops: many answers, none unexpected, and the intruder's requests are not theirs
    assert summary["unexpected"] == 0 and summary["requests"] > 50
    assert summary["locust"]["by_name"]["attack"]["requests"] == attack["requests"]
    assert summary["requests"] + attack["requests"] == sum(summary["run"]["samples_by_node"].values())


def test_without_detection_the_same_day_fails(stack_with, tmp_path):
    opts = RunOptions("phished-account", users=6, duration="16s", reports=tmp_path / "reports", detection="off")
    summary, folder = run(opts, stack_with("off"))
    assert summary is not None, (folder / "locust-master.out").read_text()[-3000:]
    attack = summary["attack"]
    assert summary["slo_pass"] is False
    assert {r["metric"] for r in _failed(summary)} == {"attack.suspended", "attack.distinct_beneficiaries_answered"}
    assert attack["suspended"] is False and attack["suspended_after_s"] is None
    assert attack["distinct_beneficiaries_answered"] > 50
    assert summary["unexpected"] == 0
    assert summary["run"]["detection"] == "off"
