"""`python -m simulator chaos MODE [options] | timeline FILE | status`: a client of the control API.

Options map one to one onto the fault's JSON (`--for` is `for_s`, `--amc` repeats into
`amcs`); only the options given are sent, so the control API is the one judge of what a
mode accepts, and its problem documents are printed as they come.
"""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path

from .plan import MODES

DEFAULT_CONTROL = "http://127.0.0.1:8082"
# (flag, JSON key, type, help); the options, then those some modes need (malformed, flap, replay).
OPTIONS = (("--ms", "ms", float, "latency: fixed delay; each request waits ms + uniform(0, jitter_ms)"),
           ("--jitter-ms", "jitter_ms", float, "latency: upper bound of the uniform jitter (default 0)"),
           ("--rate", "rate", float, "errors, throttle, malformed: share of requests hit, 0-1 (default 1)"),
           ("--status", "status", int, "errors: 500, 502, 503 or 504 (default 503)"),
           ("--retry-after", "retry_after", int, "throttle: Retry-After seconds (default 1)"),
           ("--for", "for_s", float, "seconds until the platform is up again (default: until changed)"),
           ("--kind", "kind", str, "malformed: empty or truncated"),
           ("--down-s", "down_s", float, "flap: seconds down in each cycle"),
           ("--up-s", "up_s", float, "flap: seconds up in each cycle"),
           ("--seed", "seed", int, "seed of random choices (default: the platform's)"))


def add_chaos_arguments(p) -> None:
    p.add_argument("mode", choices=[*MODES, "timeline", "status"], help="a fault mode, `timeline FILE` or `status`")
    p.add_argument("file", nargs="?", help="timeline file (YAML or JSON): {steps: [{at_s: 0, mode: down}, ...]}")
    for flag, key, kind, text in OPTIONS:
        p.add_argument(flag, dest=key, type=kind, default=None, help=text)
    p.add_argument("--amc", dest="amcs", nargs="+", action="extend", default=None, metavar="NUMBER",
                   help="limit an HTTP-level fault to these AMCs (9 digits)")
    p.add_argument("--control", default=DEFAULT_CONTROL, help=f"control API URL (default {DEFAULT_CONTROL})")
    p.add_argument("--token", default=None, help="admin token (default: $SIM_ADMIN_TOKEN)")


def fault_body(args) -> dict:
    """The JSON posted to /v1/faults: the mode and the options given, nothing else."""
    body = {"mode": args.mode}
    body.update((key, getattr(args, key)) for _, key, _, _ in OPTIONS if getattr(args, key) is not None)
    if args.amcs:
        body["amcs"] = list(args.amcs)
    return body


def load_timeline(path: str) -> dict:
    """A timeline file; JSON by extension, else YAML (which reads most JSON too)."""
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".json"):
        return json.loads(text)
    import yaml
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not YAML: {e}") from None


def problem_text(status: int, text: str) -> str:
    """A problem document's detail and field errors, one per line (or the raw text if not one)."""
    try:
        doc = json.loads(text)
        lines = [f"error {status} {doc.get('code', '')}: {doc.get('detail', '')}"]
        lines += [f"  {e.get('path') or '/'}: {e.get('message')}" for e in doc.get("errors") or []]
        return "\n".join(lines)
    except (ValueError, AttributeError):
        return f"error {status}: {text[:500]}"


def _when(epoch: float | None) -> str:
    return "-" if epoch is None else datetime.fromtimestamp(epoch).isoformat(timespec="milliseconds")


def _describe(fault: dict) -> str:
    params = " ".join(f"{k}={json.dumps(v)}" for k, v in fault.items()
                      if k not in ("mode", "at", "until") and v != [])
    return f"{fault['mode']} {params}".strip()


def status_text(state: dict) -> str:
    lines = [f"current: {_describe(state['current'])} since {_when(state['since'])}", "history:"]
    lines += [f"  {_when(h['at'])} -> {_when(h['until']) if h['until'] else 'now':23}  {_describe(h)}"
              for h in state["history"]] or ["  (none)"]
    return "\n".join(lines)


def run_chaos(args) -> int:
    import requests
    token = args.token or os.environ.get("SIM_ADMIN_TOKEN")
    if not token:
        print("chaos: no admin token; pass --token or set SIM_ADMIN_TOKEN", file=sys.stderr)
        return 2
    if (args.mode == "timeline") != (args.file is not None):
        print("chaos: FILE goes with `timeline` and only with it", file=sys.stderr)
        return 2
    base, auth = args.control.rstrip("/"), {"Authorization": f"Bearer {token}"}
    try:
        if args.mode == "status":
            r = requests.get(base + "/v1/faults", headers=auth, timeout=10)
        elif args.mode == "timeline":
            r = requests.post(base + "/v1/faults/timeline", json=load_timeline(args.file), headers=auth, timeout=10)
        else:
            r = requests.post(base + "/v1/faults", json=fault_body(args), headers=auth, timeout=10)
    except (OSError, ValueError) as e:  # unreachable API, unreadable or unparsable file
        print(f"chaos: {e}", file=sys.stderr)
        return 1
    if r.status_code >= 400:
        print(problem_text(r.status_code, r.text), file=sys.stderr)
        return 1
    print(status_text(r.json()))
    return 0
