"""`python -m gateway serve [--host] [--port] [--platform] [--journal] [--resilience] [--workers]`."""
from __future__ import annotations

import argparse
from dataclasses import replace

from gateway.settings import from_env, journal_location


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway", description="Tiers-payant eligibility gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway under gunicorn")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--platform", default=None, help="platform base URL (default http://127.0.0.1:8081)")
    serve.add_argument("--journal", default=None,
                       help="a SQLite path (or sqlite:///path; the default) or postgresql://user@host/db, "
                            "shared by replicas")
    serve.add_argument("--state-dir", default=None,
                       help="this replica's local state (breaker, caches, leader lock); default: beside the SQLite path")
    serve.add_argument("--resilience", choices=["full", "naive"], default=None)
    serve.add_argument("--workers", type=int, default=None)
    serve.add_argument("--threads", type=int, default=None)
    serve.add_argument("--client-id", default=None, help="the service account at the platform (default gw-1)")
    serve.add_argument("--client-secret-file", default=None,
                       help="a file holding its secret (`python -m simulator accounts --service gw-1 --secret-file F`)")
    args = parser.parse_args(argv)
    s = from_env()
    for flag, name in (("host", "host"), ("port", "port"), ("platform", "platform_url"),
                       ("state_dir", "local_state_dir"), ("resilience", "resilience"), ("workers", "workers"),
                       ("threads", "threads"), ("client_id", "client_id"),
                       ("client_secret_file", "client_secret_file")):
        if getattr(args, flag) is not None:
            s = replace(s, **{name: getattr(args, flag)})
    if args.journal is not None:
        s = journal_location(args.journal, s)
    s = replace(s, platform_url=s.platform_url.rstrip("/"))
    from gateway.serve import serve as run
    return run(s)
