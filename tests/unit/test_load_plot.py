"""timeline.png has a fixed size and every label inside, whatever the data: a full run, a
naive one (timeouts, no breaker, faults of an earlier run at negative times on a reused
platform) and a phished-account run with its intruder panel."""
import random

import matplotlib.image
import pytest

from loadtests.plot import SIZE, draw, fault_spans, outside, plot_timeline
from loadtests.report import timeline_rows
from loadtests.samples import Phase, Sample, StatusPoint

PHASES = [Phase("healthy", 0, 12, "up"), Phase("cut", 12, 20, "down"), Phase("degraded", 20, 50, "down"),
          Phase("return", 50, 65, "up"), Phase("drain", 65, 80, "up")]
# a platform that ran for hours before: earlier runs' faults, one still "open" from long ago
HISTORY = [{"at": -15000.0, "until": -14000.0, "mode": "down"}, {"at": -900.0, "until": -800.0, "mode": "latency"},
           {"at": 12.0, "until": 50.0, "mode": "down"}, {"at": 70.0, "until": None, "mode": "flap"}]


def samples(naive: bool, n: int = 2000):
    rng, out = random.Random(7), []
    for _ in range(n):
        t = rng.uniform(0, 80)
        down = 12 <= t < 50
        if naive and down:
            out.append(Sample(t, "eligibility", "none", "error", 0, rng.uniform(5000, 20000), False, "timeout"))
        elif down:
            out.append(Sample(t, "eligibility", "offline", "eligible", 200, rng.uniform(1, 9), True))
        elif rng.random() < 0.1:  # a catalogue case whose right answer is a 4xx problem
            out.append(Sample(t, "eligibility", "none", "problem", 422, rng.uniform(2, 30), True, "NIR_INVALID"))
        else:
            out.append(Sample(t, "pec", "online", "accepted", 200, rng.uniform(2, 40), True))
    return out


def points(naive: bool):
    return [StatusPoint(t / 2, "none" if naive else ("open" if 24 <= t < 100 else "closed"), 0 if naive else t % 7,
                        0, 0) for t in range(160)]


@pytest.mark.parametrize("naive", [False, True])
def test_the_image_has_its_size_and_every_label_inside(naive, tmp_path):
    rows = timeline_rows(samples(naive), points(naive), PHASES, HISTORY, 80)
    spans = fault_spans(HISTORY, PHASES, 80)
    assert all(0 <= start < end <= 80 for start, end, _ in spans)  # only this run's, clipped
    kw = dict(title=f"outage · resilience {'naive' if naive else 'full'} · SLO FAIL", phases=PHASES, duration_s=80)
    fig = draw(rows, spans, **kw)
    assert outside(fig) == []
    path = tmp_path / "timeline.png"
    plot_timeline(path, rows, spans, **kw)
    height, width = matplotlib.image.imread(path).shape[:2]
    assert (width, height) == SIZE


def test_the_intruder_panel_keeps_the_size_too(tmp_path):
    phases = [Phase("opening", 0, 8, "up"), Phase("attack", 8, 40, "up")]
    rows = timeline_rows(samples(False, 500), [], phases, [], 40)
    intruder = {"points": [(0, 0)] + [(8 + i / 10, i) for i in range(1, 15)], "suspended_after_s": 10.4}
    fig = draw(rows, [], title="phished-account · SLO pass", phases=phases, duration_s=40, intruder=intruder)
    assert len(fig.axes) == 5  # four panels and the journal's twin axis
    assert outside(fig) == []
    legend_texts = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert "account suspended at 10.4 s" in legend_texts
    plot_timeline(tmp_path / "p.png", rows, [], title="x", phases=phases, duration_s=40, intruder=intruder)
    assert matplotlib.image.imread(tmp_path / "p.png").shape[1::-1] == SIZE


def test_a_label_pushed_outside_is_caught():
    rows = timeline_rows(samples(False, 100), [], PHASES, [], 80)
    fig = draw(rows, [], title="x", phases=PHASES, duration_s=80)
    fig.text(1.02, 0.5, "off the edge")
    assert any("off the edge" in o for o in outside(fig))
