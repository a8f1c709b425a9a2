"""pandas ``resample`` and polars ``group_by_dynamic`` as oracles where they agree.

pandas: tumbling windows aligned to the epoch (``origin="epoch"``), left or right
closed and labelled, NaN skipped; empty windows between the first and last point are
returned by both (pandas with NaN, tsengine with null). polars: tumbling and sliding
windows, non-empty windows only (``fill="none"`` here), no NaN or null in the data
since polars treats NaN as a value and ``first`` does not skip null.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsengine.window import aggregate_table

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def series(draw, with_nan):
    n = draw(st.integers(1, 60))
    steps = draw(st.lists(st.sampled_from([0, 1, 2, 3, 7, 30]), min_size=n, max_size=n))
    t = np.cumsum(steps).astype(np.int64) + draw(st.integers(-200, 200))
    pool = st.floats(-1e6, 1e6, allow_nan=False)
    if with_nan:
        pool = st.one_of(pool, st.just(math.nan))
    v = np.array(draw(st.lists(pool, min_size=n, max_size=n)))
    return t, v


def as_table(t, v):
    return pa.table({"time": pa.array(t, pa.timestamp("ns", "UTC")), "v": v})


def close(a, b):
    a = np.array([np.nan if x is None else x for x in a], float)
    b = np.asarray(b, float)
    return np.allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)


@SETTINGS
@given(
    series(with_nan=True),
    st.integers(1, 25),
    st.integers(0, 24),
    st.sampled_from(["left", "right"]),
    st.sampled_from(["left", "right"]),
)
def test_pandas_resample(data, every, offset, closed, label):
    t, v = data
    aggs = [
        "count",
        "sum",
        "mean",
        "min",
        "max",
        "first",
        "last",
        "std",
        "var",
        "median",
    ]
    ours = aggregate_table(
        as_table(t, v),
        every=every,
        offset=offset % every,
        closed=closed,
        label=label,
        aggs={"v": aggs},
    )
    frame = pd.Series(v, index=pd.to_datetime(t, utc=True))
    theirs = frame.resample(
        f"{every}ns",
        closed=closed,
        label=label,
        origin="epoch",
        offset=pd.Timedelta(offset % every, "ns"),
    ).agg(aggs)
    assert ours.column("time").cast(pa.int64()).to_pylist() == [
        x.value for x in theirs.index.as_unit("ns")
    ]
    assert ours.column("v_count").to_pylist() == theirs["count"].tolist()
    present = theirs["count"].to_numpy() > 0
    for name in aggs[1:]:
        got = np.array(ours.column(f"v_{name}").to_pylist(), dtype=object)[present]
        assert close(got, theirs[name].to_numpy()[present]), name


@SETTINGS
@given(
    series(with_nan=False),
    st.integers(1, 25),
    st.one_of(st.none(), st.integers(1, 60)),
    st.sampled_from(["left", "right"]),
    st.sampled_from(["left", "right"]),
)
def test_polars_group_by_dynamic(data, every, period, closed, label):
    t, v = data
    ours = aggregate_table(
        as_table(t, v),
        every=every,
        period=period,
        closed=closed,
        label=label,
        fill="none",
        aggs={"v": ["count", "mean", "min", "max", "first", "last", "std", "p75"]},
    )
    frame = pl.DataFrame({"time": pl.Series(t).cast(pl.Datetime("ns", "UTC")), "v": v})
    theirs = frame.group_by_dynamic(
        "time",
        every=f"{every}ns",
        period=f"{period or every}ns",
        closed=closed,
        label=label,
        start_by="window",
    ).agg(
        pl.len().alias("count"),
        pl.col("v").mean().alias("mean"),
        pl.col("v").min().alias("min"),
        pl.col("v").max().alias("max"),
        pl.col("v").first().alias("first"),
        pl.col("v").last().alias("last"),
        pl.col("v").std().alias("std"),
        pl.col("v").quantile(0.75, interpolation="linear").alias("p75"),
    )
    assert ours.column("time").cast(pa.int64()).to_pylist() == (
        theirs["time"].dt.epoch("ns").to_list()
    )
    assert ours.column("v_count").to_pylist() == theirs["count"].to_list()
    for name in ("mean", "min", "max", "first", "last", "std", "p75"):
        want = [np.nan if x is None else x for x in theirs[name].to_list()]
        assert close(ours.column(f"v_{name}").to_pylist(), want), name


def test_polars_by_groups_agree():
    rng = np.random.default_rng(11)
    t = np.sort(rng.integers(0, 10_000, 3000)).astype(np.int64)
    asset = rng.choice(["p1", "p2", "p3"], t.size)
    v = rng.normal(size=t.size)
    table = pa.table(
        {"asset": asset, "time": pa.array(t, pa.timestamp("ns", "UTC")), "v": v}
    )
    ours = aggregate_table(
        table,
        every=100,
        by=["asset"],
        fill="none",
        aggs={"v": ["count", "mean", "max"]},
    )
    theirs = (
        pl.from_arrow(table)
        .sort("asset", "time")
        .group_by_dynamic("time", every="100ns", group_by="asset")
        .agg(
            pl.len().alias("n"),
            pl.col("v").mean().alias("m"),
            pl.col("v").max().alias("x"),
        )
        .sort("asset", "time")
    )
    assert ours.column("asset").to_pylist() == theirs["asset"].to_list()
    assert ours.column("v_count").to_pylist() == theirs["n"].to_list()
    assert close(ours.column("v_mean").to_pylist(), theirs["m"].to_list())
    assert ours.column("v_max").to_pylist() == theirs["x"].to_list()
