"""Exact conversion of every accepted time representation to int64 nanoseconds (UTC).

All arithmetic is integer: a value is never passed through a float, so microsecond
``datetime`` values and nanosecond Arrow timestamps round-trip exactly. A value outside
the int64 nanosecond range raises :class:`~tsengine.errors.TimestampError` naming it.
"""

from __future__ import annotations

import datetime as dt
import re
import time as _time
from typing import Any

import numpy as np
import pyarrow as pa

from tsengine.errors import TimestampError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: Nanoseconds per unit, for every unit name accepted on input.
UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "D": 86_400_000_000_000,
    "d": 86_400_000_000_000,
    "W": 7 * 86_400_000_000_000,
    "w": 7 * 86_400_000_000_000,
}
_UNIT_ALIASES = {"μs": "us", "µs": "us", "sec": "s", "min": "m"}

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_RANGE = "[-9223372036854775808, 9223372036854775807] ns (1677-09-21 to 2262-04-11 UTC)"
_RELATIVE = re.compile(r"^\s*([+-])\s*(\d+)\s*(ns|us|µs|ms|s|m|h|d|w)\s*$")


def _check(value_ns: int, original: Any) -> int:
    if not INT64_MIN <= value_ns <= INT64_MAX:
        raise TimestampError(
            f"time {original!r} is outside the int64 nanosecond range {_RANGE}"
        )
    return value_ns


def unit_ns(unit: str) -> int:
    """Return the number of nanoseconds in one ``unit`` (``"ns"`` ... ``"w"``)."""
    unit = _UNIT_ALIASES.get(unit, unit)
    try:
        return UNIT_NS[unit]
    except KeyError:
        raise TimestampError(
            f"unknown time unit {unit!r}; expected one of {sorted(UNIT_NS)}"
        ) from None


def now_ns() -> int:
    """Current wall-clock time in int64 nanoseconds since the epoch (UTC)."""
    return _time.time_ns()


def to_ns(value: Any, unit: str = "ns") -> int:
    """Convert one time value to int64 nanoseconds since the Unix epoch, UTC.

    Parameters
    ----------
    value : int, datetime, date, numpy.datetime64, pandas.Timestamp, str
        An int counts ``unit`` since the epoch. A naive ``datetime`` is taken as UTC.
        Strings are ISO 8601 (``"2024-01-01T00:00:00Z"``) or relative to now
        (``"-15m"``, ``"+2h"``).
    unit : str
        Unit of an integer value: ``"ns"`` (default), ``"us"``, ``"ms"``, ``"s"``, ...

    Returns
    -------
    int
        Nanoseconds since 1970-01-01T00:00:00Z.

    Raises
    ------
    TimestampError
        The value is malformed or outside the int64 nanosecond range.

    Examples
    --------
    >>> to_ns("1970-01-01T00:00:01Z")
    1000000000
    >>> to_ns(-1, unit="us")
    -1000
    """
    if isinstance(value, bool):
        raise TimestampError(f"time {value!r} is a bool, not a time")
    if isinstance(value, int | np.integer):
        return _check(int(value) * unit_ns(unit), value)
    if isinstance(value, np.datetime64):
        return _datetime64_to_ns(value)
    # pandas.Timestamp subclasses datetime but has nanoseconds: read its ns value
    # (duck-typed so pandas stays optional).
    if hasattr(value, "value") and hasattr(value, "tz_localize"):
        if value != value:  # NaT
            raise TimestampError(f"time {value!r} is NaT (not a time)")
        return _check(int(value.value), value)
    if isinstance(value, dt.datetime):
        return _datetime_to_ns(value)
    if isinstance(value, dt.date):
        return _datetime_to_ns(dt.datetime(value.year, value.month, value.day))
    if isinstance(value, str):
        return _string_to_ns(value)
    if isinstance(value, pa.TimestampScalar):
        return _check(value.value * unit_ns(value.type.unit), value)
    if isinstance(value, pa.Scalar):
        return to_ns(value.as_py(), unit)
    raise TimestampError(
        f"time {value!r} of type {type(value).__name__} is not a supported time; "
        "use int ns, datetime, numpy.datetime64, pandas.Timestamp or an ISO string"
    )


def _datetime_to_ns(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - _EPOCH
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000
    return _check(ns + delta.microseconds * 1_000, value)


def _datetime64_to_ns(value: np.datetime64) -> int:
    if np.isnat(value):
        raise TimestampError(f"time {value!r} is NaT (not a time)")
    unit, step = np.datetime_data(value.dtype)
    count = int(value.astype(np.int64))
    if unit in ("Y", "M"):
        # Calendar units have no fixed length: go through datetime for exactness.
        return _datetime64_to_ns(value.astype("datetime64[D]"))
    return _check(count * step * unit_ns(unit), value)


def _string_to_ns(text: str) -> int:
    rel = _RELATIVE.match(text)
    if rel:
        sign = -1 if rel.group(1) == "-" else 1
        return _check(now_ns() + sign * int(rel.group(2)) * unit_ns(rel.group(3)), text)
    if text.strip().lower() == "now":
        return now_ns()
    try:
        # numpy parses ISO strings to ns exactly, including 9 fractional digits.
        stripped = text.strip()
        offset_ns = 0
        m = re.search(r"(Z|[+-]\d\d:?\d\d)$", stripped)
        if m:
            tz = m.group(1)
            stripped = stripped[: m.start()]
            if tz != "Z":
                sign = 1 if tz[0] == "+" else -1
                hh, mm = int(tz[1:3]), int(tz[-2:])
                offset_ns = sign * (hh * 3600 + mm * 60) * 1_000_000_000
        # Parse in the string's own unit, then scale with Python ints: a date far
        # outside the ns range must raise, not wrap.
        parsed = np.datetime64(stripped)
    except (ValueError, OverflowError):
        raise TimestampError(
            f"time {text!r} is not an ISO 8601 time or a relative time like '-15m'"
        ) from None
    if np.isnat(parsed):
        raise TimestampError(
            f"time {text!r} is NaT or outside the int64 nanosecond range {_RANGE}"
        )
    unit, step = np.datetime_data(parsed.dtype)
    if unit in ("Y", "M"):
        parsed, unit, step = parsed.astype("datetime64[D]"), "D", 1
    count = int(parsed.astype(np.int64))
    if unit in ("ns", "ps", "fs", "as"):
        # numpy wraps ns values past the int64 ends silently: cross-check the
        # instant at microsecond precision, which cannot wrap.
        coarse = int(np.datetime64(stripped, "us").astype(np.int64))
        if unit != "ns" or abs(count - coarse * 1000) >= 1000:
            raise TimestampError(
                f"time {text!r} is outside the int64 nanosecond range {_RANGE} or "
                "has more than 9 fractional digits"
            )
    return _check(count * step * unit_ns(unit) - offset_ns, text)


def array_to_ns(values: Any, unit: str = "ns", name: str = "time") -> np.ndarray:
    """Convert an array-like of times to a contiguous int64 nanosecond numpy array.

    Accepts numpy integer or datetime64 arrays of any unit, Arrow timestamp, date and
    integer arrays (any unit or zone: Arrow stores UTC), pandas/polars columns, and
    Python sequences of the scalars :func:`to_ns` takes. Integer inputs count ``unit``.

    Raises
    ------
    TimestampError
        A value is null, NaT or outside the int64 nanosecond range; the message names
        the first bad value and its row.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return _arrow_to_ns(values, unit, name)
    if hasattr(values, "to_arrow") and not isinstance(values, np.ndarray):  # polars
        return _arrow_to_ns(pa.array(values.to_arrow()), unit, name)
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):  # pandas
        try:
            values = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            values = values.to_numpy()
        else:
            return _arrow_to_ns(values, unit, name)
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise TimestampError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind == "M":
        return _datetime64_array_to_ns(arr, name)
    if arr.dtype.kind in "iu":
        return _scale_int_array(arr, unit_ns(unit), name)
    if arr.dtype.kind == "b":
        raise TimestampError(f"{name} column holds bools, not times")
    if arr.dtype.kind in "fc":
        raise TimestampError(
            f"{name} column holds floats ({arr[:1].tolist()!r}...); times must be "
            "integers or datetimes so they convert exactly"
        )
    out = np.empty(len(arr), dtype=np.int64)
    for i, item in enumerate(arr):
        if item is None:
            raise TimestampError(f"{name} row {i} is null; every point needs a time")
        out[i] = to_ns(item, unit)
    return out


def _datetime64_array_to_ns(arr: np.ndarray, name: str) -> np.ndarray:
    nat = np.isnat(arr)
    if nat.any():
        row = int(np.argmax(nat))
        raise TimestampError(f"{name} row {row} is NaT; every point needs a time")
    unit, step = np.datetime_data(arr.dtype)
    if unit in ("Y", "M"):
        arr = arr.astype("datetime64[D]")
        unit, step = "D", 1
    if unit in _SUB_NS:
        return _divide_int_array(arr.view(np.int64), _SUB_NS[unit] // step, name, unit)
    return _scale_int_array(arr.view(np.int64), step * unit_ns(unit), name)


#: Sub-nanosecond datetime64 units, as the count of them in one nanosecond.
_SUB_NS = {"ps": 1_000, "fs": 1_000_000, "as": 1_000_000_000}


def _divide_int_array(arr: np.ndarray, per_ns: int, name: str, unit: str) -> np.ndarray:
    """Exact ns from counts of a finer unit; a value between two ns is an error."""
    if per_ns <= 1:
        raise TimestampError(f"{name}: datetime64 unit with step too large: {unit}")
    whole, rest = np.divmod(arr, np.int64(per_ns))
    if rest.any():
        row = int(np.argmax(rest != 0))
        raise TimestampError(
            f"{name} row {row} value {int(arr[row])!r} {unit} is not a whole number "
            "of nanoseconds; tsengine keeps time in integer ns"
        )
    return np.ascontiguousarray(whole)


def _scale_int_array(arr: np.ndarray, factor: int, name: str) -> np.ndarray:
    if arr.dtype == np.uint64 and len(arr) and int(arr.max()) > INT64_MAX // factor:
        row = int(np.argmax(arr > INT64_MAX // factor))
        raise TimestampError(
            f"{name} row {row} value {int(arr[row])!r} is outside the int64 "
            f"nanosecond range {_RANGE}"
        )
    arr = arr.astype(np.int64, copy=False)
    if factor == 1:
        return np.ascontiguousarray(arr)
    lo, hi = INT64_MIN // factor, INT64_MAX // factor
    bad = (arr < lo) | (arr > hi)
    if bad.any():
        row = int(np.argmax(bad))
        raise TimestampError(
            f"{name} row {row} value {int(arr[row])!r} times {factor} ns is outside "
            f"the int64 nanosecond range {_RANGE}"
        )
    return arr * np.int64(factor)


def _arrow_to_ns(arr: pa.Array, unit: str, name: str) -> np.ndarray:
    if arr.null_count:
        row = int(np.argmax(~np.asarray(arr.is_valid())))
        raise TimestampError(f"{name} row {row} is null; every point needs a time")
    t = arr.type
    if pa.types.is_dictionary(t):
        return _arrow_to_ns(arr.dictionary_decode(), unit, name)
    if pa.types.is_timestamp(t) or pa.types.is_date64(t) or pa.types.is_duration(t):
        raw = arr.cast(pa.int64()).to_numpy(zero_copy_only=False)
        src_unit = t.unit if not pa.types.is_date64(t) else "ms"
        return _scale_int_array(raw, unit_ns(src_unit), name)
    if pa.types.is_date32(t):
        raw = arr.cast(pa.int32()).to_numpy(zero_copy_only=False)
        return _scale_int_array(raw.astype(np.int64), UNIT_NS["d"], name)
    if pa.types.is_integer(t):
        return _scale_int_array(arr.to_numpy(zero_copy_only=False), unit_ns(unit), name)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return array_to_ns(arr.to_pylist(), unit, name)
    raise TimestampError(
        f"{name} column has Arrow type {t}, which is not a time; use timestamp, date "
        "or integer"
    )


def ns_to_arrow(times: np.ndarray) -> pa.Array:
    """Wrap int64 ns as Arrow ``timestamp[ns, tz=UTC]`` without copying."""
    return pa.Array.from_buffers(
        pa.timestamp("ns", tz="UTC"), len(times), [None, pa.py_buffer(times)]
    )


def describe(ns: int) -> str:
    """Human-readable ISO form of an int64 ns time, for error messages."""
    return str(np.datetime64(int(ns), "ns")) + "Z"


__all__ = ["array_to_ns", "describe", "now_ns", "ns_to_arrow", "to_ns", "unit_ns"]
