"""Command-line options that describe input files, shared by ``tsengine ingest`` and
``tsengine demo --replay``, and the :func:`tsengine.ingest.sources.open_source`
options they amount to for each file.

With ``--preset auto`` (the default) the layout of the public dataset families is
recognised from a file's first line: NAB (``timestamp,value``), SKAB
(``datetime;...``) and the header-less, whitespace-separated NASA C-MAPSS files. Any
CSV option given on the command line replaces the preset's.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
from pathlib import Path

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
    first = _first_line(path)
    if first is None:
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
        if "preset" not in options and "time_column" not in options:
            from tsengine.errors import ParseError

            first = (_first_line(path) or b"")[:200].decode("utf-8", "replace")
            raise ParseError(
                f"the layout (first line {first!r}) is not one of the known presets "
                "(nab, skab, cmapss); name the time column with --time-column"
            )
    return options


def _first_line(path: str | os.PathLike) -> bytes | None:
    """The first line of ``path`` (gzip or plain, at most 4 KiB, no BOM), or None."""
    p = Path(path)
    opener = gzip.open if p.suffix.lower() == ".gz" else open
    try:
        with opener(p, "rb") as f:
            return f.readline(4096).strip().lstrip(b"\xef\xbb\xbf")
    except (OSError, EOFError):
        return None


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
