"""timeline.png: the run at a glance, for a class watching a projector.

Three panels sharing the time axis, fault periods shaded and named on each:
requests per second by mode (stacked, so the height is the total) with declines and
unexpected answers as lines; p95 latency on a log scale (timeouts and fast offline answers
differ by orders of magnitude); the breaker state and the journal backlog.
Agg backend: no display needed, works in CI and on Locust's master.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
from matplotlib.ticker import MaxNLocator  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402

from loadtests.samples import DECLINES, NO_FAULT, Phase, breaker_level  # noqa: E402

MODE_STYLE = {"online": ("#2ca02c", "online (platform answered)"),
              "offline": ("#ff7f0e", "offline stand-in (provisional)"),
              "none": ("#9e9e9e", "no answer / problem")}
FAULT_COLORS = {"down": "#d62728", "blackhole": "#7f1d1d", "latency": "#ffbf00",
                "errors": "#9467bd", "throttle": "#bcbd22", "reset": "#e377c2",
                "malformed": "#8c564b", "flap": "#17becf"}


def fault_spans(fault_history: Sequence[Mapping[str, Any]], phases: Sequence[Phase],
                duration_s: float) -> list[tuple[float, float, str]]:
    """(start, end, mode) of each injected fault; an open fault (`until` None) lasts to the
    end. Without a history (the control API was not polled), the planned phases stand in."""
    if fault_history:
        return [(float(f["at"]), float(duration_s if f.get("until") is None else f["until"]),
                 str(f["mode"])) for f in fault_history if str(f["mode"]) not in NO_FAULT]
    return [(p.start_s, p.end_s, p.fault) for p in phases if p.fault not in NO_FAULT]


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [math.nan if row.get(key) in (None, "") else float(row[key]) for row in rows]


def _shade(axes: Sequence[Any], spans: Sequence[tuple[float, float, str]], width_s: float) -> None:
    top = axes[0]
    label_at = blended_transform_factory(top.transData, top.transAxes)
    labelled: dict[str, float] = {}  # mode -> where its last label went
    for start, end, mode in spans:
        color = FAULT_COLORS.get(mode.split(":")[0], "#7f7f7f")
        for ax in axes:
            ax.axvspan(start, end, color=color, alpha=0.15, linewidth=0)
        # A flapping platform gives many short spans: one label per mode every 8% of the axis.
        if start - labelled.get(mode, -math.inf) >= 0.08 * width_s:
            labelled[mode] = start
            top.text(start, 0.98, f" {mode}", transform=label_at, va="top", ha="left",
                     fontsize=10, fontweight="bold", color=color)


def plot_timeline(path: str | Path, rows: Sequence[Mapping[str, Any]],
                  spans: Sequence[tuple[float, float, str]], *, title: str) -> None:
    """Draw the per-second `rows` of report.timeline_rows into a PNG at `path`."""
    t = [row["t_s"] + 0.5 for row in rows]  # a bucket [t, t+1) is drawn at its middle
    fig, (req, lat, brk) = plt.subplots(3, 1, sharex=True, figsize=(13, 8.5), dpi=100,
                                        gridspec_kw={"height_ratios": [3, 2, 1.6]})
    fig.suptitle(title, fontsize=15, fontweight="bold")

    req.stackplot(t, *[_series(rows, m) for m in MODE_STYLE],
                  colors=[c for c, _ in MODE_STYLE.values()],
                  labels=[label for _, label in MODE_STYLE.values()], alpha=0.85)
    declines = [sum(float(row.get(d, 0) or 0) for d in DECLINES) for row in rows]
    req.plot(t, declines, color="black", linestyle="--", linewidth=1.4,
             label="declines (not eligible / refused)")
    req.plot(t, _series(rows, "unexpected"), color="#d62728", linewidth=1.8,
             label="unexpected answers")
    req.set_ylabel("requests / s")
    req.set_ylim(bottom=0)

    p95 = _series(rows, "p95_ms")
    lat.plot(t, p95, color="#1f77b4", linewidth=1.6, label="p95 latency")
    if any(v > 0 for v in p95 if not math.isnan(v)):
        lat.set_yscale("log")
    lat.set_ylabel("p95 latency (ms)")

    levels = [math.nan if (v := breaker_level(row.get("breaker"))) is None else v for row in rows]
    brk.step(t, levels, where="mid", color="#1f77b4", linewidth=2, label="breaker state")
    brk.set_yticks([0, 0.5, 1], ["closed", "half-open", "open"])
    brk.set_ylim(-0.15, 1.15)
    brk.set_ylabel("breaker")
    journal = brk.twinx()
    journal.plot(t, _series(rows, "journal_pending"), color="#9467bd", linewidth=1.6,
                 label="journal pending (offline decisions to reconcile)")
    journal.set_ylabel("journal pending")
    journal.set_ylim(bottom=0)
    journal.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))  # a backlog is a count
    brk.set_xlabel("seconds since test start")
    width_s = max(len(rows), 1)
    brk.set_xlim(0, width_s)

    _shade([req, lat, brk], spans, width_s)
    for ax in (req, lat, brk):
        ax.grid(True, alpha=0.3)
    handles = [h for ax in (brk, journal) for h in ax.get_legend_handles_labels()[0]]
    for ax, hs in ((req, None), (lat, None), (brk, handles)):
        ax.legend(handles=hs, loc="upper left", bbox_to_anchor=(1.07, 1.0), fontsize=9,
                  frameon=False)
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")  # legends sit right of the axes: keep them in the picture
    plt.close(fig)
