"""What the gathering process leaves in the report folder for `run.py` and the demo.

- `samples.csv`: every checked answer (`Sample` fields, `t_s` since the test start);
- `capture.json`: status points, the gateway's status at start and end, the fault
  history (rebased on the test start), samples per node, notes on what went wrong;
- `progress.json`: rewritten every poll while running, read by `make demo`'s view.
`capture` and `progress` are pure functions of the `RunState`; the writers are atomic
(a reader never sees half a file).
"""
from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import Any

from loadtests.collect import RunState
from loadtests.samples import FIELDS


def progress(state: RunState, users: int, now: float | None = None) -> dict[str, Any]:
    sc, elapsed = state.scenario, state.elapsed(now)
    phase = sc.phase_at(elapsed) if sc else None
    return {"elapsed_s": round(elapsed, 1), "duration_s": sc.duration_s if sc else None,
            "phase": phase.name if phase else "done", "planned_fault": phase.mode if phase else "up",
            "users": users, "requests": len(state.samples),
            "unexpected": sum(s.unexpected for s in state.samples), "recent": state.recent(now),
            "breaker": state.points[-1].breaker if state.points else None,
            "journal": state.status.get("journal"), "reconciliation": state.status.get("reconciliation")}


def capture(state: RunState, **meta: Any) -> dict[str, Any]:
    """The content of capture.json; `meta` adds run settings (resilience, options...)."""
    t0 = state.t0 or 0.0
    history = [{**h, "at": h["at"] - t0, "until": None if h.get("until") is None else h["until"] - t0}
               for h in (state.faults.get("history") or []) if isinstance(h, dict) and "at" in h]
    return {"scenario": state.scenario.name if state.scenario else None, "t0": t0,
            "duration_s": state.scenario.duration_s if state.scenario else None, **meta,
            "points": [[p.t_s, p.breaker, p.journal_pending, p.journal_recorded, p.journal_drained]
                       for p in state.points],
            "status_at_start": state.status_at_start, "status_at_end": state.status,
            "fault_history": history, "by_node": dict(state.by_node), "workers": state.workers,
            "notes": state.notes}


def write_capture(folder: Path, state: RunState, **meta: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"samples.csv.{os.getpid()}.tmp"
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        writer.writerows(s.to_row() for s in state.rebased())
    os.replace(tmp, folder / "samples.csv")
    write_json(folder / "capture.json", capture(state, written_at=time.time(), **meta))


def write_json(path: Path, value: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=1, default=str))
    os.replace(tmp, path)
