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
import gzip
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HELP = "ingest line protocol, CSV or Parquet files"

_CSV_OPTIONS = (
    "time_column",
    "time_format",
    "time_unit",
    "time_origin",
    "tz",
    "tags",
    "separator",
    "column_names",
    "header",
    "table",
)
_NUMBER = re.compile(rb"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


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


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Format and CSV/line protocol options; shared with ``tsengine demo --replay``."""
    group = parser.add_argument_group("input format")
    group.add_argument("--format", choices=["lineprotocol", "csv", "parquet"])
    group.add_argument(
        "--preset",
        choices=["auto", "none", "nab", "skab", "cmapss"],
        default="auto",
        help="CSV layout of a public dataset family; auto guesses it from the first "
        "line (default: auto)",
    )
    group.add_argument("--table", help="table name (default: from the file name)")
    group.add_argument("--time-column", metavar="COL", help="CSV/Parquet time column")
    group.add_argument(
        "--time-format", metavar="FMT", help="strptime format of text times"
    )
    group.add_argument(
        "--time-unit",
        choices=["ns", "us", "ms", "s", "m", "h", "d"],
        help="unit of numeric times",
    )
    group.add_argument(
        "--time-origin",
        metavar="TIME",
        help="time of 0 for numeric times (ISO with zone, or int ns; default epoch)",
    )
    group.add_argument(
        "--tz", metavar="ZONE", help="IANA zone of naive times (default UTC)"
    )
    group.add_argument("--tags", metavar="A,B", help="comma-separated tag columns")
    group.add_argument(
        "--separator",
        metavar="SEP",
        help="CSV separator: one character, '\\t', or 'whitespace'",
    )
    group.add_argument(
        "--no-header", action="store_true", help="the CSV has no header line"
    )
    group.add_argument(
        "--columns", metavar="A,B,...", help="column names (with --no-header)"
    )
    group.add_argument(
        "--precision",
        choices=["ns", "us", "ms", "s", "m", "h"],
        help="line protocol timestamp unit (default ns)",
    )
    group.add_argument(
        "--on-error",
        choices=["raise", "skip"],
        default="raise",
        help="line protocol: stop at a bad line, or skip and report it",
    )


def guess_preset(path: str | os.PathLike) -> str | None:
    """``"nab"``, ``"skab"`` or ``"cmapss"`` if the first line of ``path`` looks like
    that dataset family, else None."""
    p = Path(path)
    opener = gzip.open if p.suffix.lower() == ".gz" else open
    try:
        with opener(p, "rb") as f:
            first = f.readline(4096).strip().lstrip(b"\xef\xbb\xbf")
    except (OSError, EOFError):
        return None
    if first == b"timestamp,value":
        return "nab"
    if first.startswith(b"datetime;"):
        return "skab"
    words = first.split()
    if len(words) == 26 and all(_NUMBER.match(w) for w in words):
        return "cmapss"
    return None


def source_options(path: str | os.PathLike, args: argparse.Namespace) -> dict:
    """:func:`tsengine.ingest.sources.open_source` options for ``path`` from the
    command line: the preset's (given or guessed), then every explicit option."""
    options: dict = {}
    explicit = {
        "time_column": args.time_column,
        "time_format": args.time_format,
        "time_unit": args.time_unit,
        "time_origin": _origin(args.time_origin),
        "tz": args.tz,
        "tags": _names(args.tags),
        "separator": _separator(args.separator),
        "column_names": _names(args.columns),
        "header": False if args.no_header else None,
        "table": args.table,
    }
    explicit = {k: v for k, v in explicit.items() if v is not None}
    preset = args.preset
    if preset == "auto":
        preset = None if "time_column" in explicit else guess_preset(path)
    fmt = args.format
    if preset not in (None, "none"):
        options["preset"] = preset
        fmt = fmt or "csv"
    if fmt is None:
        from tsengine.ingest.sources import detect_format

        fmt = detect_format(path)
    options["format"] = fmt
    if fmt == "lineprotocol":
        if args.precision:
            options["precision"] = args.precision
        options["on_error"] = args.on_error
    elif fmt == "parquet":
        allowed = ("time_column", "time_format", "time_unit", "time_origin", "tz")
        options.update({k: v for k, v in explicit.items() if k in allowed})
        if "tags" in explicit:
            options["tags"] = explicit["tags"]
        if "table" in explicit:
            options["table"] = explicit["table"]
    else:
        options.update({k: v for k, v in explicit.items() if k in _CSV_OPTIONS})
    return options


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [n.strip() for n in text.split(",") if n.strip()]


def _separator(text: str | None) -> str | None:
    return {"\\t": "\t", "tab": "\t"}.get(text, text) if text is not None else None


def _origin(text: str | None):
    if text is None:
        return None
    return int(text) if re.fullmatch(r"[-+]?\d+", text) else text


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
        print_summary(summary_dict(*failed.partial))
        print(f"tsengine ingest: error: {failed}", file=sys.stderr)
        return 2
    summary = summary_dict(tables, rejected, seconds)
    print_summary(summary)
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0
