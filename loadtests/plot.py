"""timeline.png: the run at a glance, for a class watching a projector.

Panels sharing the time axis, the scenario's phases marked and named, this run's fault
periods shaded and named: answers per second stacked by kind (online, offline stand-in,
expected problem answers such as a catalogue's error cases, unexpected answers in red on
top) with declines as a dashed line; p95 latency in ms on a log scale with plain ticks
(timeouts and fast offline answers differ by orders of magnitude); the breaker state and
the journal backlog; and, when the scenario has an intruder, what it got over time and
when it was stopped. The image is always SIZE pixels, whatever the data: legends sit in a
reserved right margin, every label inside the figure. Agg backend: no display needed.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402

from loadtests.samples import DECLINES, NO_FAULT, Phase, breaker_level  # noqa: E402

SIZE = (1400, 900)  # pixels, at DPI
DPI = 100
STACK = (("online_ok", "#2ca02c", "online (platform answered)"),
         ("offline_ok", "#ff7f0e", "offline stand-in (provisional)"),
         ("problem_ok", "#5b8db8", "expected problem (e.g. a bad card)"),
         ("unexpected", "#d62728", "unexpected answer"))
FAULT_COLORS = {"down": "#d62728", "blackhole": "#7f1d1d", "latency": "#ffbf00",
                "errors": "#9467bd", "throttle": "#bcbd22", "reset": "#e377c2",
                "malformed": "#8c564b", "flap": "#17becf"}


def fault_spans(fault_history: Sequence[Mapping[str, Any]], phases: Sequence[Phase],
                duration_s: float) -> list[tuple[float, float, str]]:
    """(start, end, mode) of each fault injected during this run, clipped to [0, duration_s]
    (a reused platform's earlier faults have negative times); an open fault lasts to the end.
    Without a history (no control API), the planned phases stand in."""
    if not fault_history:
        return [(p.start_s, p.end_s, p.fault) for p in phases if p.fault not in NO_FAULT]
    spans = []
    for f in fault_history:
        start = max(0.0, float(f["at"]))
        end = min(float(duration_s), float(duration_s if f.get("until") is None else f["until"]))
        if str(f["mode"]) not in NO_FAULT and end > start:
            spans.append((start, end, str(f["mode"])))
    return spans


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [math.nan if row.get(key) in (None, "") else float(row[key]) for row in rows]


def _mark(axes: Sequence[Any], spans: Sequence[tuple[float, float, str]], phases: Sequence[Phase],
          width_s: float) -> None:
    """Phases named at the top of the first panel, faults at its bottom; lines on every panel."""
    top = axes[0]
    at = blended_transform_factory(top.transData, top.transAxes)
    for p in phases:
        for ax in axes:
            ax.axvline(p.start_s, color="#444444", linewidth=0.8, linestyle=":")
        wide = (p.end_s - p.start_s) >= 0.07 * width_s
        top.text(p.start_s, 0.98, f" {p.name}", transform=at, va="top", ha="left", clip_on=True,
                 fontsize=10, rotation=0 if wide else 90, color="#222222")
    labelled: dict[str, float] = {}
    for start, end, mode in spans:
        color = FAULT_COLORS.get(mode.split(":")[0], "#7f7f7f")
        for ax in axes:
            ax.axvspan(start, end, color=color, alpha=0.15, linewidth=0)
        if start - labelled.get(mode, -math.inf) >= 0.08 * width_s:  # a flap: one label per 8% of the axis
            labelled[mode] = start
            top.text(start, 0.02, f" platform {mode}", transform=at, va="bottom", ha="left", clip_on=True,
                     fontsize=10, fontweight="bold", color=color,
                     bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1.5})


def _plain_log(ax: Any) -> None:
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot_timeline(path: str | Path, rows: Sequence[Mapping[str, Any]],
                  spans: Sequence[tuple[float, float, str]], **kw: Any) -> None:
    """Draw the per-second `rows` of report.timeline_rows into a PNG at `path` (SIZE pixels)."""
    fig = draw(rows, spans, **kw)
    fig.savefig(path, dpi=DPI)  # no bbox_inches="tight": the size is SIZE, whatever the data
    plt.close(fig)


def outside(fig: Any) -> list[str]:
    """Texts and legends of `fig` that do not lie wholly inside it (what a test checks)."""
    from matplotlib.legend import Legend
    from matplotlib.text import Text

    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    box = fig.bbox
    out = []
    for artist in fig.findobj(lambda a: isinstance(a, (Text, Legend)) and a.get_visible()):
        if isinstance(artist, Text) and not artist.get_text().strip():
            continue
        e = artist.get_window_extent(renderer)
        if e.x0 < box.x0 - 1 or e.y0 < box.y0 - 1 or e.x1 > box.x1 + 1 or e.y1 > box.y1 + 1:
            out.append(f"{type(artist).__name__} {getattr(artist, 'get_text', lambda: '')()!r} at {e.bounds}")
    return out


def draw(rows: Sequence[Mapping[str, Any]], spans: Sequence[tuple[float, float, str]], *, title: str,
         phases: Sequence[Phase] = (), duration_s: float | None = None,
         intruder: Mapping[str, Any] | None = None) -> Any:
    """The figure of plot_timeline. `intruder`: {"points": [(t, answered so far)],
    "suspended_after_s": t | None}."""
    t = [row["t_s"] + 0.5 for row in rows]  # a bucket [t, t+1) is drawn at its middle
    n = 4 if intruder else 3
    fig, axes = plt.subplots(n, 1, sharex=True, figsize=(SIZE[0] / DPI, SIZE[1] / DPI), dpi=DPI,
                             gridspec_kw={"height_ratios": [3, 2, 1.6, 1.6][:n]})
    req, lat, brk = axes[:3]
    fig.subplots_adjust(left=0.07, right=0.68, top=0.92, bottom=0.07, hspace=0.12)
    fig.suptitle(title, fontsize=15, fontweight="bold", x=0.375)

    req.stackplot(t, *[[0 if math.isnan(v) else v for v in _series(rows, k)] for k, _, _ in STACK],
                  colors=[c for _, c, _ in STACK], labels=[label for _, _, label in STACK], alpha=0.85)
    declines = [sum(float(row.get(d, 0) or 0) for d in DECLINES) for row in rows]
    req.plot(t, declines, color="black", linestyle="--", linewidth=1.4, label="declines (not eligible / refused)")
    req.set_ylabel("answers / s")
    req.set_ylim(bottom=0)

    p95 = _series(rows, "p95_ms")
    lat.plot(t, p95, color="#1f77b4", linewidth=1.6, label="p95 latency (ms)")
    if any(v > 0 for v in p95 if not math.isnan(v)):
        _plain_log(lat)
    lat.set_ylabel("p95 latency (ms)")

    levels = [math.nan if (v := breaker_level(row.get("breaker"))) is None else v for row in rows]
    brk.step(t, levels, where="mid", color="#1f77b4", linewidth=2, label="breaker state")
    brk.set_yticks([0, 0.5, 1], ["closed", "half-open", "open"])
    brk.set_ylim(-0.15, 1.15)
    brk.set_ylabel("breaker")
    if all(math.isnan(v) for v in levels):
        brk.text(0.5, 0.5, "no breaker (a naive gateway, or not this product's)", transform=brk.transAxes,
                 ha="center", va="center", fontsize=11, color="#555555")
    journal = brk.twinx()
    pending = _series(rows, "journal_pending")
    journal.plot(t, pending, color="#9467bd", linewidth=1.6, label="journal pending (to reconcile)")
    journal.set_ylabel("journal pending")
    journal.set_ylim(0, max([1, *(v for v in pending if not math.isnan(v))]) * 1.1)
    journal.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))  # a backlog is a count

    width_s = max(float(duration_s or 0), len(rows), 1.0)
    if intruder:
        ax = axes[3]
        points = list(intruder.get("points") or [])
        ax.step([p[0] for p in points], [p[1] for p in points], where="post", color="#8b0000", linewidth=2,
                label="identities the intruder got answered")
        ax.set_ylabel("intruder")
        ax.set_ylim(0, max([1, *(p[1] for p in points)]) * 1.15)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        stopped = intruder.get("suspended_after_s")
        if stopped is not None and 0 <= stopped <= width_s:
            ax.axvline(stopped, color="black", linewidth=2, label=f"account suspended at {stopped:g} s")
    axes[-1].set_xlabel("seconds since test start")
    axes[-1].set_xlim(0, width_s)

    _mark(axes, spans, phases, width_s)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        if ax is brk:
            more = journal.get_legend_handles_labels()
            handles, labels = handles + more[0], labels + more[1]
        if handles:
            ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.09, 1.0), fontsize=10, frameon=False)
    return fig
