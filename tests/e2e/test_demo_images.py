"""`make demo`, shortened (DURATION=20s) and on free ports: exit 0, and both of its plots,
full and naive, have the configured size with every label inside the figure."""
import csv
import json
import os
import re
import subprocess
from pathlib import Path

import matplotlib.image
import pytest

from loadtests.plot import SIZE, draw, fault_spans, outside
from loadtests.report import timeline_rows
from loadtests.samples import Phase, Sample, StatusPoint
from tests.support.procs import ROOT, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_both_demo_plots_have_their_size_and_labels_inside():
    env = {k: v for k, v in os.environ.items() if k not in ("SIM_ADMIN_TOKEN", "GATEWAY_URL", "PLATFORM_URL",
                                                            "CONTROL_URL")}
    env.update(COLUMNS="200", LOADTESTS_GATEWAY_PORT=str(free_port()), LOADTESTS_PLATFORM_PORT=str(free_port()),
               LOADTESTS_CONTROL_PORT=str(free_port()))
    r = subprocess.run(["make", "--no-print-directory", "demo", "DURATION=20s"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=280)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    folders = re.findall(r"(/\S+/reports/outage-\S+)", r.stdout)
    assert len(folders) == 2, r.stdout[-2000:]
    assert "a refused connection fails in milliseconds" in r.stdout.replace("\n", " ")
    for folder in map(Path, folders):
        png = folder / "timeline.png"
        height, width = matplotlib.image.imread(png).shape[:2]
        assert (width, height) == SIZE, png
        assert (folder / "summary.json").stat().st_size > 0
    # the labels: redraw each report's figure from its own files, as run.summarize did, and look outside
    for folder in map(Path, folders):
        summary = json.loads((folder / "summary.json").read_text())
        capture = json.loads((folder / "capture.json").read_text())
        phases = [Phase(p["name"], p["start_s"], p["end_s"], p["fault"]) for p in summary["phases"]]
        samples = [Sample.from_row(row) for row in csv.DictReader((folder / "samples.csv").open())]
        points = [StatusPoint(float(t), str(b), int(p), int(rc), int(d)) for t, b, p, rc, d in capture["points"]]
        rows = timeline_rows(samples, points, phases, capture["fault_history"], summary["duration_s"])
        spans = fault_spans(capture["fault_history"], phases, summary["duration_s"])
        assert all(0 <= a < b <= summary["duration_s"] for a, b, _ in spans)
        fig = draw(rows, spans, title=f"{summary['scenario']} · resilience {summary['resilience']}", phases=phases,
                   duration_s=summary["duration_s"])
        assert outside(fig) == [], folder
