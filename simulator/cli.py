"""`python -m simulator serve | cards | accounts | sandbox | chaos ...`"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from datetime import date

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


def _cards(args) -> int:
    from .catalogue import CASE_NAMES, case_table, cases, cases_of
    from .population import Population
    s = _settings(args)
    today = args.date or s.today()
    pop = Population(seed=s.seed, size=s.contracts, amc_count=s.amc_count, reference_date=s.today())
    if args.list_cases:
        rows = case_table(pop, s.seed, today)
        sys.stdout.write(f"{'case':<26}{'domain':<8}{'rights check':<38}PEC (fresh state)\n")
        for r in rows:
            sys.stdout.write(f"{r['case']:<26}{r['domain'] or '-':<8}{r['eligibility']:<38}{r['pec']}\n")
        return 0
    if args.case is not None and args.case not in CASE_NAMES:
        print(f"cards: unknown case {args.case!r}; `--list-cases` shows them: {', '.join(CASE_NAMES)}", file=sys.stderr)
        return 2
    found = (cases_of(pop, s.seed, today, args.case, args.count or 1) if args.case
             else cases(pop, s.seed, today, args.count or 20))
    for case in found:
        sys.stdout.write(json.dumps(case, ensure_ascii=False) + "\n")
    return 0


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
    cards = sub.add_parser("cards", help="sandbox test cases with their expected answers (JSON Lines)")
    cards.add_argument("--count", type=int, default=None, help="how many cases (default 20, or 1 with --case)")
    cards.add_argument("--case", default=None, metavar="NAME", help="only cases of this kind, e.g. card-revoked")
    cards.add_argument("--list-cases", action="store_true", help="print each case name with its expected answers")
    cards.add_argument("--date", type=date.fromisoformat, default=None, help="the day the expectations hold")
    _common(cards)
    sandbox = sub.add_parser("sandbox", help="sandbox controls through the control API")
    sandbox.add_argument("action", choices=["reset"], help="reset: forget PECs, consumption and suspensions")
    sandbox.add_argument("--control", default="http://127.0.0.1:8082", help="control API URL")
    sandbox.add_argument("--token", default=None, help="admin token (default: $SIM_ADMIN_TOKEN)")
    accounts = sub.add_parser("accounts", help="sandbox professional accounts (JSON Lines)")
    accounts.add_argument("--count", type=int, default=10)
    accounts.add_argument("--seed", type=int, default=None)
    accounts.add_argument("--service", metavar="CLIENT_ID", default=None,
                          help="print a gateway service account (gw-1, gw-2...) as GW_CLIENT_ID/GW_CLIENT_SECRET lines")
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
    if args.command == "cards":
        return _cards(args)
    if args.command == "sandbox":
        return _sandbox(args)
    if args.command == "accounts":
        from .accounts import account
        s = _settings(args)
        if args.service:
            from .api.auth import gateway_account
            svc = gateway_account(s.seed, args.service)
            if svc is None:
                print("error: a service account is gw-<number>, e.g. gw-1", file=sys.stderr)
                return 2
            sys.stdout.write(f"GW_CLIENT_ID={svc.client_id}\nGW_CLIENT_SECRET={svc.client_secret}\n")
            return 0
        for k in range(args.count):
            a = account(s.seed, k)
            sys.stdout.write(json.dumps({"client_id": a.client_id, "client_secret": a.client_secret,
                                         "profession": a.profession, "rpps": a.rpps}) + "\n")
        return 0
    from .faults.cli import run_chaos
    return run_chaos(args)
