"""Calendar windows across DST: local days of 23/24/25 hours, missing midnights, weeks,
months and years, checked against brute-force zoneinfo edges and pandas."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tsengine.window import aggregate_table
from tsengine.window._reference import calendar_edges
from tsengine.window._reference_table import mismatches, reference_table, rows_of

HOUR = 3_600 * 10**9
DAY = 24 * HOUR
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


def transition_days(zone: str, year: int) -> list[date]:
    """Local dates on which the zone's UTC offset changes (found with zoneinfo)."""
    tz = ZoneInfo(zone)
    days = []
    day = date(year, 1, 1)
    while day.year == year:
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=tz)
        before = (noon - timedelta(days=1)).astimezone(tz).utcoffset()
        after = noon.utcoffset()
        start = datetime(day.year, day.month, day.day, tzinfo=tz) - timedelta(hours=12)
        end = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(hours=36)
        if start.utcoffset() != end.utcoffset() and before is not None and after:
            days.append(day)
        day += timedelta(days=1)
    # Keep one day per transition: the date on which the change happens
    out = []
    for d in days:
        tz_mid = datetime(d.year, d.month, d.day, 0, tzinfo=tz)
        tz_end = datetime(d.year, d.month, d.day, 23, 59, tzinfo=tz)
        if tz_mid.utcoffset() != tz_end.utcoffset() or not _exists(zone, d):
            out.append(d)
    return out


def _exists(zone: str, day: date) -> bool:
    """Whether local midnight of ``day`` exists in ``zone``."""
    tz = ZoneInfo(zone)
    wall = datetime(day.year, day.month, day.day)
    back = wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return back == wall


def points_around(day: date, zone: str, step=10 * 60 * 10**9) -> pa.Table:
    """A point every ``step`` ns from two days before ``day`` to two days after."""
    tz = ZoneInfo(zone)
    lo = ns(datetime(day.year, day.month, day.day, tzinfo=tz) - timedelta(days=2))
    t = np.arange(lo, lo + 5 * DAY, step, dtype=np.int64)
    return pa.table(
        {"time": pa.array(t, pa.timestamp("ns", "UTC")), "v": t.astype(float)}
    )


ZONES = ["Europe/Berlin", "America/Chicago", "America/New_York"]
# Zones whose local midnight does not exist on a spring-forward day
MIDNIGHT_GAP = [
    ("America/Santiago", date(2023, 9, 3)),
    ("America/Havana", date(2023, 3, 12)),
    ("Asia/Beirut", date(2023, 3, 26)),
    ("America/Asuncion", date(2023, 10, 1)),
]


def day_cases():
    cases = []
    for zone in ZONES:
        for day in transition_days(zone, 2023):
            cases.append((zone, day))
    return cases + MIDNIGHT_GAP


def test_each_zone_has_two_transitions():
    for zone in ZONES:
        assert len(transition_days(zone, 2023)) == 2, zone


@pytest.mark.parametrize(("zone", "day"), day_cases())
def test_dst_day_windows(zone, day):
    table = points_around(day, zone)
    out = aggregate_table(
        table, every="1d", tz=zone, aggs={"v": ["count", "first", "last"]}
    )
    labels = out.column("time").cast(pa.int64()).to_numpy()
    t = table.column("time").cast(pa.int64()).to_numpy()

    # Edges equal the brute-force zoneinfo walk
    edges = calendar_edges("1d", zone, int(t[0]), int(t[-1]))
    assert list(labels) == [e for e in edges if t[0] - DAY < e <= t[-1]]

    # Every point lies in [window start, window end)
    ends = np.append(labels[1:], labels[-1] + 2 * DAY)
    first = out.column("v_first").to_numpy()
    last = out.column("v_last").to_numpy()
    assert np.all(first >= labels) and np.all(last < ends)
    counts = [int(((t >= a) & (t < b)).sum()) for a, b in zip(labels, ends)]
    assert out.column("v_count").to_pylist() == counts

    # The transition day lasts 24 h minus the offset change; the others 24 h
    tz = ZoneInfo(zone)
    start = datetime(day.year, day.month, day.day, 12, tzinfo=tz) - timedelta(hours=12)
    before = (start - timedelta(hours=12)).utcoffset()
    after = (start + timedelta(hours=36)).utcoffset()
    expected = DAY - (after - before) // timedelta(microseconds=1) * 1000
    lengths = dict(zip(labels[:-1], np.diff(labels)))
    local_days = {
        (EPOCH + timedelta(microseconds=int(a) // 1000)).astimezone(tz).date(): n
        for a, n in lengths.items()
    }
    assert local_days[day] == expected
    assert expected in (23 * HOUR, 25 * HOUR)
    assert {n for d, n in local_days.items() if d != day} == {DAY}


@pytest.mark.parametrize(("zone", "day"), MIDNIGHT_GAP)
def test_missing_midnight_moves_to_first_existing_instant(zone, day):
    # Premise: midnight really does not exist that day
    assert not _exists(zone, day)
    out = aggregate_table(
        points_around(day, zone), every="1d", tz=zone, aggs={"v": ["count"]}
    )
    labels = out.column("time").cast(pa.int64()).to_pylist()
    tz = ZoneInfo(zone)
    local = [(EPOCH + timedelta(microseconds=x // 1000)).astimezone(tz) for x in labels]
    edge = next(x for x in local if x.date() == day)
    # The gap ends at 01:00 local in these zones: that instant starts the day
    assert (edge.hour, edge.minute) == (1, 0)
    # One second earlier (in absolute time) is still the previous local day
    just_before = edge.astimezone(UTC) - timedelta(seconds=1)
    assert just_before.astimezone(tz).date() < day


@pytest.mark.parametrize("zone", ZONES)
def test_pandas_daily_resample_agrees(zone):
    for day in transition_days(zone, 2023):
        table = points_around(day, zone, step=7 * 60 * 10**9)
        ours = aggregate_table(
            table, every="1d", tz=zone, aggs={"v": ["count", "mean"]}
        )
        t = table.column("time").cast(pa.int64()).to_numpy()
        series = pd.Series(
            t.astype(float), index=pd.to_datetime(t, utc=True).tz_convert(zone)
        )
        theirs = series.resample("1D").agg(["count", "mean"])
        assert ours.column("v_count").to_pylist() == theirs["count"].tolist()
        assert np.allclose(ours.column("v_mean").to_numpy(), theirs["mean"].to_numpy())
        labels = ours.column("time").cast(pa.int64()).to_numpy()
        assert list(labels) == [x.value for x in theirs.index.as_unit("ns")]


@pytest.mark.parametrize(
    ("every", "offset", "zone"),
    [
        ("1d", "6h", "Europe/Berlin"),
        (
            "1d",
            "2h30m",
            "Europe/Berlin",
        ),  # 02:30 is missing in spring, doubled in autumn
        ("1d", "-1h", "America/Chicago"),
        ("2d", "0s", "America/New_York"),
        ("1w", "0s", "Europe/Berlin"),
        ("1w", "1d", "America/Santiago"),
        ("1mo", "0s", "Europe/Berlin"),
        ("1mo", "1d6h", "America/New_York"),
        ("3mo", "0s", None),
        ("1y", "0s", "Asia/Beirut"),
        ("1y", "3mo", None),
        ("1d", "0s", "Australia/Lord_Howe"),  # a 30-minute DST shift
    ],
)
def test_calendar_grids_match_brute_force(every, offset, zone):
    lo = ns(datetime(2022, 12, 1, tzinfo=UTC))
    step = (37 * 60 + 11) * 10**9
    span = 800 * DAY if "y" in every or "mo" in every else 400 * DAY
    t = np.arange(lo, lo + span, step * (40 if span > 500 * DAY else 4), dtype=np.int64)
    table = pa.table(
        {"time": pa.array(t, pa.timestamp("ns", "UTC")), "v": np.ones(t.size)}
    )
    out = aggregate_table(
        table, every=every, offset=offset, tz=zone, aggs={"v": ["count"]}
    )
    labels = out.column("time").cast(pa.int64()).to_numpy()
    edges = np.array(calendar_edges(every, zone, int(t[0]), int(t[-1]), offset))
    want = edges[(edges <= t[-1]) & (np.append(edges[1:], edges[-1] + 1) > t[0])]
    assert list(labels) == list(want)
    bounds = np.append(labels, edges[edges > labels[-1]][0])
    counts = np.histogram(t, bins=bounds)[0] if t.size else []
    assert out.column("v_count").to_pylist() == list(counts)


def test_weeks_start_on_monday_and_months_in_local_time():
    tz = ZoneInfo("Europe/Berlin")
    t = np.arange(
        ns(datetime(2024, 1, 1, tzinfo=UTC)),
        ns(datetime(2024, 12, 31, tzinfo=UTC)),
        5 * HOUR,
        dtype=np.int64,
    )
    table = pa.table(
        {"time": pa.array(t, pa.timestamp("ns", "UTC")), "v": np.ones(t.size)}
    )
    for every, check in [
        ("1w", lambda x: x.weekday() == 0),
        ("1mo", lambda x: x.day == 1),
    ]:
        out = aggregate_table(
            table, every=every, tz="Europe/Berlin", aggs={"v": ["count"]}
        )
        for x in out.column("time").cast(pa.int64()).to_pylist():
            local = (EPOCH + timedelta(microseconds=x // 1000)).astimezone(tz)
            assert check(local) and (local.hour, local.minute) == (0, 0)


def test_right_closed_calendar_days_match_reference():
    zone = "Europe/Berlin"
    day = transition_days(zone, 2023)[0]
    table = points_around(day, zone, step=HOUR)
    rows = [
        {"time": int(x), "v": float(x)}
        for x in table.column("time").cast(pa.int64()).to_numpy()
    ]
    kw = {"every": "1d", "tz": zone, "closed": "right", "label": "right"}
    aggs = {"v": ["count", "first", "last"]}
    got = rows_of(aggregate_table(table, aggs=aggs, **kw))
    assert not mismatches(got, reference_table(rows, aggs=aggs, **kw))


def test_sliding_calendar_windows_end_two_local_days_later():
    zone = "America/Chicago"
    day = transition_days(zone, 2023)[1]
    table = points_around(day, zone)
    one = aggregate_table(table, every="1d", tz=zone, aggs={"v": ["count"]})
    two = aggregate_table(
        table, every="1d", period="2d", tz=zone, label="right", aggs={"v": ["count"]}
    )
    starts = one.column("time").cast(pa.int64()).to_numpy()
    ends = two.column("time").cast(pa.int64()).to_numpy()
    assert list(ends[:-2]) == list(starts[2:])
    c = one.column("v_count").to_numpy()
    assert list(two.column("v_count").to_numpy()[:-1]) == list(c[:-1] + c[1:])
