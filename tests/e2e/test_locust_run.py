"""One short, bounded headless Locust run, distributed (a master and two workers), against
a real platform and gateway: the outage squeezed into about 20 s."""
import json

import pytest

from loadtests.run import RunOptions, run
from loadtests.stack import Stack
from tests.support.procs import ADMIN_TOKEN, start_gateway, start_platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
def stack(tmp_path):
    platform = start_platform(tmp_path)
    gateway = None
    try:
        gateway = start_gateway(tmp_path, platform.url)
        yield Stack(platform.url, platform.extra["control"], gateway.url, "full", ADMIN_TOKEN,
                    platform.extra["beneficiaries"])
    finally:
        if gateway:
            gateway.stop()
        platform.stop()


def test_a_short_distributed_outage_run_writes_a_merged_report(stack, tmp_path):
    opts = RunOptions("outage", "full", users=10, duration="20s", workers=2, reports=tmp_path / "reports")
    summary, folder = run(opts, stack)
    assert summary is not None, (folder / "locust-master.out").read_text()[-3000:]

    written = json.loads((folder / "summary.json").read_text())
    assert written == json.loads(json.dumps(summary, default=str))
    for name in ("locust.html", "locust_stats.csv", "timeline.csv", "timeline.png", "samples.csv"):
        assert (folder / name).stat().st_size > 0, name

    # merged: both workers were heard, and our samples are Locust's checked requests
    assert summary["run"]["workers"] == 2
    assert set(summary["run"]["samples_by_node"]) == {"worker-0", "worker-1"}
    assert sum(summary["run"]["samples_by_node"].values()) == summary["requests"] > 100
    by_name = summary["locust"]["by_name"]
    checked = ("eligibility", "pec", "quote", "cancel", "invoice")  # login is Locust's alone
    assert abs(sum(by_name.get(n, {}).get("requests", 0) for n in checked) - summary["requests"]) <= 5

    # the story happened: online, then offline while the platform was down, then drained
    phases = {p["name"]: p for p in summary["phases"]}
    # Healthy means online; on a saturated runner a call may pass the gateway's 1.5 s deadline
    # and be answered offline, as designed: a few of them are the machine, not a bug.
    assert phases["healthy"]["offline"] <= max(3, 0.05 * phases["healthy"]["requests"])
    assert phases["healthy"]["offline_share"] < phases["degraded"]["offline_share"]
    assert phases["degraded"]["offline_share"] > 0.5
    assert summary["journal"]["recorded"] > 0
    assert summary["journal"]["drained"] == summary["journal"]["recorded"]
    assert summary["unexpected"] == 0, [r for r in summary["slos"] if not r["pass"]]
    assert summary["slo_pass"], [r for r in summary["slos"] if not r["pass"]]
    assert summary["run"]["notes"] == []
