"""Convert ``start``/``end`` arguments to int64 nanoseconds since the Unix epoch (UTC).

Accepted: int (ns), ``datetime`` (naive means UTC), ``date`` (midnight UTC), numpy
``datetime64`` of any unit, pandas ``Timestamp``, ISO 8601 strings with an optional
``Z`` or ``±HH:MM`` suffix (up to nine fractional digits), ``"now"`` and relative
strings such as ``"-15m"`` (now minus 15 minutes). Conversion is exact integer
arithmetic; a value outside the int64 nanosecond range is a
:class:`~tsengine.errors.TimestampError`.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime

import numpy as np

from tsengine.errors import ParseError, TimestampError
from tsengine.window.duration import parse_duration

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZONE = re.compile(r"(Z|z|[+-]\d\d:?\d\d)$")
# Multipliers from numpy datetime64 units to nanoseconds (calendar units excluded)
_UNIT_NS = {
    "W": 7 * 86_400 * 10**9,
    "D": 86_400 * 10**9,
    "h": 3_600 * 10**9,
    "m": 60 * 10**9,
    "s": 10**9,
    "ms": 10**6,
    "us": 10**3,
    "ns": 1,
}


def to_ns(value, *, name: str = "time") -> int:
    """Return ``value`` as int nanoseconds since the Unix epoch, UTC.

    Parameters
    ----------
    value : int, datetime, date, numpy.datetime64, pandas.Timestamp or str
        The instant. Naive datetimes and zone-less strings are read as UTC.
    name : str
        Parameter name used in error messages.

    Returns
    -------
    int

    Raises
    ------
    TimestampError
        If the value is out of the int64 ns range, NaT, or of an unsupported type.
    ParseError
        If a string is neither ISO 8601 nor a relative duration.

    Examples
    --------
    >>> to_ns("1970-01-01T00:00:01.5Z")
    1500000000
    >>> to_ns("2024-01-01T01:00:00+01:00") == to_ns("2024-01-01")
    True
    """
    out = _convert(value, name)
    if not INT64_MIN <= out <= INT64_MAX:
        raise TimestampError(f"{name}={value!r} is outside the int64 nanosecond range")
    return out


def _convert(value, name: str) -> int:
    """Dispatch on the value's type; range checks are the caller's."""
    # Plain integers are nanoseconds already (bool is an int, but never a time)
    if isinstance(value, bool):
        raise TimestampError(f"{name}={value!r} is not a time")
    if isinstance(value, int | np.integer):
        return int(value)

    # pandas Timestamp carries its own unit; go through its numpy form
    if hasattr(value, "to_datetime64") and hasattr(value, "tzinfo"):
        if value != value:  # NaT
            raise TimestampError(f"{name}={value!r} is not a time (NaT)")
        return _from_datetime64(value.to_datetime64(), name)
    if isinstance(value, np.datetime64):
        return _from_datetime64(value, name)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    if isinstance(value, date):
        return (value - _EPOCH.date()).days * 86_400 * 10**9
    if isinstance(value, str):
        return _from_text(value.strip(), name)
    raise TimestampError(
        f"{name}={value!r} is not a time (expected int ns, datetime, numpy/pandas "
        "timestamp or ISO string)"
    )


def _from_datetime64(value: np.datetime64, name: str) -> int:
    """Exact conversion of any datetime64 unit with Python integers."""
    if np.isnat(value):
        raise TimestampError(f"{name}={value!r} is not a time (NaT)")
    unit, step = np.datetime_data(value.dtype)
    count = int(value.astype(np.int64))
    if unit in _UNIT_NS:
        return count * step * _UNIT_NS[unit]
    # Months and years: go through the day count numpy computes exactly
    days = int(value.astype("datetime64[D]").astype(np.int64))
    return days * _UNIT_NS["D"]


def _from_text(text: str, name: str) -> int:
    """ISO 8601 text, ``"now"``, or a signed duration relative to now."""
    # Relative to the wall clock: "now", "-15m", "+1h"
    if text == "now":
        return time.time_ns()
    if text[:1] in "+-":
        try:
            rel = parse_duration(text, name=name, allow_negative=True)
        except ParseError:
            rel = None
        if rel is not None:
            return time.time_ns() + rel.fixed_ns()

    # Split off a zone suffix; numpy parses the rest to the exact unit
    zone = _ZONE.search(text) if "T" in text or " " in text else None
    offset_ns = 0
    body = text
    if zone is not None:
        body = text[: zone.start()]
        suffix = zone.group(1)
        if suffix not in ("Z", "z"):
            sign = -1 if suffix[0] == "-" else 1
            digits = suffix[1:].replace(":", "")
            offset_ns = sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * 10**9
    try:
        parsed = np.datetime64(body.replace(" ", "T"))
    except ValueError:
        raise ParseError(
            f"{name}={text!r} is not an ISO 8601 time or a relative duration"
        ) from None
    return _from_datetime64(parsed, name) - offset_ns
