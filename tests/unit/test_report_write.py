"""write_report writes summary.json, timeline.csv and a real PNG."""
import csv
import json

from loadtests.plot import fault_spans
from loadtests.report import build_summary, write_report
from loadtests.samples import Phase, Sample, StatusPoint
from loadtests.slo import Slo

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PHASES = [Phase("before", 0, 20, "up"), Phase("outage", 20, 40, "down"), Phase("after", 40, 60, "up")]


def run():
    samples, points = [], []
    for second in range(60):
        offline = 20 <= second < 40
        for k in range(10):
            samples.append(Sample(second + k / 10, "pec", "offline" if offline else "online",
                                  "refused" if k == 0 else "accepted", 200,
                                  4.0 if offline else 40.0 + k, True))
        points.append(StatusPoint(second + 0.5, "open" if 21 <= second < 42 else "closed",
                                  10 * min(second - 20, 20) if 20 <= second < 45 else 0, 0, 0))
    return samples, points


def test_write_report_writes_three_files(tmp_path):
    samples, points = run()
    history = [{"at": 20.0, "until": 40.0, "mode": "down"}]
    summary = build_summary(scenario="outage", resilience="full", duration_s=60, samples=samples,
                            phases=PHASES, status_points=points, journal={},
                            reconciliation={"confirmed": 200, "adjusted": 0, "rejected": 0,
                                            "exposure_eur": "0.00"},
                            slos=[Slo("offline in outage", "offline_share", ">=", 0.99, phase="outage")])
    folder = tmp_path / "reports" / "outage-test"
    paths = write_report(folder, summary, samples, PHASES, points, history)

    assert sorted(p.name for p in folder.iterdir()) == ["summary.json", "timeline.csv", "timeline.png"]
    written = json.loads(paths["summary.json"].read_text())
    assert written["slo_pass"] is True and written["requests"] == 600
    assert written["breaker"] == {"opened_after_s": 1.5, "closed_after_s": 2.5}

    rows = list(csv.DictReader(paths["timeline.csv"].open()))
    assert len(rows) == 60
    assert {"t_s", "requests", "online", "offline", "refused", "unexpected", "p95_ms", "breaker",
            "journal_pending", "fault"} <= set(rows[0])
    assert rows[25]["offline"] == "10" and rows[25]["fault"] == "down" and rows[25]["breaker"] == "open"

    png = paths["timeline.png"].read_bytes()
    assert png[:8] == PNG_MAGIC
    assert 20_000 < len(png) < 2_000_000


def test_write_report_with_an_empty_run(tmp_path):
    summary = build_summary(scenario="steady", resilience="naive", duration_s=0, samples=[], phases=[],
                            status_points=[], slos=[], journal={}, reconciliation={})
    paths = write_report(tmp_path, summary, [], [], [], [])
    assert paths["timeline.png"].read_bytes()[:8] == PNG_MAGIC
    assert json.loads(paths["summary.json"].read_text())["journal"]["pending"] is None


def test_fault_spans_from_history_or_planned_phases():
    history = [{"at": 5, "until": 9, "mode": "down"}, {"at": 9, "until": 12, "mode": "up"},
               {"at": 50, "until": None, "mode": "latency"}]
    assert fault_spans(history, PHASES, 60) == [(5.0, 9.0, "down"), (50.0, 60.0, "latency")]
    assert fault_spans([], PHASES, 60) == [(20, 40, "down")]
