"""`python -m simulator serve | cards | accounts | keys | sandbox | chaos ...`"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from .settings import Settings, from_env


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--beneficiaries", type=int, default=None)


def _settings(args) -> Settings:
    s = from_env()
    if args.seed is not None:
        s = replace(s, seed=args.seed)
    if getattr(args, "beneficiaries", None) is not None:
        s = replace(s, beneficiaries=args.beneficiaries)
    return s


def _sandbox(args) -> int:
    import os

    import requests
    token = args.token or os.environ.get("SIM_ADMIN_TOKEN")
    if not token:
        print("sandbox: no admin token; pass --token or set SIM_ADMIN_TOKEN", file=sys.stderr)
        return 2
    try:
        r = requests.post(args.control.rstrip("/") + "/v1/sandbox/reset", headers={"Authorization": f"Bearer {token}"},
                          timeout=30)
    except OSError as e:
        print(f"sandbox: {e}", file=sys.stderr)
        return 1
    if r.status_code >= 400:
        print(f"sandbox: {r.status_code} {r.text}", file=sys.stderr)
        return 1
    print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in r.json().items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description="Tiers-payant platform simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the platform (gunicorn behind the fault proxy)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--control-host", default=None, help="control API address (default 127.0.0.1)")
    serve.add_argument("--control-port", type=int, default=None)
    serve.add_argument("--state-dir", default=None)
    serve.add_argument("--workers", type=int, default=None)
    serve.add_argument("--detection", choices=["on", "off"], default=None, help="enumeration detection")
    serve.add_argument("--reset-state", action="store_true",
                       help="delete the state directory's platform state first (another population's, say)")
    _common(serve)
    from .trust_cli import add_arguments
    add_arguments(sub)
    sandbox = sub.add_parser("sandbox", help="sandbox controls through the control API")
    sandbox.add_argument("action", choices=["reset"], help="reset: forget PECs, consumption and suspensions")
    sandbox.add_argument("--control", default="http://127.0.0.1:8082", help="control API URL")
    sandbox.add_argument("--token", default=None, help="admin token (default: $SIM_ADMIN_TOKEN)")
    chaos = sub.add_parser("chaos", help="inject faults through the control API")
    from .faults.cli import add_chaos_arguments
    add_chaos_arguments(chaos)
    args = parser.parse_args(argv)

    if args.command == "serve":
        s = _settings(args)
        for flag, name in (("host", "host"), ("port", "port"), ("control_host", "control_host"),
                           ("control_port", "control_port"), ("state_dir", "state_dir"), ("workers", "workers")):
            if getattr(args, flag) is not None:
                s = replace(s, **{name: getattr(args, flag)})
        if args.detection is not None:
            s = replace(s, detection=args.detection == "on")
        from .serve import serve as run
        return run(s, reset_state=args.reset_state)
    if args.command in ("accounts", "cards", "keys"):
        from .trust_cli import run as run_trust
        return run_trust(args.command, from_env(), args)
    if args.command == "sandbox":
        return _sandbox(args)
    from .faults.cli import run_chaos
    return run_chaos(args)
