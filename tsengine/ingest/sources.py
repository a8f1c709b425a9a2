"""Open an input file of any supported format and stream it as ingest tables.

:func:`open_source` picks the reader from the file name (or ``format=``) and returns a
:class:`Source`: iterate it for ``(table_name, pyarrow.Table)`` chunks in the ingest
shape (see :mod:`tsengine.ingest.shape`), and read ``position_bytes``/``size_bytes``
for a progress bar. Formats:

- ``lineprotocol``: ``.lp``, ``.txt``, ``.line``. Options ``precision``, ``now``,
  ``on_error`` (as :func:`~tsengine.ingest.lineprotocol.parse_lines`), ``chunk_bytes``.
- ``csv``: ``.csv``, ``.tsv``. Options of :func:`tsengine.ingest.csvfile.read_csv`, or
  ``preset=`` ("nab", "skab", "cmapss"), plus ``batch_rows``.
- ``parquet``: ``.parquet``, ``.pq``. Options ``time_column`` (default ``"time"``),
  ``tags``, ``table``, ``batch_rows`` and the time options of ``read_csv``.

Each may end in ``.gz``. A preset implies ``csv`` (the C-MAPSS files are ``.txt.gz``).

Line protocol is read in chunks of ``chunk_bytes`` (a line is never split, even a string
value spanning lines) with line numbers counted across chunks and one ``now`` for the
whole file. CSV files are read whole by Arrow and handed out in slices of
``batch_rows``; Parquet is streamed by record batch.

Known gaps: with ``on_error="raise"`` a bad line stops the iteration, but chunks before
it were already handed out, so a file is not all-or-nothing (a caller that needs that
must hold the chunks back until the end). A field type that changes between chunks of
a line protocol file is found by the engine when storing, not here. A CSV file is held
in memory whole (Arrow's streaming reader fixes column types from its first block and
fails on a later block that disagrees); reading a first pass for the types, then
streaming with them, would lift that.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tsengine.ingest import csvfile, lineprotocol
from tsengine.ingest.shape import table_name, to_ingest_table

FORMATS = {
    ".lp": "lineprotocol",
    ".line": "lineprotocol",
    ".txt": "lineprotocol",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_LP_OPTIONS = {"precision", "now", "on_error", "chunk_bytes"}
_TIME_OPTIONS = {
    "time_column",
    "time_format",
    "time_unit",
    "time_origin",
    "tz",
    "ambiguous",
    "nonexistent",
}
_PARQUET_OPTIONS = _TIME_OPTIONS | {"tags", "table", "batch_rows"}


def detect_format(path: str | os.PathLike) -> str:
    """``"lineprotocol"``, ``"csv"`` or ``"parquet"`` from the file name."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    fmt = FORMATS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise ValueError(
            f"cannot tell the format of {os.fspath(path)!r} from its name; pass "
            f"format='lineprotocol', 'csv' or 'parquet' (known suffixes: "
            f"{sorted(FORMATS)}, optionally followed by .gz)"
        )
    return fmt


class Source:
    """An open input file: iterate for ``(table_name, pyarrow.Table)`` chunks.

    ``position_bytes`` of ``size_bytes`` (bytes of the file on disk) have been handed
    out; ``rows`` counts the rows so far; ``rejected`` lists the line protocol lines
    left out under ``on_error="skip"``. Use as a context manager or call ``close()``.
    """

    def __init__(self, path: Path, fmt: str, options: dict):
        self.path = path
        self.format = fmt
        self.size_bytes = path.stat().st_size
        self.position_bytes = 0
        self.rows = 0
        self.rejected: list[lineprotocol.Rejected] = []
        self._options = options
        self._files: list = []

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for f in self._files:
            f.close()
        self._files.clear()

    def __iter__(self) -> Iterator[tuple[str, pa.Table]]:
        readers = {
            "lineprotocol": self._line_protocol,
            "csv": self._csv,
            "parquet": self._parquet,
        }
        for name, table in readers[self.format]():
            self.rows += table.num_rows
            yield name, table

    def _open(self):
        raw = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        self._files.append(raw)
        if self.path.suffix.lower() == ".gz":
            stream = gzip.GzipFile(fileobj=raw)
            self._files.append(stream)
            return raw, stream
        return raw, raw

    def _line_protocol(self) -> Iterator[tuple[str, pa.Table]]:
        opts = dict(self._options)
        precision = opts.get("precision", "ns")
        factor = lineprotocol.precision_factor(precision)
        default_time = lineprotocol.default_time(opts.get("now"), factor)
        skip = lineprotocol.skip_mode(opts.get("on_error", "raise"))
        chunk_bytes = int(opts.get("chunk_bytes", 16 << 20))
        raw, stream = self._open()
        pending, line, first, eof = b"", 1, True, False

        while not eof:
            # read a chunk; keep reading while no whole line fits
            block = stream.read(chunk_bytes)
            eof = not block
            data = pending + block
            start = 0
            if first and (len(data) >= 3 or eof):
                # a byte-order mark counts only at the very start of the file
                start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
                first = False
            parsed, used, line = lineprotocol.parse_chunk(
                data,
                factor=factor,
                default_time=default_time,
                skip=skip,
                precision=precision,
                first_line=line,
                final=eof,
                start=start,
            )
            pending = data[used:]
            first = first and used == 0
            self.rejected.extend(parsed.rejected)
            self.position_bytes = raw.tell() if not eof else self.size_bytes
            yield from parsed.tables.items()

    def _csv(self) -> Iterator[tuple[str, pa.Table]]:
        opts = dict(self._options)
        preset = opts.pop("preset", None)
        batch_rows = int(opts.pop("batch_rows", 1 << 20))
        if preset is not None:
            opts = {**csvfile.preset_options(preset, self.path), **opts}
        if self.path.name.lower().endswith((".tsv", ".tsv.gz")):
            opts.setdefault("separator", "\t")
        table = csvfile.read_csv(self.path, **opts)
        yield from self._slices(table, table_name(table), batch_rows)

    def _parquet(self) -> Iterator[tuple[str, pa.Table]]:
        opts = dict(self._options)
        unknown = set(opts) - _PARQUET_OPTIONS
        if unknown:
            raise TypeError(f"unknown Parquet options {sorted(unknown)!r}")
        name = opts.pop("table", None) or csvfile.default_table_name(
            self.path.with_suffix("")
        )
        batch_rows = int(opts.pop("batch_rows", 1 << 20))
        time_column = opts.pop("time_column", "time")
        tags = tuple(opts.pop("tags", ()))
        _, stream = self._open()
        file = pq.ParquetFile(stream)
        total = max(file.metadata.num_rows, 1)
        done = 0
        for batch in file.iter_batches(batch_size=batch_rows):
            table = to_ingest_table(
                pa.Table.from_batches([batch]),
                time_column=time_column,
                tags=tags,
                name=name,
                **opts,
            )
            done += batch.num_rows
            self.position_bytes = self.size_bytes * done // total
            yield name, table

    def _slices(self, table: pa.Table, name: str, batch_rows: int):
        total = max(table.num_rows, 1)
        for offset in range(0, table.num_rows, batch_rows):
            chunk = table.slice(offset, batch_rows)
            self.position_bytes = self.size_bytes * (offset + chunk.num_rows) // total
            yield name, chunk
        self.position_bytes = self.size_bytes


def open_source(
    path: str | os.PathLike, *, format: str | None = None, **options
) -> Source:
    """Open ``path`` for ingest; see the module docstring for formats and options.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The format cannot be told from the name, or is unknown.
    TypeError
        An option does not belong to the format.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "plant.lp"
    >>> _ = p.write_bytes(b"pump,site=A vib=0.5 1\\npump,site=B vib=0.7 2\\n")
    >>> with open_source(p) as source:
    ...     [(name, t.num_rows) for name, t in source], source.position_bytes
    ([('pump', 2)], 44)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {os.fspath(path)!r}")
    if format is None:
        format = "csv" if "preset" in options else detect_format(path)
    if format not in ("lineprotocol", "csv", "parquet"):
        raise ValueError(
            f"unknown format {format!r}; expected 'lineprotocol', 'csv' or 'parquet'"
        )
    if format == "lineprotocol" and set(options) - _LP_OPTIONS:
        raise TypeError(
            f"unknown line protocol options {sorted(set(options) - _LP_OPTIONS)!r}"
        )
    return Source(path, format, options)


__all__ = ["FORMATS", "Source", "detect_format", "open_source"]
