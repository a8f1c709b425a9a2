"""The shape every ingest reader hands to the engine, and the conversion into it.

An ingest table has a ``time`` column (``timestamp[ns, tz=UTC]``) first, then its tag
columns (strings), then its field columns; each column's Arrow field metadata says
``{b"tsengine.role": b"tag"}`` or ``b"field"``, and the schema metadata may carry the
table name under ``b"tsengine.table"``. :func:`to_ingest_table` turns a table read from
a file (any time representation, tags of any type) into that shape, exactly.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tsengine.errors import SchemaError, TimestampError

TIME_TYPE = pa.timestamp("ns", tz="UTC")
ROLE_KEY = b"tsengine.role"
TABLE_KEY = b"tsengine.table"
TAG_META = {ROLE_KEY: b"tag"}
FIELD_META = {ROLE_KEY: b"field"}

#: Nanoseconds per unit accepted by ``time_unit`` for numeric time columns.
UNITS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}
_I64 = np.iinfo(np.int64)


def tag_columns(table: pa.Table) -> list[str]:
    """Names of the tag columns of an ingest table."""
    return [f.name for f in table.schema if (f.metadata or {}).get(ROLE_KEY) == b"tag"]


def table_name(table: pa.Table) -> str | None:
    """The table name an ingest reader stored in the schema metadata, if any."""
    name = (table.schema.metadata or {}).get(TABLE_KEY)
    return None if name is None else name.decode("utf-8")


def parse_origin(origin: int | str | dt.datetime) -> int:
    """``time_origin`` as int ns since the Unix epoch (ISO strings need a zone)."""
    if isinstance(origin, bool):
        raise TimestampError(f"time_origin must be ns or an ISO time, got {origin!r}")
    if isinstance(origin, int | np.integer):
        value = int(origin)
    else:
        if isinstance(origin, str):
            try:
                origin = dt.datetime.fromisoformat(origin)
            except ValueError:
                raise TimestampError(
                    f"time_origin {origin!r} is not an ISO 8601 time"
                ) from None
        if not isinstance(origin, dt.datetime) or origin.tzinfo is None:
            raise TimestampError(
                f"time_origin {origin!r} must be int ns or a time with a zone, "
                f"e.g. '2000-01-01T00:00:00Z'"
            )
        delta = origin - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        seconds = delta.days * 86_400 + delta.seconds
        value = seconds * 10**9 + delta.microseconds * 1000
    if not _I64.min <= value <= _I64.max:
        raise TimestampError(f"time_origin {origin!r} is outside the int64 ns range")
    return value


def _clamp(value: int) -> int:
    return min(max(value, int(_I64.min)), int(_I64.max))


def _numeric_time(values: pa.ChunkedArray, unit: str | None, origin: int, name: str):
    """origin + value * unit, exactly for integers; floats rounded to the nearest ns."""
    if unit not in UNITS:
        raise TimestampError(
            f"time column {name!r} holds numbers ({values.type}); give time_unit, "
            f"one of {sorted(UNITS)} (got {unit!r})"
        )
    scale = UNITS[unit]
    if pa.types.is_integer(values.type):
        raw = values.cast(pa.int64()).to_numpy()
        # bounds in Python ints, so that neither the product nor the sum can wrap
        lo = max(-((origin - int(_I64.min)) // scale), -(-int(_I64.min) // scale))
        hi = min((int(_I64.max) - origin) // scale, int(_I64.max) // scale)
        bad = (raw < _clamp(lo)) | (raw > _clamp(hi))
        if bad.any():
            raise TimestampError(
                f"time {int(raw[bad][0])!r} {unit} in column {name!r} (origin "
                f"{origin} ns) is outside the int64 ns range"
            )
        return pa.array(raw * scale + origin, type=pa.int64()).cast(TIME_TYPE)
    if not pa.types.is_floating(values.type):
        raise TimestampError(f"time column {name!r} has type {values.type}")

    # floats: scale the whole part exactly, round only the fraction
    raw = values.to_numpy()
    limit = float(2**62 // scale)
    bad = ~np.isfinite(raw) | (np.abs(raw) > limit)
    if bad.any():
        raise TimestampError(
            f"time {raw[bad][0]!r} {unit} in column {name!r} is outside the int64 ns "
            f"range"
        )
    whole = np.floor(raw)
    frac = np.rint((raw - whole) * scale).astype(np.int64)
    ns = whole.astype(np.int64) * scale + frac
    bad = (ns < _clamp(int(_I64.min) - origin)) | (ns > _clamp(int(_I64.max) - origin))
    if bad.any():
        raise TimestampError(
            f"time {raw[bad][0]!r} {unit} in column {name!r} plus origin {origin} ns "
            f"is outside the int64 ns range"
        )
    return pa.array(ns + origin, type=pa.int64()).cast(TIME_TYPE)


def to_time(
    values: pa.ChunkedArray | pa.Array,
    *,
    name: str = "time",
    time_format: str | None = None,
    time_unit: str | None = None,
    time_origin: int = 0,
    tz: str | None = None,
    ambiguous: str = "raise",
    nonexistent: str = "raise",
) -> pa.ChunkedArray:
    """A time column as ``timestamp[ns, tz=UTC]``; see :func:`to_ingest_table`."""
    values = pa.chunked_array([values]) if isinstance(values, pa.Array) else values
    if values.null_count:
        row = pc.index(pc.is_null(values), True).as_py()
        raise TimestampError(f"time column {name!r} is empty on data row {row + 1}")

    # text: parse with the given format, or as ISO 8601
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        try:
            if time_format is not None:
                values = pc.strptime(values, format=time_format, unit="ns")
            else:
                values = values.cast(pa.timestamp("ns"))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise TimestampError(f"time column {name!r}: {exc}") from None

    # numbers: an offset from time_origin in time_unit
    if not pa.types.is_timestamp(values.type):
        return _numeric_time(values, time_unit, time_origin, name)

    # timestamps with a zone, or naive ones taken as UTC: one checked cast
    local = values.type.tz is None and tz not in (None, "UTC")
    try:
        values = values.cast(pa.timestamp("ns") if local else TIME_TYPE)
    except pa.ArrowInvalid as exc:
        raise TimestampError(f"time column {name!r}: {exc}") from None

    # naive wall-clock times in tz, converted at ns so a DST gap resolves to the ns
    if local:
        try:
            values = pc.assume_timezone(
                values, timezone=tz, ambiguous=ambiguous, nonexistent=nonexistent
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
            raise TimestampError(f"time column {name!r} in {tz!r}: {exc}") from None
    return values.cast(TIME_TYPE)


def to_ingest_table(
    table: pa.Table,
    *,
    time_column: str,
    tags: tuple[str, ...] | list[str] = (),
    name: str | None = None,
    **time_options,
) -> pa.Table:
    """Reorder and convert ``table`` into the ingest shape described above.

    Parameters
    ----------
    table
        A table as read from a file.
    time_column
        Column holding the time. Text is parsed as ISO 8601 or with ``time_format``
        (``strptime`` codes); numbers are ``time_origin`` (int ns, or an ISO time with
        a zone) plus the number in ``time_unit`` (ns, us, ms, s, m, h, d): integers
        exactly, floats rounded to the nearest ns. Naive times are wall-clock times in
        ``tz`` (an IANA name, default UTC); ``ambiguous``/``nonexistent`` say what to do
        in DST changes ("raise", "earliest", "latest").
    tags
        Columns that identify a series; converted to strings.
    name
        Table name, stored in the schema metadata.

    Raises
    ------
    SchemaError
        A named column is missing, a name appears twice, or a column other than the
        time column is called ``time``.
    TimestampError
        A time is empty, unparsable or outside the int64 ns range.
    """
    names = table.column_names
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SchemaError(f"columns {twice!r} appear more than once in {names!r}")
    missing = [c for c in (time_column, *tags) if c not in names]
    if missing:
        raise SchemaError(f"columns {missing!r} not found; the table has {names!r}")
    if time_column in tags:
        raise SchemaError(f"column {time_column!r} cannot be both time and a tag")
    if time_column != "time" and "time" in names:
        raise SchemaError("a column other than the time column is called 'time'")

    # time first, then tags as strings, then every other column as a field
    origin = parse_origin(time_options.pop("time_origin", 0))
    time = to_time(
        table.column(time_column), name=time_column, time_origin=origin, **time_options
    )
    fields = [pa.field("time", TIME_TYPE)]
    arrays = [time]
    for tag in tags:
        fields.append(pa.field(tag, pa.string(), True, TAG_META))
        arrays.append(table.column(tag).cast(pa.string()))
    for column in names:
        if column != time_column and column not in tags:
            array = table.column(column)
            fields.append(pa.field(column, array.type, True, FIELD_META))
            arrays.append(array)
    metadata = None if name is None else {TABLE_KEY: name.encode("utf-8")}
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=metadata))
