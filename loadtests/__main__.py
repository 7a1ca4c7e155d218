"""`python -m loadtests run | demo | list | live | report | stop` (what `make load`, `make demo`
and `make stop` call)."""
from __future__ import annotations

import argparse
import sys


def _list() -> int:
    from loadtests.scenarios import load, names
    for name in names():
        s = load(name)
        print(f"{name}  ({s.duration_s:g} s, up to {s.peak_users} users)")
        for p in s.phases:
            print(f"    phase {p.name:10} {p.duration_s:5g} s  {p.users:3} users  platform {p.mode} ({p.kind})")
        for slo in s.slos:
            print(f"    SLO   {slo.key} {slo.op} {slo.target:g}  ({slo.name})")
    return 0


def _target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gateway-url", default=None, help="drive this gateway (default: $GATEWAY_URL, else ours)")
    p.add_argument("--platform-url", default=None, help="its platform (default: $PLATFORM_URL, else ours)")
    p.add_argument("--control-url", default=None, help="the platform's control API (default: $CONTROL_URL)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests", description="Load scenarios, reports, demo")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="one headless run: report in reports/, exit 1 when an SLO fails")
    run.add_argument("--scenario", default="outage", help="a name from `list`, or a path to a scenario .py file")
    run.add_argument("--resilience", choices=["full", "naive"], default="full")
    run.add_argument("--users", type=int, default=None, help="peak users (the phases scale with it)")
    run.add_argument("--duration", default=None, help="total length, e.g. 90, 90s, 2m (phases scale)")
    run.add_argument("--workers", type=int, default=0, help="Locust master + N local worker processes")
    run.add_argument("--detection", choices=["on", "off"], default="on",
                     help="the platform's enumeration detection; off always starts a platform of its own")
    _target_args(run)
    demo = sub.add_parser("demo", help="the classroom story: outage in full mode, then naive")
    demo.add_argument("--duration", default=None, help="length of the full-mode run (default 80s)")
    sub.add_parser("list", help="the scenarios, their phases and SLOs")
    sub.add_parser("stop", help="stop what an earlier run of this tool started and left (pid files in var/)")
    report = sub.add_parser("report", help="build the report from a master's capture (cluster runs)")
    report.add_argument("folder")
    report.add_argument("--scenario", required=True)
    report.add_argument("--resilience", default="full")
    report.add_argument("--duration", default=None, help="as given to the master, if any")
    report.add_argument("--users", type=int, default=None, help="as given to the master, if any")
    live = sub.add_parser("live", help="Locust's web UI and the classroom page, platform and gateway started")
    live.add_argument("--scenario", default="classroom")
    live.add_argument("--web-port", type=int, default=8089, help="Locust's web UI (127.0.0.1)")
    live.add_argument("--live-port", type=int, default=8090, help="the classroom page (127.0.0.1)")
    args = parser.parse_args(argv)

    from loadtests.scenario_check import ScenarioError
    from loadtests.scenarios import load, parse_duration, scaled
    try:
        if args.command == "list":
            return _list()
        if args.command == "stop":
            from loadtests.owned import stop_all
            stop_all()
            return 0
        if args.command in ("run", "report", "live"):
            scenario = load(args.scenario)  # refused here, before anything starts
            if args.command != "live":
                scaled(scenario, parse_duration(args.duration), args.users)
    except (KeyError, ValueError) as e:  # ScenarioError is a ValueError
        text = e.args[0] if isinstance(e, KeyError) else str(e)
        parser.exit(2, f"{parser.prog}: {'invalid scenario' if isinstance(e, ScenarioError) else 'error'}:\n{text}\n")
    if args.command == "report":
        from pathlib import Path

        from loadtests.run import summarize, verdict_lines
        summary = summarize(Path(args.folder), scaled(scenario, parse_duration(args.duration), args.users),
                            args.resilience)
        print("\n".join(verdict_lines(summary)))
        return 0 if summary["slo_pass"] else 1
    if args.command == "live":
        from loadtests.live import live_ui
        return live_ui(args.scenario, args.web_port, args.live_port)
    if args.command == "demo":
        from loadtests.demo import main as demo_main
        return demo_main(args.duration)
    from loadtests.run import RunOptions, main as run_main
    return run_main(RunOptions(args.scenario, args.resilience, args.users, args.duration, args.workers,
                               detection=args.detection, gateway_url=args.gateway_url,
                               platform_url=args.platform_url, control_url=args.control_url))


if __name__ == "__main__":
    sys.exit(main())
