"""Ingest files into a durable engine directory or a running tsengine server.

Formats come from the file name: line protocol (.lp, .txt, .line), CSV (.csv, .tsv)
and Parquet (.parquet, .pq), each optionally gzipped; --format overrides. For CSV,
the layout of the public datasets is recognised from the first line (--preset auto):
NAB (timestamp,value), SKAB (datetime;... with ';' separators) and the header-less,
space-separated NASA C-MAPSS files; any CSV option given replaces the guessed one.
Tables that do not exist yet are created with the file's tags and field types and the
--duplicates policy.

examples:
  tsengine ingest plant.lp --data plant.tse
  tsengine ingest nab/realKnownCause/*.csv --data plant.tse --duplicates keep
  tsengine ingest skab/valve1/*.csv --url grpc://127.0.0.1:8815
  tsengine ingest train_FD001.txt.gz --data plant.tse          # C-MAPSS, guessed
  tsengine ingest log.csv --data plant.tse --time-column ts --time-unit s \\
      --tags site,asset --separator ';' --tz Europe/Berlin
  tsengine ingest raw.txt --format csv --no-header --columns ts,asset,v \\
      --time-column ts --time-unit ms --tags asset --separator whitespace --data d
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tsengine.cli.fileoptions import add_source_arguments, source_options

HELP = "ingest line protocol, CSV or Parquet files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``tsengine ingest``."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="files to ingest")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--data", metavar="DIR", help="durable engine directory")
    target.add_argument("--url", help="tsengine Flight server, grpc://host:port")
    parser.add_argument(
        "--token-env",
        metavar="VAR",
        default="TSENGINE_TOKEN",
        help="environment variable holding a bearer token for --url "
        "(default: TSENGINE_TOKEN)",
    )
    add_source_arguments(parser)
    parser.add_argument(
        "--duplicates",
        choices=["last", "first", "keep", "reject"],
        default="last",
        help="duplicate (series, time) policy of tables this creates (default: last)",
    )
    parser.add_argument(
        "--durability",
        choices=["sync", "interval", "none"],
        default="interval",
        help="durability of the --data engine (default: interval)",
    )
    parser.add_argument(
        "--batch-rows",
        type=int,
        default=1 << 18,
        metavar="N",
        help="rows per write call (default: 262144)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar, even on a TTY"
    )
    parser.add_argument(
        "--summary-json", metavar="FILE", help="also write the summary as JSON"
    )


@dataclass
class TableSummary:
    """What was ingested into one table."""

    rows: int = 0
    points: int = 0
    series: set = field(default_factory=set)
    tmin: int | None = None
    tmax: int | None = None

    def add(self, chunk, tags: list[str]) -> None:
        import pyarrow.compute as pc

        self.rows += chunk.num_rows
        self.points += sum(
            len(c) - c.null_count
            for name, c in zip(chunk.column_names, chunk.columns)
            if name != "time" and name not in tags
        )
        if tags:
            keys = chunk.select(tags).group_by(tags).aggregate([])
            self.series.update(zip(*(keys.column(t).to_pylist() for t in tags)))
        elif chunk.num_rows:
            self.series.add(())
        if chunk.num_rows:
            bounds = pc.min_max(chunk.column("time").cast("int64")).as_py()
            lo, hi = bounds["min"], bounds["max"]
            self.tmin = lo if self.tmin is None else min(self.tmin, lo)
            self.tmax = hi if self.tmax is None else max(self.tmax, hi)


class _Target:
    """Where chunks go: an engine opened on --data, or a client of --url."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.duplicates = args.duplicates
        self.engine = self.client = None
        if args.data:
            from tsengine import Engine

            self.engine = Engine(args.data, durability=args.durability)
            self.known = set(self.engine.tables())
        else:
            import tsengine

            token = os.environ.get(args.token_env) if args.token_env else None
            self.client = tsengine.connect(args.url, token=token)
            self.known = set(self.client.tables())

    def write(self, table: str, chunk, tags: list[str]) -> None:
        from tsengine.schema import field_type_of

        if table not in self.known:
            fields = {
                f.name: field_type_of(f.type)
                for f in chunk.schema
                if f.name != "time" and f.name not in tags
            }
            fields = {k: v for k, v in fields.items() if v is not None}
            target = self.engine or self.client
            target.create_table(
                table, tags=tags, fields=fields, duplicates=self.duplicates
            )
            self.known.add(table)
        if self.engine is not None:
            self.engine.write(table, chunk, tags=tags)
        else:
            self.client.write(table, chunk, tags=tags)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
        if self.client is not None:
            self.client.flush()
            self.client.close()


def _progress(enabled: bool, total: int):
    """A rich progress bar over ``total`` bytes with a points/s column, or None."""
    if not enabled:
        return None
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        transient=True,
        console=None,
    )
    progress.start()
    progress.task = progress.add_task("ingest", total=total, rate="")
    return progress


class IngestFailed(Exception):
    """Ingest stopped at ``path`` because of ``error``; ``partial`` is the
    ``(tables, rejected, seconds)`` stored before it."""

    def __init__(self, path: str, error: Exception, partial: tuple) -> None:
        super().__init__(f"{path}: {error}")
        self.path, self.error, self.partial = path, error, partial


def ingest_files(paths: list[str], args: argparse.Namespace, show_progress=False):
    """Ingest ``paths``; returns ``(per-table summaries, rejected lines, seconds)``.

    Raises
    ------
    IngestFailed
        A file could not be read or stored; what was stored before stays.
    """
    from tsengine.ingest.shape import tag_columns
    from tsengine.ingest.sources import open_source

    tables: dict[str, TableSummary] = {}
    rejected: list[tuple[str, object]] = []
    total = sum(Path(p).stat().st_size for p in paths)
    progress = _progress(show_progress, total)
    target = _Target(args)
    start = time.perf_counter()
    done_bytes = points = 0
    path = paths[0]
    try:
        for path in paths:
            options = source_options(path, args)
            if options["format"] != "lineprotocol":
                options["batch_rows"] = args.batch_rows
            with open_source(path, **options) as source:
                for name, chunk in source:
                    tags = tag_columns(chunk)
                    target.write(name, chunk, tags)
                    summary = tables.setdefault(name, TableSummary())
                    before = summary.points
                    summary.add(chunk, tags)
                    points += summary.points - before
                    if progress is not None:
                        rate = points / max(time.perf_counter() - start, 1e-9)
                        progress.update(
                            progress.task,
                            completed=done_bytes + source.position_bytes,
                            description=Path(path).name,
                            rate=f"{rate / 1e6:.2f} M points/s",
                        )
                rejected += [(os.fspath(path), r) for r in source.rejected]
                done_bytes += source.size_bytes
    except (ValueError, TypeError, OSError) as exc:
        # tsengine errors subclass these too; say which file, keep the partial count
        raise IngestFailed(
            os.fspath(path), exc, (tables, rejected, time.perf_counter() - start)
        ) from exc
    finally:
        if progress is not None:
            progress.stop()
        target.close()
    return tables, rejected, time.perf_counter() - start


def _iso(ns: int | None) -> str:
    if ns is None:
        return "-"
    import pyarrow as pa

    return str(pa.scalar(ns, pa.timestamp("ns", tz="UTC")).as_py())


def summary_dict(tables: dict[str, TableSummary], rejected: list, seconds: float):
    """The summary as JSON-ready data (times as int ns and ISO text)."""
    points = sum(t.points for t in tables.values())
    return {
        "seconds": seconds,
        "rows": sum(t.rows for t in tables.values()),
        "points": points,
        "points_per_s": points / seconds if seconds else None,
        "tables": {
            name: {
                "rows": t.rows,
                "points": t.points,
                "series": len(t.series),
                "start_ns": t.tmin,
                "end_ns": t.tmax,
                "start": _iso(t.tmin),
                "end": _iso(t.tmax),
            }
            for name, t in tables.items()
        },
        "rejected": [
            {"file": f, "line": r.line, "column": r.column, "reason": r.reason}
            for f, r in rejected
        ],
    }


def print_summary(summary: dict, stream=None) -> None:
    """Print the ingest summary as a small table."""
    stream = stream or sys.stdout
    rate = summary["points_per_s"]
    print(
        f"ingested {summary['rows']:,} rows, {summary['points']:,} points in "
        f"{summary['seconds']:.2f} s"
        + (f" ({rate / 1e6:.2f} M points/s)" if rate else ""),
        file=stream,
    )
    width = max([len("table"), *(len(n) for n in summary["tables"])])
    print(
        f"  {'table':<{width}}  {'rows':>12}  {'points':>12}  {'series':>7}  "
        "time range",
        file=stream,
    )
    for name, t in summary["tables"].items():
        print(
            f"  {name:<{width}}  {t['rows']:>12,}  {t['points']:>12,}  "
            f"{t['series']:>7,}  {t['start']} .. {t['end']}",
            file=stream,
        )
    rejected = summary["rejected"]
    print(f"  rejected lines: {len(rejected)}", file=stream)
    for r in rejected[:10]:
        print(f"    {r['file']}:{r['line']}:{r['column']}: {r['reason']}", file=stream)
    if len(rejected) > 10:
        print(f"    ... and {len(rejected) - 10} more", file=stream)


def run(args: argparse.Namespace) -> int:
    """Ingest every file, then print the summary."""
    import json

    missing = [p for p in args.files if not Path(p).is_file()]
    if missing:
        print(f"tsengine ingest: error: no such file(s): {missing!r}", file=sys.stderr)
        return 2
    if args.batch_rows < 1:
        print(
            f"tsengine ingest: error: --batch-rows {args.batch_rows!r} must be >= 1",
            file=sys.stderr,
        )
        return 2
    show = not args.no_progress and sys.stderr.isatty()
    try:
        tables, rejected, seconds = ingest_files(args.files, args, show_progress=show)
    except IngestFailed as failed:
        if failed.partial[0]:  # say what was stored before the failure, if any
            print_summary(summary_dict(*failed.partial))
        print(f"tsengine ingest: error: {failed}", file=sys.stderr)
        return 2
    summary = summary_dict(tables, rejected, seconds)
    print_summary(summary)
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0
