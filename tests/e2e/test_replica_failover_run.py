"""The replica-failover scenario for real, squeezed: its own PostgreSQL cluster, platform and
two gateway replicas; the drain leader killed with kill -9 mid-outage; the gate holds."""
import pytest

from loadtests.run import RunOptions, run

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_two_replicas_one_killed_mid_outage_pass_the_gate(tmp_path, pg_cluster, monkeypatch):
    for name in ("LOADTESTS_REPLICAS", "LOADTESTS_FAILOVER"):  # the scenario's stack sets them: restored after
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("JOURNAL_URL", pg_cluster.url)  # a database on the session's cluster, not a second one
    summary, folder = run(RunOptions("replica-failover", "full", users=10, duration="50s",
                                     reports=tmp_path / "reports", progress=False))
    assert summary is not None, (folder / "locust-master.out").read_text()[-3000:]
    f = summary["failover"]
    assert f["killed"] == 1 and f["killed_at_s"] is not None  # the drain leader, during the outage
    assert f["records"] > 0 and f["acknowledged"] > 0 and f["acknowledged_missing"] == 0
    assert f["pending"] == 0 and f["advices_twice"] == 0 and f["advices_not_matching"] == 0
    assert f["max_pecs_per_beneficiary"] <= 4
    assert f["cut_by_kill"] <= f["cut_bound"] and f["unexpected_outside_kill"] == 0
    assert summary["slo_pass"], [r for r in summary["slos"] if not r["pass"]]
