"""Exact time conversion from every accepted unit and type, and range errors."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from tsengine.errors import TimestampError
from tsengine.timeconv import INT64_MAX, INT64_MIN, array_to_ns, to_ns

NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_numpy_datetime64_every_unit(unit):
    raw = np.array([-3, -1, 0, 1, 1_700_000_000], dtype=np.int64)
    got = array_to_ns(raw.astype(f"datetime64[{unit}]"))
    assert got.tolist() == [int(v) * NS[unit] for v in raw]


# Fixed-length coarse units and their length in ns, written out independently.
COARSE = {"m": 60 * 10**9, "h": 3600 * 10**9, "D": 86400 * 10**9}
COARSE["W"] = 7 * COARSE["D"]


@pytest.mark.parametrize("unit", sorted(COARSE))
def test_numpy_datetime64_coarse_units(unit):
    raw = np.array([-5, -1, 0, 1, 2_000], dtype=np.int64)
    got = array_to_ns(raw.astype(f"datetime64[{unit}]"))
    assert got.tolist() == [int(v) * COARSE[unit] for v in raw]


def test_numpy_datetime64_months_and_years_are_calendar_exact():
    months = np.array([-1, 0, 1, 13], dtype=np.int64).astype("datetime64[M]")
    years = np.array([-1, 0, 2, 54], dtype=np.int64).astype("datetime64[Y]")
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

    def ns(y, m):
        delta = dt.datetime(y, m, 1, tzinfo=dt.UTC) - epoch
        return delta // dt.timedelta(microseconds=1) * 1000

    assert array_to_ns(months).tolist() == [
        ns(1969, 12),
        ns(1970, 1),
        ns(1970, 2),
        ns(1971, 2),
    ]
    assert array_to_ns(years).tolist() == [
        ns(1969, 1),
        ns(1970, 1),
        ns(1972, 1),
        ns(2024, 1),
    ]


@pytest.mark.parametrize("unit,per_ns", [("ps", 10**3), ("fs", 10**6), ("as", 10**9)])
def test_sub_nanosecond_units_exact_or_refused(unit, per_ns):
    whole = np.array([-7, 0, 3, 1_700], dtype=np.int64)
    assert array_to_ns((whole * per_ns).astype(f"datetime64[{unit}]")).tolist() == [
        -7,
        0,
        3,
        1_700,
    ]
    between = np.array([0, per_ns + 1], dtype=np.int64).astype(f"datetime64[{unit}]")
    with pytest.raises(TimestampError, match=f"row 1 value {per_ns + 1} {unit}"):
        array_to_ns(between)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Berlin", "America/Chicago"])
def test_arrow_timestamp_every_unit_and_zone(unit, tz):
    raw = [-(10**9) - 7, -1, 0, 123_456_789]
    arr = pa.array(raw, pa.timestamp(unit, tz=tz))
    # Arrow stores UTC instants whatever the zone: the zone must not shift them.
    assert array_to_ns(arr).tolist() == [v * NS[unit] for v in raw]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_integer_units(unit):
    assert array_to_ns(np.array([-2, 5]), unit=unit).tolist() == [
        -2 * NS[unit],
        5 * NS[unit],
    ]
    assert to_ns(7, unit=unit) == 7 * NS[unit]


def test_microsecond_datetime_is_exact():
    # 2024-02-29T12:34:56.789012 UTC computed by hand from the epoch.
    days = (dt.date(2024, 2, 29) - dt.date(1970, 1, 1)).days
    expected = ((days * 86400 + 12 * 3600 + 34 * 60 + 56) * 10**6 + 789012) * 1000
    value = dt.datetime(2024, 2, 29, 12, 34, 56, 789012, tzinfo=dt.UTC)
    assert to_ns(value) == expected
    assert to_ns(value.replace(tzinfo=None)) == expected  # naive is UTC
    berlin = value.astimezone(ZoneInfo("Europe/Berlin"))
    assert to_ns(berlin) == expected
    assert array_to_ns([value, berlin]).tolist() == [expected, expected]


def test_negative_times_before_epoch():
    assert to_ns(dt.datetime(1969, 12, 31, 23, 59, 59, 999999)) == -1000
    assert to_ns("1969-12-31T23:59:59.999999999Z") == -1


def test_iso_strings_with_offsets():
    assert to_ns("1970-01-01T01:00:00+01:00") == 0
    assert to_ns("1970-01-01T00:00:00.000000001Z") == 1
    assert to_ns("2262-04-11T23:47:16.854775807Z") == INT64_MAX


def test_relative_strings_are_near_now():
    import time

    now = time.time_ns()
    assert abs(to_ns("-15m") - (now - 15 * 60 * 10**9)) < 5 * 10**9
    assert abs(to_ns("+2h") - (now + 2 * 3600 * 10**9)) < 5 * 10**9


def test_ends_of_int64_range():
    assert array_to_ns(np.array([INT64_MIN, INT64_MAX])).tolist() == [
        INT64_MIN,
        INT64_MAX,
    ]
    assert array_to_ns(
        pa.array([INT64_MIN + 1, INT64_MAX], pa.timestamp("ns"))
    ).tolist() == [INT64_MIN + 1, INT64_MAX]
    # The largest second that still fits, and one past it.
    last_s = INT64_MAX // 10**9
    assert to_ns(last_s, unit="s") == last_s * 10**9
    with pytest.raises(TimestampError, match=str(last_s + 1)):
        to_ns(last_s + 1, unit="s")


@pytest.mark.parametrize(
    "bad",
    [
        np.array([10**10], dtype="datetime64[s]"),
        pa.array([10**17], pa.timestamp("ms")),
        np.array([2**63], dtype=np.uint64),
    ],
)
def test_out_of_range_arrays_name_the_value(bad):
    with pytest.raises(TimestampError, match="outside the int64 nanosecond range"):
        array_to_ns(bad)


def test_out_of_range_datetime():
    with pytest.raises(TimestampError, match="2300"):
        to_ns(dt.datetime(2300, 1, 1))
    with pytest.raises(TimestampError, match="1600"):
        to_ns(dt.datetime(1600, 1, 1))


def test_pandas_and_polars_columns():
    idx = pd.date_range("2024-03-31 00:59:59", periods=3, freq="1s", tz="Europe/Berlin")
    expected = [int(x.value) for x in idx]
    assert array_to_ns(pd.Series(idx)).tolist() == expected
    assert array_to_ns(idx).tolist() == expected
    s = pl.Series([dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1, 0, 0, 1)])
    assert array_to_ns(s).tolist() == [1704067200 * 10**9, 1704067201 * 10**9]
    assert to_ns(pd.Timestamp("2024-01-01T00:00:00.000000001Z")) == (
        1704067200 * 10**9 + 1
    )


@pytest.mark.parametrize(
    "bad",
    [
        [1.5],
        np.array([1.0]),
        [True],
        np.array(["2024-01-01", "NaT"], dtype="datetime64[ns]"),
        pa.array([1, None], pa.int64()),
        ["yesterday-ish"],
    ],
)
def test_malformed_times_raise(bad):
    with pytest.raises(TimestampError):
        array_to_ns(bad)


def test_scalar_errors_quote_the_value():
    with pytest.raises(TimestampError, match="'not a time'"):
        to_ns("not a time")
    with pytest.raises(TimestampError, match="True"):
        to_ns(True)
