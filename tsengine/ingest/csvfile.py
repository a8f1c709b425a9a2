"""CSV and other delimited text files as ingest tables.

Parsing is ``pyarrow.csv`` (multi-threaded C++); this module only chooses its options
and converts the result with :func:`tsengine.ingest.shape.to_ingest_table`: a
``time`` column (``timestamp[ns, tz=UTC]``), the tag columns as strings, then the
fields. Empty cells are null; ``NaN`` in a numeric column is the float NaN, not null.

Presets for the public datasets in ``../shared/data`` (see :data:`PRESETS`):

- ``"nab"``: Numenta Anomaly Benchmark, ``timestamp,value``; naive times taken as UTC.
- ``"skab"``: Skoltech Anomaly Benchmark, ``;``-separated; naive times taken as UTC;
  all files go to table ``skab`` with a tag ``experiment`` (``valve1/3``...).
- ``"cmapss"``: NASA C-MAPSS, whitespace-separated without header, 26 columns
  (:data:`CMAPSS_COLUMNS`). The data has no clock, only the operating cycle, so the
  time is a convention: ``2000-01-01T00:00:00Z`` plus one hour per cycle (cycle 1 at
  01:00). The engine number is the tag ``unit``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from tsengine.errors import ParseError
from tsengine.ingest.shape import to_ingest_table

#: ``separator`` value meaning "one or more spaces or tabs" (edges of lines ignored).
WHITESPACE = "whitespace"

#: Column names of the C-MAPSS train/test files, in file order.
CMAPSS_COLUMNS = (
    "unit",
    "cycle",
    "setting1",
    "setting2",
    "setting3",
    *(f"sensor{i}" for i in range(1, 22)),
)
#: Time of cycle 0 in the C-MAPSS preset; each cycle is one hour after it.
CMAPSS_ORIGIN = "2000-01-01T00:00:00Z"

#: Options for the public dataset families; see the module docstring.
PRESETS = {
    "nab": {"time_column": "timestamp"},
    "skab": {"time_column": "datetime", "separator": ";"},
    "cmapss": {
        "separator": WHITESPACE,
        "header": False,
        "column_names": CMAPSS_COLUMNS,
        "time_column": "cycle",
        "time_unit": "h",
        "time_origin": CMAPSS_ORIGIN,
        "tags": ("unit",),
    },
}

_SUFFIXES = (".gz", ".csv", ".txt", ".tsv")


def default_table_name(path: str | os.PathLike) -> str:
    """File name without its data and compression suffixes (``a.txt.gz`` -> ``a``)."""
    name = Path(path).name
    while name.lower().endswith(_SUFFIXES):
        name = name[: name.rfind(".")]
    return name


def preset_options(preset: str, path: str | os.PathLike) -> dict:
    """The :func:`read_csv` options of ``preset`` for the file at ``path``."""
    try:
        options = dict(PRESETS[preset])
    except KeyError:
        raise ValueError(
            f"unknown CSV preset {preset!r}; expected one of {sorted(PRESETS)}"
        ) from None
    if preset == "skab":
        path = Path(path)
        options["table"] = "skab"
        options["constant_tags"] = {
            "experiment": f"{path.parent.name}/{default_table_name(path)}"
        }
    return options


def _read_options(column_names, header: bool) -> pacsv.ReadOptions:
    if column_names is None:
        if not header:
            raise ValueError("a file without header needs column_names")
        return pacsv.ReadOptions()
    return pacsv.ReadOptions(column_names=list(column_names), skip_rows=int(header))


def _source(path: str | os.PathLike, separator: str):
    """What pyarrow.csv reads: the path, or whitespace runs rewritten to one space."""
    if separator != WHITESPACE:
        return os.fspath(path)
    with pa.input_stream(os.fspath(path), compression="detect") as stream:
        data = stream.read()

    # bytes.replace passes are C loops; each halves the longest run of blanks
    data = data.replace(b"\t", b" ")
    while b"  " in data:
        data = data.replace(b"  ", b" ")
    data = data.replace(b" \r\n", b"\r\n").replace(b" \n", b"\n")
    data = data.replace(b"\n ", b"\n").strip(b" ")
    return pa.BufferReader(data)


def read_csv(
    path: str | os.PathLike,
    *,
    time_column: str,
    time_format: str | None = None,
    time_unit: str | None = None,
    time_origin: int | str = 0,
    tz: str | None = None,
    ambiguous: str = "raise",
    nonexistent: str = "raise",
    tags: tuple[str, ...] | list[str] = (),
    constant_tags: dict[str, str] | None = None,
    separator: str = ",",
    column_names: tuple[str, ...] | list[str] | None = None,
    header: bool = True,
    table: str | None = None,
    null_values: tuple[str, ...] = ("",),
) -> pa.Table:
    """Read a delimited text file into an ingest table.

    Parameters
    ----------
    path
        The file; ``.gz`` and other suffixes Arrow knows are decompressed.
    time_column
        Column with the time. Text is ISO 8601 (``2024-01-01 12:00:00``, ``...T...Z``,
        ``...+01:00``) unless ``time_format`` gives ``strptime`` codes. Numbers are
        ``time_origin`` plus the number in ``time_unit`` (ns, us, ms, s, m, h, d).
    time_format, time_unit, time_origin
        See ``time_column``. ``time_origin`` is int ns or an ISO time with a zone.
    tz
        IANA zone of naive times (no offset in the text); default UTC.
    ambiguous, nonexistent
        What to do with naive times in a DST change of ``tz``: "raise" (default),
        "earliest" or "latest".
    tags
        Columns that identify a series; converted to strings.
    constant_tags
        Extra tag columns with one value for the whole file, e.g. the experiment.
    separator
        One character, or ``"whitespace"`` for runs of spaces and tabs.
    column_names
        Names of the columns; with ``header=True`` they replace the file's header.
    header
        Whether the first line is a header.
    table
        Table name stored in the schema metadata (default: the file name without
        suffixes); :func:`tsengine.ingest.shape.table_name` reads it back.
    null_values
        Cell texts that mean null (default: only the empty cell).

    Returns
    -------
    pyarrow.Table
        ``time`` (``timestamp[ns, tz=UTC]``), tags, then fields in file order.

    Raises
    ------
    ParseError
        The file is not valid delimited text (message from Arrow, with the path).
    SchemaError, TimestampError
        From :func:`tsengine.ingest.shape.to_ingest_table`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "pump.csv"
    >>> _ = p.write_text("ts;site;temp\\n2024-01-01 00:00:00;A;20.5\\n")
    >>> t = read_csv(p, time_column="ts", separator=";", tags=["site"])
    >>> t.column_names, t.column("temp").to_pylist()
    (['time', 'site', 'temp'], [20.5])
    """
    if separator != WHITESPACE and len(separator) != 1:
        raise ValueError(
            f"separator must be one character or 'whitespace', got {separator!r}"
        )
    parse = pacsv.ParseOptions(delimiter=" " if separator == WHITESPACE else separator)
    convert = pacsv.ConvertOptions(
        null_values=list(null_values),
        strings_can_be_null=True,
        column_types={time_column: pa.string()} if time_format else None,
    )
    try:
        raw = pacsv.read_csv(
            _source(path, separator),
            read_options=_read_options(column_names, header),
            parse_options=parse,
            convert_options=convert,
        )
    except pa.ArrowInvalid as exc:
        raise ParseError(f"{os.fspath(path)!r}: {exc}") from None

    # constant tags become string columns before the shape conversion orders them
    constant_tags = dict(constant_tags or {})
    for key, value in constant_tags.items():
        raw = raw.append_column(
            key, pa.repeat(pa.scalar(value, pa.string()), raw.num_rows)
        )
    return to_ingest_table(
        raw,
        time_column=time_column,
        tags=(*tags, *constant_tags),
        name=table or default_table_name(path),
        time_format=time_format,
        time_unit=time_unit,
        time_origin=time_origin,
        tz=tz,
        ambiguous=ambiguous,
        nonexistent=nonexistent,
    )


__all__ = [
    "CMAPSS_COLUMNS",
    "CMAPSS_ORIGIN",
    "PRESETS",
    "WHITESPACE",
    "preset_options",
    "read_csv",
]
