"""What `make load` prints while it runs: a line at each phase change and a compact status
line every few seconds, read from the master's `progress.json` (see loadtests.capture)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

STATUS_EVERY_S = 5.0


def status_line(p: dict[str, Any]) -> str:
    """One line: elapsed, phase, requests, unexpected, offline share, breaker, journal. Pure."""
    share = (p.get("recent") or {}).get("offline_share")
    journal = p.get("journal") or {}
    parts = [f"[{float(p.get('elapsed_s') or 0):6.1f} s] {p.get('phase', '?')}",
             f"{p.get('requests', 0)} requests", f"{p.get('unexpected', 0)} unexpected",
             "offline –" if share is None else f"offline {share:.0%}",
             f"breaker {p.get('breaker') or 'n/a'}",
             f"journal {journal['pending']} pending" if isinstance(journal, dict) and "pending" in journal
             else "journal n/a", f"{p.get('users', 0)} users"]
    return " · ".join(parts)


class Ticker:
    def __init__(self, path: Path, scenario: Any, every_s: float = STATUS_EVERY_S):
        self.path, self.scenario, self.every_s = path, scenario, every_s
        self.phase: str | None = None
        self.last = time.monotonic()

    def tick(self, say: Callable[..., Any]) -> None:
        try:
            p = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        phase = p.get("phase")
        if phase != self.phase and phase is not None:
            self.phase = phase
            planned = next((x for x in self.scenario.phases if x.name == phase), None)
            at = f"at {float(p.get('elapsed_s') or 0):.1f} s"
            if planned is None:  # "done": the shape's short tail while the last samples arrive
                say(f"all phases done {at}; {status_line(p)}", flush=True)
            else:
                say(f"phase {phase} ({planned.duration_s:g} s, {planned.users} users, platform {planned.mode}) {at}",
                    flush=True)
            self.last = time.monotonic()
        elif time.monotonic() - self.last >= self.every_s:
            say(status_line(p), flush=True)
            self.last = time.monotonic()
