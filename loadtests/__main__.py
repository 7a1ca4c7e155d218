"""`python -m loadtests run | demo | list` (what `make load` and `make demo` call)."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests", description="Load scenarios, reports, demo")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="one headless run: report in reports/, exit 1 when an SLO fails")
    run.add_argument("--scenario", default="outage")
    run.add_argument("--resilience", choices=["full", "naive"], default="full")
    run.add_argument("--users", type=int, default=None, help="peak users (the phases scale with it)")
    run.add_argument("--duration", default=None, help="total length, e.g. 90, 90s, 2m (phases scale)")
    run.add_argument("--workers", type=int, default=0, help="Locust master + N local worker processes")
    run.add_argument("--detection", choices=["on", "off"], default="on",
                     help="the platform's enumeration detection; off always starts a platform of its own")
    demo = sub.add_parser("demo", help="the classroom story: outage in full mode, then naive")
    demo.add_argument("--duration", default=None, help="length of the full-mode run (default 80s)")
    sub.add_parser("list", help="the scenarios and their phases")
    report = sub.add_parser("report", help="build the report from a master's capture (cluster runs)")
    report.add_argument("folder")
    report.add_argument("--scenario", required=True)
    report.add_argument("--resilience", default="full")
    report.add_argument("--duration", default=None, help="as given to the master, if any")
    report.add_argument("--users", type=int, default=None, help="as given to the master, if any")
    live = sub.add_parser("live", help="Locust's web UI with the /live page, platform and gateway started")
    live.add_argument("--scenario", default="classroom")
    live.add_argument("--web-port", type=int, default=8089, help="Locust's web UI (127.0.0.1)")
    live.add_argument("--live-port", type=int, default=8090, help="the classroom page (127.0.0.1)")
    args = parser.parse_args(argv)

    if args.command == "list":
        from loadtests.scenarios import load, names
        for name in names():
            s = load(name)
            phases = ", ".join(f"{p.name} {p.duration_s:g}s/{p.users}u/{p.mode}" for p in s.phases)
            print(f"{name:16} {s.duration_s:5.0f} s  {phases}")
        return 0
    if args.command == "report":
        from pathlib import Path

        from loadtests.run import summarize, verdict_lines
        from loadtests.scenarios import load, parse_duration, scaled
        scenario = scaled(load(args.scenario), parse_duration(args.duration), args.users)
        summary = summarize(Path(args.folder), scenario, args.resilience)
        print("\n".join(verdict_lines(summary)))
        return 0 if summary["slo_pass"] else 1
    if args.command == "live":
        from loadtests.live import live_ui
        return live_ui(args.scenario, args.web_port, args.live_port)
    if args.command == "demo":
        from loadtests.demo import main as demo_main
        return demo_main(args.duration)
    from loadtests.run import RunOptions, main as run_main
    from loadtests.scenarios import names
    if args.scenario.replace("_", "-") not in names():
        parser.error(f"unknown scenario {args.scenario!r}; known: {', '.join(names())}")
    return run_main(RunOptions(args.scenario, args.resilience, args.users, args.duration, args.workers,
                               detection=args.detection))


if __name__ == "__main__":
    sys.exit(main())
