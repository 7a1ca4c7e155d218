"""From what a run observed to a report folder: per-phase statistics, breaker timings,
`summary.json` (with its SLO verdicts), `timeline.csv` and `timeline.png`.

Everything but `write_report` is a pure function of samples, phases and status points,
so the statistics are tested on hand-made samples without Locust.
"""
from __future__ import annotations

import bisect
import csv
import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from loadtests.samples import (DECISIONS, MODES, NO_FAULT, Phase, Sample, StatusPoint,
                               breaker_level, percentile)
from loadtests.slo import Slo, evaluate


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _latency(samples: Sequence[Sample]) -> dict[str, float | None]:
    values = [s.latency_ms for s in samples]
    return {f"p{q}_ms": _ms(percentile(values, q)) for q in (50, 95, 99)}


def phase_stats(samples: Iterable[Sample], phases: Iterable[Phase]) -> list[dict[str, Any]]:
    """Per phase, samples that *started* in [start_s, end_s). `offline_share` is offline
    answers over all requests of the phase (errors count against it), None if no request."""
    samples = list(samples)
    result = []
    for phase in phases:
        inside = [s for s in samples if phase.contains(s.t_s)]
        unexpected = sum(s.unexpected for s in inside)
        offline = sum(s.mode == "offline" for s in inside)
        result.append({"name": phase.name, "fault": phase.fault, "start_s": phase.start_s,
                       "end_s": phase.end_s, "requests": len(inside), "unexpected": unexpected,
                       "unexpected_share": _share(unexpected, len(inside)), "offline": offline,
                       "offline_share": _share(offline, len(inside)), **_latency(inside)})
    return result


def breaker_times(points: Iterable[StatusPoint], phases: Iterable[Phase],
                  cut_phase: str | None, return_phase: str | None) -> dict[str, float | None]:
    """Seconds from the start of the cut phase to the first poll showing the breaker open
    or half-open, and from the start of the return phase to the first poll showing it
    closed. None when it never happened or the phase is unknown; a state that is no breaker
    state ("none" in naive mode) is neither. Resolution is the poll period."""
    points = sorted(points, key=lambda p: p.t_s)
    starts = {p.name: p.start_s for p in phases}

    def first_after(phase: str | None, closed: bool) -> float | None:
        if phase not in starts:
            return None
        start = starts[phase]
        for point in points:
            level = breaker_level(point.breaker)  # None (no breaker, naive mode) never counts
            if point.t_s >= start and level is not None and (level == 0) == closed:
                return round(point.t_s - start, 3)
        return None

    return {"opened_after_s": first_after(cut_phase, False),
            "closed_after_s": first_after(return_phase, True)}


def _guess_cut_and_return(phases: Sequence[Phase]) -> tuple[str | None, str | None]:
    """The first faulty phase is the cut; the first healthy phase after it is the return."""
    cut = next((i for i, p in enumerate(phases) if p.fault not in NO_FAULT), None)
    if cut is None:
        return None, None
    back = next((p.name for p in phases[cut + 1:] if p.fault in NO_FAULT), None)
    return phases[cut].name, back


def build_summary(*, scenario: str, resilience: str, duration_s: float,
                  samples: Iterable[Sample], phases: Sequence[Phase],
                  status_points: Iterable[StatusPoint], slos: Iterable[Slo],
                  journal: Mapping[str, Any], reconciliation: Mapping[str, Any],
                  extra: Mapping[str, Any] | None = None, not_collected: Mapping[str, str] | None = None,
                  cut_phase: str | None = None, return_phase: str | None = None) -> dict[str, Any]:
    """The content of summary.json. `journal` fields missing from the caller's dict come
    from the last status point. `extra` adds sections (e.g. `attack`) that SLOs may read.
    Breaker timings use `cut_phase`/`return_phase`, guessed from phase faults if not given."""
    samples, points = list(samples), sorted(status_points, key=lambda p: p.t_s)
    last = points[-1] if points else None
    polled = {"recorded": last.journal_recorded, "drained": last.journal_drained,
              "pending": last.journal_pending} if last else {}
    guess = _guess_cut_and_return(phases)
    modes, decisions = Counter(s.mode for s in samples), Counter(s.decision for s in samples)
    unexpected = sum(s.unexpected for s in samples)
    summary: dict[str, Any] = {
        "scenario": scenario, "resilience": resilience, "duration_s": duration_s,
        "slo_pass": None, "slos": [],
        "requests": len(samples), "unexpected": unexpected,
        "unexpected_share": _share(unexpected, len(samples)),
        "by_mode": {m: modes.get(m, 0) for m in MODES},
        "offline_share": _share(modes.get("offline", 0), len(samples)),
        "by_decision": {d: decisions.get(d, 0)
                        for d in [*DECISIONS, *sorted(set(decisions) - set(DECISIONS))]},
        "latency": _latency(samples),
        "phases": phase_stats(samples, phases),
        "breaker": breaker_times(points, phases, cut_phase or guess[0], return_phase or guess[1]),
        "journal": {k: polled.get(k) if journal.get(k) is None else journal[k]
                    for k in ("recorded", "drained", "pending")},
        "reconciliation": {k: reconciliation.get(k) for k in
                           ("confirmed", "adjusted", "rejected", "exposure_eur")},
        **dict(extra or {}),
    }
    missing = dict(not_collected or {})
    summary["not_collected"] = missing
    summary["slos"] = evaluate(slos, stats_from_summary(summary))
    for r in summary["slos"]:  # an objective on a figure the target cannot give is not judged, and says so
        if r["metric"].split(".")[0] in missing:
            r.update(pass_=None, actual=None, not_collected=missing[r["metric"].split(".")[0]])
            r["pass"] = r.pop("pass_")
    summary["slo_pass"] = all(r["pass"] for r in summary["slos"] if r["pass"] is not None)
    return summary


def stats_from_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten the summary into the metric names SLOs use (see loadtests.slo)."""
    stats: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                walk(f"{prefix}{key}.", inner)
        elif not isinstance(value, (list, tuple)):
            stats[prefix[:-1]] = value

    walk("", {k: v for k, v in summary.items() if k not in ("phases", "slos")})
    for phase in summary.get("phases", []):
        walk(f"phase.{phase['name']}.", phase)
    return stats


def _fault_at(t: float, fault_history: Sequence[Mapping[str, Any]], phases: Sequence[Phase]) -> str:
    # The latest applied fault covering t wins; phases say what was planned otherwise.
    active = [f for f in fault_history
              if f["at"] <= t < (math.inf if f.get("until") is None else f["until"])]
    if active:
        return str(max(active, key=lambda f: f["at"])["mode"])
    return next((p.fault for p in phases if p.contains(t)), "")


def timeline_rows(samples: Iterable[Sample], status_points: Iterable[StatusPoint],
                  phases: Sequence[Phase], fault_history: Sequence[Mapping[str, Any]],
                  duration_s: float) -> list[dict[str, Any]]:
    """One row per second [t, t+1): counts by mode and decision, p95, and the breaker and
    journal as last polled before the second ended (empty before the first poll)."""
    buckets: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        buckets[int(s.t_s)].append(s)
    points = sorted(status_points, key=lambda p: p.t_s)
    times = [p.t_s for p in points]
    seconds = max(math.ceil(duration_s), max(buckets, default=-1) + 1)
    rows = []
    for t in range(seconds):
        inside = buckets.get(t, [])
        modes, decisions = Counter(s.mode for s in inside), Counter(s.decision for s in inside)
        i = bisect.bisect_left(times, t + 1) - 1
        point = points[i] if i >= 0 else None
        ok = Counter(s.mode for s in inside if not s.unexpected)
        rows.append({"t_s": t, "requests": len(inside), **{m: modes.get(m, 0) for m in MODES},
                     **{d: decisions.get(d, 0) for d in DECISIONS},
                     "online_ok": ok.get("online", 0), "offline_ok": ok.get("offline", 0),
                     "problem_ok": ok.get("none", 0),  # a problem answer the case expects (a bad card's 4xx)
                     "unexpected": sum(s.unexpected for s in inside),
                     "p95_ms": _ms(percentile([s.latency_ms for s in inside], 95)),
                     "breaker": point.breaker if point else "",
                     "journal_pending": point.journal_pending if point else "",
                     "fault": _fault_at(t, fault_history, phases)})
    return rows


def write_report(folder: str | Path, summary: Mapping[str, Any], samples: Iterable[Sample],
                 phases: Sequence[Phase], status_points: Iterable[StatusPoint],
                 fault_history: Sequence[Mapping[str, Any]],
                 intruder: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Write summary.json, timeline.csv and timeline.png into `folder` (created if needed);
    `fault_history` times are already seconds since test start; `intruder` see plot_timeline.
    Returns the paths."""
    from loadtests.plot import fault_spans, plot_timeline  # matplotlib only when plotting

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in ("summary.json", "timeline.csv", "timeline.png")}
    paths["summary.json"].write_text(json.dumps(summary, indent=2, default=str) + "\n")
    rows = timeline_rows(samples, status_points, phases, fault_history, summary["duration_s"])
    with paths["timeline.csv"].open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["t_s"])
        writer.writeheader()
        writer.writerows(rows)
    verdict = "SLO pass" if summary.get("slo_pass") else "SLO FAIL"
    if summary.get("interrupted"):
        verdict = f"INTERRUPTED · partial · {verdict}"
    title = f"{summary['scenario']} · resilience {summary['resilience']} · {verdict}"
    plot_timeline(paths["timeline.png"], rows, fault_spans(fault_history, phases, summary["duration_s"]),
                  title=title, phases=phases, duration_s=summary["duration_s"], intruder=intruder)
    return paths
