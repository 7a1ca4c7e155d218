"""Fault plans: which fault is in force at a moment, and what it does to one request.

Pure (no I/O, no clock): the fault in force is a function of a stored plan and `now`,
so the proxy and every gunicorn worker compute the same answer without anything being
pushed to them; random choices hash (seed, request key), so a classroom outage replays
exactly. Transport modes (down, blackhole, reset, flap) are acted on by the proxy;
HTTP modes (latency, errors, throttle, malformed) by the Flask app, optionally per AMC.
"""
from __future__ import annotations

import bisect
import hashlib
import math
from dataclasses import dataclass
from typing import Any, Callable

STATUSES = (500, 502, 503, 504)
MALFORMED_KINDS = ("empty", "truncated")
HTTP_MODES = frozenset({"latency", "errors", "throttle", "malformed"})  # the only ones `amcs` may limit
_TRANSPORT_ACTIONS = {"down": "refuse", "blackhole": "blackhole", "reset": "reset"}


class PlanError(ValueError):
    """Bad plan or fault; `errors` holds (JSON pointer, message) pairs, all found at once."""

    def __init__(self, errors: list[tuple[str, str]]):
        self.errors = list(errors)
        super().__init__("; ".join(f"{path or '/'}: {message}" for path, message in self.errors))


@dataclass(frozen=True)
class Fault:
    mode: str
    params: tuple[tuple[str, Any], ...] = ()  # in the mode's declared order, defaults filled in
    amcs: frozenset[str] = frozenset()  # empty: every request; else only requests for these AMCs
    for_s: float | None = None  # after this long the platform is `up` again

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)

    def to_json(self) -> dict[str, Any]:
        """The shape `parse_fault` reads, so a stored fault parses back to an equal one."""
        out: dict[str, Any] = {"mode": self.mode}
        out.update((k, list(v) if isinstance(v, tuple) else v) for k, v in self.params)
        if self.amcs:
            out["amcs"] = sorted(self.amcs)
        if self.for_s is not None:
            out["for_s"] = self.for_s
        return out


UP = Fault("up")
DOWN = Fault("down")


@dataclass(frozen=True)
class Step:
    at_s: float  # seconds after the plan started
    fault: Fault

    def to_json(self) -> dict[str, Any]:
        return {"at_s": self.at_s, **self.fault.to_json()}


@dataclass(frozen=True)
class FaultPlan:
    started_at: float  # epoch seconds
    steps: tuple[Step, ...]
    seed: int

    def to_json(self) -> dict[str, Any]:
        return {"started_at": self.started_at, "seed": self.seed, "steps": [s.to_json() for s in self.steps]}


# --- parameter checks: each returns (normalised value, None) or (None, message) ---

def _number(lo: float = 0.0, hi: float = math.inf, above: bool = False) -> Callable[[Any], tuple]:
    bound = f"> {lo:g}" if above else f">= {lo:g}"
    wanted = f"a number {bound}" + (f" and <= {hi:g}" if hi != math.inf else "")

    def check(v: Any) -> tuple:
        # bool is an int in Python; `true` for a rate is a mistake, not 1.0.
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        ok = ok and (v > lo if above else v >= lo) and v <= hi
        return (v, None) if ok else (None, f"must be {wanted}")
    return check


def _status(v: Any) -> tuple:
    """One status, or a list drawn from uniformly (a mixed brownout: 502s and 504s)."""
    values = v if isinstance(v, list) and v else [v]
    if all(type(s) is int and s in STATUSES for s in values):
        return (tuple(values) if isinstance(v, list) else v), None
    return None, f"must be one of {', '.join(map(str, STATUSES))} or a non-empty list of them"


def _retry_after(v: Any) -> tuple:
    # Retry-After carries whole seconds (RFC 9110 delta-seconds).
    return (v, None) if type(v) is int and v >= 0 else (None, "must be a whole number of seconds >= 0")


def _kind(v: Any) -> tuple:
    return (v, None) if v in MALFORMED_KINDS else (None, f"must be one of {', '.join(MALFORMED_KINDS)}")


_REQUIRED = object()
_RATE = (_number(0, 1), 1.0)
# mode -> {param: (check, default)}; dict order is the order of Fault.params.
MODES: dict[str, dict[str, tuple[Callable[[Any], tuple], Any]]] = {
    "up": {}, "down": {}, "blackhole": {}, "reset": {},
    # delay = ms + uniform(0, jitter_ms), drawn per request from (seed, request key)
    "latency": {"ms": (_number(), _REQUIRED), "jitter_ms": (_number(), 0)},
    "errors": {"rate": _RATE, "status": (_status, 503)},
    "throttle": {"retry_after": (_retry_after, 1), "rate": _RATE},
    "malformed": {"kind": (_kind, _REQUIRED), "rate": _RATE},
    "flap": {"down_s": (_number(above=True), _REQUIRED), "up_s": (_number(above=True), _REQUIRED)},
}


def _is_amc_number(a: Any) -> bool:
    return isinstance(a, str) and len(a) == 9 and a.isascii() and a.isdigit()


def _ptr(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _check_fault(d: Any, path: str, extra_keys: frozenset[str]) -> tuple[Fault | None, list[tuple[str, str]]]:
    if not isinstance(d, dict):
        return None, [(path, "must be an object")]
    mode = d.get("mode")
    if mode not in MODES:
        told = "is required" if mode is None else f"unknown mode {mode!r}; expected one of {', '.join(MODES)}"
        return None, [(f"{path}/mode", told)]
    spec, errors, params = MODES[mode], [], []
    allowed = {"mode", "amcs", "for_s", *spec, *extra_keys}
    errors += [(f"{path}/{_ptr(k)}", f"unknown key for mode {mode}") for k in d if k not in allowed]
    for name, (check, default) in spec.items():
        if name not in d:
            if default is _REQUIRED:
                errors.append((f"{path}/{name}", "is required"))
            params.append((name, default))
            continue
        value, message = check(d[name])
        errors += [(f"{path}/{name}", message)] if message else []
        params.append((name, value))
    amcs = d.get("amcs", [])
    if amcs and mode not in HTTP_MODES:
        errors.append((f"{path}/amcs", f"cannot limit mode {mode} to AMCs: it acts on the whole port; "
                                       f"only {', '.join(sorted(HTTP_MODES))} can"))
    elif not isinstance(amcs, list):
        errors.append((f"{path}/amcs", "must be a list of 9-digit AMC numbers"))
    else:
        errors += [(f"{path}/amcs/{i}", "must be a string of 9 digits (quote it in YAML)")
                   for i, a in enumerate(amcs) if not _is_amc_number(a)]
    for_s = d.get("for_s")
    if for_s is not None and _number(above=True)(for_s)[1]:
        errors.append((f"{path}/for_s", "must be a number > 0 (seconds)"))
    if errors:
        return None, errors
    return Fault(mode, tuple(params), frozenset(amcs), for_s), []


def parse_fault(d: dict) -> Fault:
    """One fault as the control API receives it: {"mode": "errors", "rate": 0.3, "for_s": 60}."""
    fault, errors = _check_fault(d, "", frozenset())
    if errors:
        raise PlanError(errors)
    return fault


def parse_timeline(d: dict, started_at: float, seed: int) -> FaultPlan:
    """{"steps": [{"at_s": 0, "mode": "down"}, ...]}; at_s strictly increasing."""
    if not isinstance(d, dict):
        raise PlanError([("", "must be an object with a list of steps")])
    errors = [(f"/{_ptr(k)}", "unknown key") for k in d if k != "steps"]
    raw = d.get("steps")
    if not isinstance(raw, list) or not raw:
        raise PlanError(errors + [("/steps", "must be a non-empty list")])
    steps, previous = [], None
    for i, sd in enumerate(raw):
        fault, errs = _check_fault(sd, f"/steps/{i}", frozenset({"at_s"}))
        errors += errs
        at_s = sd.get("at_s") if isinstance(sd, dict) else None
        if at_s is None or _number()(at_s)[1]:
            errors.append((f"/steps/{i}/at_s", "is required" if at_s is None else "must be a number >= 0"))
            continue
        if previous is not None and at_s <= previous:
            errors.append((f"/steps/{i}/at_s", f"steps must be sorted: {at_s} is not after {previous}"))
        previous = at_s
        if fault is not None:
            steps.append(Step(at_s, fault))
    if errors:
        raise PlanError(errors)
    return FaultPlan(float(started_at), tuple(steps), int(seed))


def plan_from_json(d: dict) -> FaultPlan:
    """Read back what `FaultPlan.to_json` stored (the file or row every process shares)."""
    try:
        started_at, seed, steps = float(d["started_at"]), int(d["seed"]), d["steps"]
    except (KeyError, TypeError, ValueError) as e:
        raise PlanError([("", f"not a stored plan: {e!r}")]) from None
    return parse_timeline({"steps": steps}, started_at, seed)


def single_fault_plan(fault: Fault, started_at: float, seed: int) -> FaultPlan:
    """A plan of one fault from now on; its `for_s` becomes an explicit `up` step."""
    steps = (Step(0.0, fault),) + ((Step(fault.for_s, UP),) if fault.for_s is not None else ())
    return FaultPlan(float(started_at), steps, seed)


# --- which fault is in force ---

def fault_at(plan: FaultPlan, now: float) -> tuple[Fault, float]:
    """The fault in force at `now` and since when (epoch); `flap` resolves to down or up."""
    elapsed = now - plan.started_at
    i = bisect.bisect_right(plan.steps, elapsed, key=lambda s: s.at_s)
    if i == 0:
        return UP, plan.started_at
    step = plan.steps[i - 1]
    fault, begun = step.fault, plan.started_at + step.at_s
    if fault.for_s is not None and now >= begun + fault.for_s:
        return UP, begun + fault.for_s
    if fault.mode == "flap":
        down_s, up_s = fault.param("down_s"), fault.param("up_s")
        cycles, into = divmod(now - begun, down_s + up_s)
        cycle_start = begun + cycles * (down_s + up_s)
        return (DOWN, cycle_start) if into < down_s else (UP, cycle_start + down_s)
    return fault, begun


def transport_action(plan: FaultPlan, now: float) -> str:
    """What the proxy does now: "pass", "refuse", "blackhole" or "reset"."""
    return _TRANSPORT_ACTIONS.get(fault_at(plan, now)[0].mode, "pass")


def applied_history(plan: FaultPlan, now: float) -> list[dict[str, Any]]:
    """Steps that took effect by `now`, absolute times; `until` is None while in force.

    A step whose `for_s` ran out before the next step adds an `up` entry, so the shaded
    periods of a report tile the run. A flap is one entry (its phases follow from it).
    """
    out = []
    for i, step in enumerate(plan.steps):
        at = plan.started_at + step.at_s
        if at > now:
            break
        next_at = plan.started_at + plan.steps[i + 1].at_s if i + 1 < len(plan.steps) else math.inf
        expiry = at + step.fault.for_s if step.fault.for_s is not None else math.inf
        end = min(next_at, expiry)
        out.append({**step.fault.to_json(), "at": at, "until": end if end <= now else None,
                    "amcs": sorted(step.fault.amcs)})
        if expiry < next_at and expiry <= now:
            out.append({"mode": "up", "at": expiry, "until": next_at if next_at <= now else None, "amcs": []})
    return out


# --- what an HTTP-level fault does to one request ---

@dataclass(frozen=True)
class Action:
    kind: str  # "pass" | "delay" (then pass) | "status" | "malformed"
    delay_ms: float = 0.0
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    malformed: str | None = None  # "empty" | "truncated"


PASS = Action("pass")


def _uniform(seed: int, request_key: str, purpose: str) -> float:
    """A float in [0, 1) fixed by (seed, purpose, request key): replayable, no shared RNG state."""
    digest = hashlib.blake2b(f"{seed}|{purpose}|{request_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _errors(f: Fault, draw: Callable[[str], float]) -> Action:
    if draw("rate") >= f.param("rate"):
        return PASS
    statuses = f.param("status") if isinstance(f.param("status"), tuple) else (f.param("status"),)
    return Action("status", status=statuses[int(draw("status") * len(statuses))])


def _throttle(f: Fault, draw: Callable[[str], float]) -> Action:
    if draw("rate") >= f.param("rate"):
        return PASS
    return Action("status", status=429, headers=(("Retry-After", str(f.param("retry_after"))),))


def _malformed(f: Fault, draw: Callable[[str], float]) -> Action:
    return Action("malformed", malformed=f.param("kind")) if draw("rate") < f.param("rate") else PASS


def _latency(f: Fault, draw: Callable[[str], float]) -> Action:
    return Action("delay", delay_ms=f.param("ms") + draw("jitter") * f.param("jitter_ms"))


_HTTP = {"latency": _latency, "errors": _errors, "throttle": _throttle, "malformed": _malformed}


def http_action(fault: Fault, seed: int, request_key: str, amc: str | None) -> Action:
    """What `fault` does to the request `request_key` (stable per request, e.g. its id).

    A fault limited to AMCs passes requests for other AMCs and requests with no AMC
    (health, keys). Transport modes pass here: the proxy has already acted on them.
    """
    if fault.amcs and amc not in fault.amcs:
        return PASS
    handler = _HTTP.get(fault.mode)
    return handler(fault, lambda purpose: _uniform(seed, request_key, purpose)) if handler else PASS
