"""The scenario registry: one module per scenario in this package, found by name.

A scenario module reads like one of Locust's `examples/`: its docstring tells the story,
then it declares
    PHASES    list of `PlannedPhase` (name, duration, users, spawn rate, fault, kind)
    SLOS      list of `loadtests.slo.Slo`, the gate of `make load`
    TIMELINE  steps for the control API (`timeline_from(PHASES)` in most files)
and optionally
    USERS     {"Optician": weight, "Audiologist": weight, ...} (default 3:2)
    PEC_SHARE share of visits that also ask a PEC after the rights check (default 0.25)
    def user_classes(): extra Locust user classes (imported lazily, so the registry never
              imports Locust: `run` and `demo` stay free of gevent's monkey patching)
    def extra_summary(samples, status, phases, capture=None): more summary.json sections
              that SLOs can read (every sample since test start, the gateway's last status,
              the scaled phases, the content of capture.json: `t0`, `scenario_capture`...)
    APART     operations whose samples stay out of the run's statistics (requests,
              unexpected, phases, timeline) and reach `extra_summary` only: an intruder's
    def on_test_start(control), def on_test_stop(control) -> dict: run by the master (or
              the only process) around the test, `control(method, path, **kw)` calling the
              control API with the admin token; what `on_test_start` returns (a dict) reaches
              every Locust process's users as `collect.STATE.shared` (never saved); what
              `on_test_stop` returns is saved in capture.json as `scenario_capture` (read
              while the platform still runs)
    def make_stack(opts): the deployment the scenario needs, instead of `stack.ensure`'s one
              gateway (replica-failover: PostgreSQL and two replicas); returns a Stack

Adding a scenario (e.g. `phished-account`, with an `Attacker` user) is adding one file:
`phished_account.py` is found as `phished-account`. Pure: no I/O, no clock.
"""
from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Mapping, Sequence

from loadtests.samples import Phase
from loadtests.slo import Slo

KINDS = ("healthy", "outage", "recovering")
DEFAULT_USERS = {"Optician": 3, "Audiologist": 2}


@dataclass(frozen=True)
class PlannedPhase:
    """A slice of the run. `kind` says which answers are acceptable (see loadtests.expect):
    healthy wants online answers only; outage and recovering also accept the offline stand-in."""

    name: str
    duration_s: float
    users: int
    spawn_rate: float
    fault: Mapping[str, Any] = field(default_factory=lambda: {"mode": "up"}, hash=False)
    kind: str = "healthy"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"phase {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.duration_s <= 0 or self.users < 0 or self.spawn_rate <= 0:
            raise ValueError(f"phase {self.name!r}: duration and spawn rate > 0, users >= 0")

    @property
    def mode(self) -> str:
        return str(self.fault.get("mode", "up"))


def timeline_from(phases: Sequence[PlannedPhase]) -> list[dict[str, Any]]:
    """Control-API steps: each phase's fault at its start, repeated faults merged."""
    steps, at, last = [], 0.0, None
    for phase in phases:
        if dict(phase.fault) != last:
            steps.append({"at_s": round(at, 3), **phase.fault})
            last = dict(phase.fault)
        at += phase.duration_s
    return steps


@dataclass(frozen=True)
class Scenario:
    name: str
    story: str
    phases: tuple[PlannedPhase, ...]
    slos: tuple[Slo, ...]
    timeline: tuple[Mapping[str, Any], ...]
    users: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_USERS), hash=False)
    pec_share: float = 0.25
    apart: tuple[str, ...] = ()
    module: ModuleType | None = field(default=None, compare=False, repr=False)

    @property
    def duration_s(self) -> float:
        return sum(p.duration_s for p in self.phases)

    @property
    def peak_users(self) -> int:
        return max((p.users for p in self.phases), default=0)

    def report_phases(self) -> list[Phase]:
        """The phases as report.py wants them: absolute [start, end) and the fault mode."""
        out, at = [], 0.0
        for p in self.phases:
            out.append(Phase(p.name, round(at, 3), round(at + p.duration_s, 3), p.mode))
            at += p.duration_s
        return out

    def phase_at(self, t_s: float) -> PlannedPhase | None:
        at = 0.0
        for p in self.phases:
            if at <= t_s < at + p.duration_s:
                return p
            at += p.duration_s
        return None

    def kind_at(self, t_s: float, grace_s: float = 2.0) -> str:
        """The phase kind at `t_s`; near a boundary between a healthy and an unhealthy phase
        "recovering", since requests in flight when the fault changes see either world."""
        kinds = {p.kind for p in (self.phase_at(t_s - grace_s), self.phase_at(t_s),
                                  self.phase_at(t_s + grace_s)) if p is not None}
        if not kinds:
            return "healthy"
        return kinds.pop() if len(kinds) == 1 else "recovering"

    def load_at(self, t_s: float, tail_s: float = 0.0) -> tuple[int, float] | None:
        """(users, spawn rate) at `t_s`; after the last phase `tail_s` seconds of no user
        (see loadtests.shape), then None: the run is over."""
        phase = self.phase_at(t_s)
        if phase is not None:
            return phase.users, phase.spawn_rate
        if 0 <= t_s < self.duration_s + tail_s:
            return 0, max(p.spawn_rate for p in self.phases)
        return None

    def hook(self, name: str) -> Callable[..., Any] | None:
        return getattr(self.module, name, None) if self.module else None


def scaled(s: Scenario, duration_s: float | None = None, users: int | None = None) -> Scenario:
    """Stretch or squeeze the phases to last `duration_s` in all, and the users so the
    peak is `users`. Spawn rates follow both, so a squeezed run still has its users in
    place (and logged in) as early in each phase as the full one. Fault parameters (a
    flap's period, a latency) stay: they describe the platform, not the run. Phases keep
    at least 1 s and a busy phase at least 1 user."""
    t = (duration_s / s.duration_s) if duration_s else 1.0
    u = (users / s.peak_users) if users and s.peak_users else 1.0
    phases = tuple(replace(p, duration_s=max(1.0, round(p.duration_s * t, 3)),
                           users=max(1, round(p.users * u)) if p.users else 0,
                           spawn_rate=max(1.0, round(p.spawn_rate * u / t, 2))) for p in s.phases)
    # A step at a phase start moves with that start (the 1 s floor can shift it), so
    # fault and phase boundaries stay together; any other step scales linearly.
    moved = {old.start_s: new.start_s for old, new in
             zip(s.report_phases(), replace(s, phases=phases).report_phases())}
    timeline = tuple({**step, "at_s": moved.get(round(step["at_s"], 3), round(step["at_s"] * t, 3))}
                     for step in s.timeline)
    return replace(s, phases=phases, timeline=timeline)


def parse_duration(text: str | float | None) -> float | None:
    """"90", "90s", "2m", "1m30s", "1h" -> seconds; "" or None -> None (keep the scenario's)."""
    if text is None or str(text).strip() == "":
        return None
    raw = str(text).strip().lower()
    try:
        return float(raw)
    except ValueError:
        pass
    total, number = 0.0, ""
    for ch in raw:
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in "hms" and number:
            total += float(number) * {"h": 3600, "m": 60, "s": 1}[ch]
            number = ""
        else:
            raise ValueError(f"not a duration: {text!r} (try 90, 90s, 2m, 1m30s)")
    if number or total <= 0:
        raise ValueError(f"not a duration: {text!r} (try 90, 90s, 2m, 1m30s)")
    return total


def names() -> list[str]:
    """Every scenario of this package, as `make load SCENARIO=...` spells it."""
    return sorted(m.name.replace("_", "-") for m in pkgutil.iter_modules(__path__)
                  if not m.name.startswith("_"))


def load(name: str) -> Scenario:
    """The scenario called `name` ("recovery-storm" and "recovery_storm" both work), or the
    file `name` ends in `.py` (a scenario of your own, kept outside this package). Checked
    (`loadtests.scenario_check`): a misspelt metric, phase or fault is refused here."""
    if name.strip().endswith(".py"):
        return from_module(_import_file(Path(name.strip())))
    module_name = name.strip().lower().replace("-", "_")
    if module_name.replace("_", "-") not in names():
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(names())} (or a path to a .py file)")
    return from_module(importlib.import_module(f"{__name__}.{module_name}"))


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise KeyError(f"no scenario file {path}")
    spec = importlib.util.spec_from_file_location(f"loadtests_scenario_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def from_module(module: ModuleType) -> Scenario:
    from loadtests.scenario_check import check

    name = module.__name__.rsplit(".", 1)[-1].removeprefix("loadtests_scenario_").replace("_", "-")
    phases = tuple(module.PHASES)
    timeline = tuple(getattr(module, "TIMELINE", None) or timeline_from(phases))
    check(name, phases, tuple(module.SLOS), timeline, tuple(getattr(module, "EXTRA_METRICS", ())))
    return Scenario(name=name, story=(module.__doc__ or "").strip(),
                    phases=phases, slos=tuple(module.SLOS), timeline=timeline,
                    users=dict(getattr(module, "USERS", DEFAULT_USERS)),
                    pec_share=float(getattr(module, "PEC_SHARE", 0.25)),
                    apart=tuple(getattr(module, "APART", ())), module=module)
