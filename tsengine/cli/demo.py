"""Run the whole system for a while on real and synthetic plant data, then summarise.

With no arguments: opens a durable engine in a fresh temporary directory, serves it
over Arrow Flight on 127.0.0.1, replays the packaged NAB machine temperature series
and the NASA C-MAPSS FD001 turbofan fleet (time-compressed, original timestamps),
adds a synthetic vibration feed (64 assets x 20 kHz = 1.28 M points/s, one asset
with a growing bearing fault), maintains 1-second and 1-minute KPI rollups per asset,
and runs a consumer process that reads KPIs, latest values and raw ranges over
Flight. A live view shows the ingest rate, compression and KPIs; at the end come a
summary, summary.json and a PNG chart of the drifting asset's KPIs. The data
directory is kept: query it afterwards with `tsengine query ... --data DIR`.

examples:
  tsengine demo
  tsengine demo --duration 60 --data plant.tse --port 8815
  tsengine demo --replay ../shared/data/skab/valve1/*.csv
  tsengine demo --flat-out --duration 10      # write as fast as the engine takes it
"""

from __future__ import annotations

import argparse
import sys

HELP = "run the live demo: replay, vibration feed, rollups, Flight consumer"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tsengine demo``."""
    from tsengine.cli.fileoptions import add_source_arguments

    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds of ingest (default: 20)"
    )
    parser.add_argument(
        "--data", metavar="DIR", help="engine directory (default: OUT/data)"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="where summary.json and kpis.png go (default: a fresh temp directory)",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="Flight port on 127.0.0.1 (default: free)"
    )
    parser.add_argument(
        "--assets", type=int, default=64, help="vibration assets (default: 64)"
    )
    parser.add_argument(
        "--sample-rate",
        type=int,
        default=20_000,
        metavar="HZ",
        help="samples per second per asset; must divide 1e9 (default: 20000)",
    )
    parser.add_argument(
        "--flat-out",
        action="store_true",
        help="write the feed as fast as possible instead of at its sample rate",
    )
    parser.add_argument(
        "--durability",
        choices=["sync", "interval", "none"],
        default="interval",
        help="durability of the engine (default: interval)",
    )
    parser.add_argument(
        "--replay",
        nargs="+",
        default=[],
        metavar="PATH",
        help="also replay these files (line protocol, CSV, Parquet)",
    )
    parser.add_argument(
        "--chart", metavar="PNG", help="chart path (default: OUT/kpis.png)"
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="plain progress lines instead of the live view (default when not a TTY)",
    )
    add_source_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print its summary; 0 when the run completed."""
    from tsengine.cli.fileoptions import source_options
    from tsengine.demo.run import DemoConfig, run_demo
    from tsengine.demo.summary import summary_lines
    from tsengine.demo.view import make_view

    if args.duration <= 0:
        print(
            f"tsengine demo: error: --duration {args.duration!r} must be > 0",
            file=sys.stderr,
        )
        return 2
    if args.assets < 1:
        print(
            f"tsengine demo: error: --assets {args.assets!r} must be >= 1",
            file=sys.stderr,
        )
        return 2
    rate = args.sample_rate
    if rate < 1 or 1_000_000_000 % rate:
        # checked here, before the demo creates its directories
        print(
            f"tsengine demo: error: --sample-rate {rate!r} must be a positive "
            "divisor of 1e9 Hz (e.g. 1000, 20000, 50000), so samples fall on whole "
            "nanoseconds",
            file=sys.stderr,
        )
        return 2
    config = DemoConfig(
        duration=args.duration,
        data=args.data,
        out=args.out,
        port=args.port,
        assets=args.assets,
        sample_rate=args.sample_rate,
        flat_out=args.flat_out,
        durability=args.durability,
        replay=list(args.replay),
        replay_options=lambda path: source_options(path, args),
        chart=args.chart,
    )
    try:
        with make_view(True if args.plain else None) as view:
            summary = run_demo(config, view)
    except ValueError as exc:  # bad option values, unreadable replay files
        print(f"tsengine demo: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(summary_lines(summary)))
    consumer = summary.get("consumer") or {}
    if consumer.get("fatal"):
        return 1
    return 0
