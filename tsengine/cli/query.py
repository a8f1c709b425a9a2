"""Query a durable engine directory or a running server: read, latest, aggregate.

Prints the result as a table (the first --limit rows), or writes every row to --out
(.csv or .parquet). Times are ISO 8601 (2024-01-01T00:00:00Z), int ns, or relative
to now (-15m). --data opens the directory read-write, so not while a server or a
demo has it open: use --url then.

examples:
  tsengine query tables --data plant.tse
  tsengine query latest vibration --url grpc://127.0.0.1:8815
  tsengine query read turbofan --data plant.tse --where unit=7 --fields sensor11
  tsengine query aggregate vibration --data plant.tse --every 1s \\
      --aggs accel:mean,max,p99 --by asset --start -10m --out kpis.parquet
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

HELP = "read, latest or aggregate from --data DIR or --url"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tsengine query``."""
    parser.add_argument("kind", choices=["read", "latest", "aggregate", "tables"])
    parser.add_argument("table", nargs="?", help="table or rollup name")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", metavar="DIR", help="durable engine directory")
    source.add_argument("--url", help="tsengine Flight server, grpc://host:port")
    parser.add_argument(
        "--token-env",
        metavar="VAR",
        default="TSENGINE_TOKEN",
        help="environment variable with a bearer token for --url",
    )
    parser.add_argument("--start", help="first time (inclusive)")
    parser.add_argument("--end", help="last time (exclusive)")
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="TAG=VALUE",
        help="tag filter; repeat for several tags, VALUE may be a,b,c",
    )
    parser.add_argument("--fields", metavar="A,B", help="fields to return")
    parser.add_argument("-n", type=int, default=1, help="latest: points per series")
    parser.add_argument("--every", help="aggregate: window step, e.g. 1s, 15m, 1d")
    parser.add_argument(
        "--aggs",
        action="append",
        default=[],
        metavar="FIELD:AGG,AGG",
        help="aggregate: e.g. accel:mean,max,p99; repeat per field",
    )
    parser.add_argument("--by", metavar="TAG,TAG", help="aggregate: group by tags")
    parser.add_argument("--fill", help="aggregate: none, previous, linear or a number")
    parser.add_argument("--tz", help="aggregate: zone of calendar windows")
    parser.add_argument(
        "--out", metavar="FILE", help="write every row to FILE (.csv or .parquet)"
    )
    parser.add_argument(
        "--limit", type=int, default=20, help="rows printed (default: 20)"
    )


def _time(text: str | None):
    if text is None:
        return None
    return int(text) if re.fullmatch(r"[-+]?\d+", text) else text


def _where(items: list[str]) -> dict | None:
    where: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--where {item!r} must look like TAG=VALUE")
        values = value.split(",")
        where[key] = values[0] if len(values) == 1 else values
    return where or None


def _aggs(items: list[str]) -> dict:
    aggs: dict = {}
    for item in items:
        name, sep, funcs = item.partition(":")
        if not sep or not name or not funcs:
            raise ValueError(f"--aggs {item!r} must look like FIELD:AGG,AGG")
        aggs.setdefault(name, []).extend(f for f in funcs.split(",") if f)
    return aggs


def _fill(text: str | None):
    if text is None or text in ("none", "previous", "linear"):
        return text
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"--fill {text!r} must be none, previous, linear or a number"
        ) from None


def execute(target, args: argparse.Namespace):
    """Run the query on an engine or a client; returns a pyarrow Table or a list."""
    if args.kind == "tables":
        return target.tables()
    if not args.table:
        raise ValueError(f"tsengine query {args.kind} needs a TABLE")
    fields = [f for f in (args.fields or "").split(",") if f] or None
    where = _where(args.where)
    if args.kind == "read":
        return target.read(
            args.table,
            start=_time(args.start),
            end=_time(args.end),
            where=where,
            fields=fields,
        )
    if args.kind == "latest":
        return target.latest(args.table, where=where, n=args.n, fields=fields)
    aggs = _aggs(args.aggs)
    if not aggs or not args.every:
        raise ValueError("aggregate needs --every and at least one --aggs FIELD:AGG")
    options = {"every": args.every, "aggs": aggs, "where": where}
    options.update(start=_time(args.start), end=_time(args.end))
    if args.by:
        options["by"] = [t for t in args.by.split(",") if t]
    if args.fill is not None:
        options["fill"] = _fill(args.fill)
    if args.tz:
        options["tz"] = args.tz
    return target.aggregate(args.table, **options)


def write_out(table, path: str) -> None:
    """Write ``table`` to ``path``: CSV (ISO times) or Parquet, by suffix."""
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
    else:
        raise ValueError(f"--out {path!r} must end in .csv or .parquet")


def print_table(table, limit: int, stream=None) -> None:
    """Print the first ``limit`` rows with rich (or plain text when not a TTY)."""
    stream = stream or sys.stdout
    shown = table.slice(0, max(limit, 0))
    columns = shown.column_names
    rows = [
        ["" if v is None else str(v) for v in row]
        for row in zip(*(shown.column(c).to_pylist() for c in columns))
    ]
    if stream.isatty():
        from rich.console import Console
        from rich.table import Table

        out = Table()
        for c in columns:
            out.add_column(c)
        for row in rows:
            out.add_row(*row)
        Console(file=stream).print(out)
    else:
        widths = [
            max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)
        ]
        print("  ".join(c.ljust(w) for c, w in zip(columns, widths)), file=stream)
        for row in rows:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths)), file=stream)
    if table.num_rows > shown.num_rows:
        print(
            f"... {table.num_rows - shown.num_rows:,} more rows (--limit, --out)",
            file=stream,
        )
    print(f"{table.num_rows:,} rows", file=stream)


def run(args: argparse.Namespace) -> int:
    """Open the source, run the query, print or write the result."""
    import tsengine

    if args.out and Path(args.out).suffix.lower() not in (".csv", ".parquet"):
        print(
            f"tsengine query: error: --out {args.out!r} must end in .csv or .parquet",
            file=sys.stderr,
        )
        return 2
    if args.data:
        if not Path(args.data).is_dir():
            print(
                f"tsengine query: error: no engine directory {args.data!r}",
                file=sys.stderr,
            )
            return 2
        target = tsengine.Engine(args.data)
    else:
        token = os.environ.get(args.token_env) if args.token_env else None
        target = tsengine.connect(args.url, token=token)
    try:
        result = execute(target, args)
    except (ValueError, TypeError, KeyError) as exc:
        print(f"tsengine query: error: {exc}", file=sys.stderr)
        return 2
    finally:
        target.close()
    if isinstance(result, list):
        print("\n".join(result))
        return 0
    if args.out:
        write_out(result, args.out)
        print(f"wrote {result.num_rows:,} rows to {args.out}")
        return 0
    print_table(result, args.limit)
    return 0
