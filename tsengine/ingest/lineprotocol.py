"""InfluxDB line protocol: parse a payload into one Arrow table per measurement.

The syntax is the InfluxDB v2 line protocol, as decoded by InfluxData's reference
implementation (see its corpus test, ``tests/test_lineprotocol_corpus.py``)::

    measurement[,tag=value...] field=value[,field=value...] [timestamp]

- Escapes: a backslash escapes ``,`` and space in a measurement name; ``,`` ``=`` and
  space in tag keys, tag values and field keys; ``"`` and ``\\`` in string values. A
  backslash before any other byte is kept as it is.
- Field values: floats (``1``, ``-1.5``, ``.5``, ``1e-3``; no ``NaN``/``Inf``), integers
  with ``i`` (int64), unsigned integers with ``u`` (uint64), booleans spelled ``t T true
  True TRUE f F false False FALSE``, and double-quoted strings, which may span lines.
- The timestamp is an integer in the request's ``precision``; a line without one gets
  the request's single ``now``, floored to the precision.
- Blank lines, lines starting with ``#`` (after optional spaces), LF or CRLF endings and
  one leading UTF-8 byte-order mark are accepted. Names and strings must be UTF-8.

Where tsengine deliberately differs from the reference decoder, because a point has
to become a row of a table: a tag or field key may not be ``time`` (that is the time
column), a key may appear only once per line, and a key keeps one kind (tag, or one
field type) per measurement within a request (:class:`~tsengine.errors.SchemaError`).

The parser is Cython (``tsengine._native._lineproto``); it scans with the GIL released
and builds the column buffers directly, with no Python object per line.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from tsengine._native._lineproto import LineParser
from tsengine.errors import ParseError, TimestampError
from tsengine.ingest import _lp_errors
from tsengine.ingest.shape import FIELD_META, TAG_META, TIME_TYPE, tag_columns

#: Nanoseconds per timestamp unit, for each accepted ``precision``.
PRECISIONS = {
    "ns": 1,
    "n": 1,
    "us": 1_000,
    "u": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
#: Cells (rows x columns) the tables of one payload may hold: per payload byte, and
#: at least. Dense plant data needs about 0.05 per byte; the limit stops a small
#: payload naming many distinct keys from asking for rows x keys of memory.
CELLS_PER_BYTE = 2
MIN_CELLS = 1 << 24
_BOM = b"\xef\xbb\xbf"
_ARROW_TYPES = {
    1: pa.float64(),
    2: pa.int64(),
    3: pa.uint64(),
    4: pa.bool_(),
}


@dataclass(frozen=True)
class Rejected:
    """One line that was not stored, with why.

    ``line`` and ``column`` are 1-based; ``column`` counts bytes from the start of the
    physical line. ``text`` is that physical line (without its line ending).
    """

    line: int
    column: int
    reason: str
    text: str


@dataclass
class ParsedLines:
    """Result of :func:`parse_lines`.

    ``tables`` maps each measurement to a long-format table: ``time``
    (``timestamp[ns, tz=UTC]``), then one string column per tag key, then one column per
    field key (float64, int64, uint64, bool or string); a line that lacks a tag or field
    has null there. Rows keep the order of the lines. Each column's Arrow field metadata
    holds ``{b"tsengine.role": b"tag"}`` or ``b"field"`` (see :func:`tag_columns`).
    ``lines`` counts points stored.
    """

    tables: dict[str, pa.Table] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    lines: int = 0


def parse_lines(
    payload: bytes | bytearray | memoryview | str,
    *,
    precision: str = "ns",
    now: int | None = None,
    on_error: str = "raise",
) -> ParsedLines:
    """Parse InfluxDB line protocol into one Arrow table per measurement.

    Parameters
    ----------
    payload
        Line protocol text, as UTF-8 bytes or ``str``.
    precision
        Unit of the timestamps in the payload: ``"ns"``, ``"us"``, ``"ms"``, ``"s"``,
        ``"m"`` or ``"h"``. Every timestamp is converted to int64 ns; one outside that
        range is an error.
    now
        Time in ns since the Unix epoch given to lines without a timestamp (floored to
        ``precision``). Default: the wall clock, read once per call.
    on_error
        ``"raise"``: the first bad line raises and nothing is returned (the request is
        all or nothing). ``"skip"``: bad lines are left out and listed in
        ``ParsedLines.rejected``.

    Returns
    -------
    ParsedLines

    Raises
    ------
    ParseError
        A line is malformed (``on_error="raise"``). The message gives line, column,
        reason and the line's text; so do the attributes ``line``, ``column``,
        ``reason`` and ``text``.
    SchemaError
        A key changes kind within a measurement (a field int64 on one line and float64
        on another, or a tag on one line and a field on another); names the line.
    TimestampError
        ``precision`` is unknown or ``now`` is outside the int64 ns range.
    BudgetError
        The tables would hold more than ``max(2 * len(payload), 2**24)`` cells (rows
        x columns; a line lacking a column still takes its cell): a payload with very
        many distinct keys for its size. Raised in either ``on_error`` mode.

    Notes
    -----
    The parse runs without the GIL. The tables' buffers are owned by Arrow; nothing
    refers to ``payload`` afterwards.

    Examples
    --------
    >>> out = parse_lines(b"pump,site=A vib=0.5,on=t 1700000000000000000")
    >>> out.tables["pump"].to_pylist()[0]["vib"], out.lines
    (0.5, 1)
    >>> parse_lines(b"pump vib=0.5x")
    Traceback (most recent call last):
    ...
    tsengine.errors.ParseError: line 1, column 10: value '0.5x' of field 'vib' is \
not a valid float: 'pump vib=0.5x'
    """
    data = _as_bytes(payload)
    factor = precision_factor(precision)
    skip = skip_mode(on_error)
    start = len(_BOM) if bytes(data[:3]) == _BOM else 0
    parsed, _, _ = parse_chunk(
        data,
        factor=factor,
        default_time=default_time(now, factor),
        skip=skip,
        precision=precision,
        start=start,
    )
    return parsed


def parse_chunk(
    data: bytes,
    *,
    factor: int,
    default_time: int,
    skip: bool,
    precision: str,
    first_line: int = 1,
    final: bool = True,
    start: int = 0,
) -> tuple[ParsedLines, int, int]:
    """Parse ``data[start:]`` as one piece of a longer input (used by file readers).

    With ``final=False`` a last line that runs into the end of ``data`` is left for the
    next piece. Returns the result, the number of bytes of ``data`` used, and the line
    number at that point.
    """
    parser = LineParser()
    max_cells = max(CELLS_PER_BYTE * len(data), MIN_CELLS)
    parser.parse(data, factor, default_time, skip, first_line, final, start, max_cells)
    errors = parser.errors()
    if errors and isinstance(data, memoryview):
        data = data.tobytes()  # messages need bytes methods; errors are the slow path
    if errors and (not skip or errors[-1][0] == _lp_errors.ER_TOO_BIG):
        err = errors[0] if not skip else errors[-1]
        raise _lp_errors.to_exception(parser, data, err, precision, max_cells)
    rejected = [
        Rejected(**_lp_errors.describe(parser, data, err, precision)) for err in errors
    ]
    tables = _build_tables(parser)
    return (
        ParsedLines(tables=tables, rejected=rejected, lines=parser.points),
        parser.consumed,
        parser.end_line,
    )


def precision_factor(precision: str) -> int:
    """Nanoseconds per unit of ``precision`` (see :data:`PRECISIONS`)."""
    try:
        return PRECISIONS[precision]
    except (KeyError, TypeError):
        raise TimestampError(
            f"unknown precision {precision!r}; expected one of "
            f"'ns', 'us', 'ms', 's', 'm', 'h'"
        ) from None


def default_time(now: int | None, factor: int) -> int:
    """Time in ns for lines without a timestamp: ``now`` floored to the precision."""
    if now is None:
        now = _time.time_ns()
    if isinstance(now, bool) or not isinstance(now, int | np.integer):
        raise TimestampError(f"now must be int nanoseconds, got {now!r}")
    now = int(now)
    if not _INT64_MIN <= now <= _INT64_MAX:
        raise TimestampError(f"now {now!r} is outside the int64 nanosecond range")
    return now // factor * factor


def skip_mode(on_error: str) -> bool:
    """Whether ``on_error`` ("raise" or "skip") keeps going past bad lines."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    return on_error == "skip"


def _as_bytes(payload: bytes | bytearray | memoryview | str) -> bytes | memoryview:
    if isinstance(payload, str):
        try:
            return payload.encode("utf-8")
        except UnicodeEncodeError as exc:
            line = payload.count("\n", 0, exc.start) + 1
            column = exc.start - (payload.rfind("\n", 0, exc.start) + 1) + 1
            raise ParseError(
                f"line {line}, column {column}: the text holds "
                f"{payload[exc.start]!r}, which has no UTF-8 encoding"
            ) from None
    if isinstance(payload, bytes | bytearray):
        return payload
    if isinstance(payload, memoryview):
        return payload.cast("B") if payload.c_contiguous else payload.tobytes()
    raise TypeError(
        f"payload must be bytes or str, got {type(payload).__name__}: {payload!r:.80}"
    )


def _string_array(count: int, offsets, data) -> pa.Array:
    """Arrow string array from int64 offsets and bytes (large_string beyond 2 GiB)."""
    if len(data) < 2**31:
        offs32 = np.frombuffer(offsets, dtype=np.int64).astype(np.int32)
        return pa.Array.from_buffers(
            pa.string(), count, [None, pa.py_buffer(offs32), pa.py_buffer(data)]
        )
    return pa.Array.from_buffers(
        pa.large_string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _build_tables(parser: LineParser) -> dict[str, pa.Table]:
    """Wrap the parser's column buffers as Arrow arrays, one table per measurement."""
    measurements = parser.measurements()
    columns = parser.columns()
    tag_values = _string_array(*parser.tag_dictionary())

    # group the columns of each measurement: tags first, then fields
    fields = [[pa.field("time", TIME_TYPE)] for _ in measurements]
    arrays: list[list[pa.Array]] = []
    for _, rows, times in measurements:
        time = pa.Array.from_buffers(TIME_TYPE, rows, [None, pa.py_buffer(times)])
        arrays.append([time])
    for want_tags in (True, False):
        for meas, key, kind, nulls, values, valid, offsets, data in columns:
            if (kind == 0) != want_tags:
                continue
            rows = measurements[meas][1]
            validity = None if valid is None else pa.py_buffer(valid)
            if kind == 0:
                idx = pa.Array.from_buffers(
                    pa.int32(), rows, [validity, pa.py_buffer(values)], nulls
                )
                array = tag_values.take(idx)
            elif kind == 5:
                array = _string_array(rows, offsets, data)
                if validity is not None:
                    array = pa.Array.from_buffers(
                        array.type, rows, [validity, *array.buffers()[1:]], nulls
                    )
            else:
                array = pa.Array.from_buffers(
                    _ARROW_TYPES[kind], rows, [validity, pa.py_buffer(values)], nulls
                )
            role = TAG_META if kind == 0 else FIELD_META
            fields[meas].append(pa.field(key.decode("utf-8"), array.type, True, role))
            arrays[meas].append(array)

    return {
        name.decode("utf-8"): pa.Table.from_arrays(
            arrays[i], schema=pa.schema(fields[i])
        )
        for i, (name, _, _) in enumerate(measurements)
    }


__all__ = ["PRECISIONS", "ParsedLines", "Rejected", "parse_lines", "tag_columns"]
