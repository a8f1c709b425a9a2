"""Retention by age, the memory budget, and Parquet export read back three ways."""

from __future__ import annotations

import time

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import tsengine

HOUR = 3600 * 10**9


def test_retention_drops_old_points_from_reads_and_memory():
    now = time.time_ns()
    e = tsengine.Engine()
    e.create_table(
        "t", tags=["a"], fields={"v": "float64"}, ring_capacity=64, retention="1h"
    )
    old = now - 3 * HOUR + np.arange(500, dtype=np.int64) * 10**9
    new = now - 10 * 60 * 10**9 + np.arange(100, dtype=np.int64) * 10**9
    e.write(
        "t",
        {
            "time": np.concatenate([old, new]),
            "a": ["x"] * 600,
            "v": np.arange(600, dtype=float),
        },
    )
    got = e.read("t")
    assert got.column("time").cast(pa.int64()).to_pylist() == new.tolist()
    st = e.stats()["tables"]["t"]
    assert st["points"] == 100  # gone from memory too, not only hidden
    assert e.latest("t", n=200).num_rows == 100


def test_memory_budget_refuses_with_a_clear_error_and_stores_nothing():
    e = tsengine.Engine(memory_budget=3_000_000, budget_timeout=0.2)
    e.create_table("t", tags=["a"], fields={"v": "float64"}, ring_capacity=4096)
    # Each series reserves 4096 * 16 bytes; forty of them fit, a hundred do not.
    e.write(
        "t",
        {
            "time": np.zeros(40, np.int64),
            "a": [f"s{i}" for i in range(40)],
            "v": np.zeros(40),
        },
    )
    with pytest.raises(tsengine.BudgetError, match="memory budget of 3000000 bytes"):
        e.write(
            "t",
            {
                "time": np.arange(2_000_000, dtype=np.int64),
                "a": ["s0"] * 2_000_000,
                "v": np.zeros(2_000_000),
            },
        )
    assert e.stats()["tables"]["t"]["points"] == 40
    assert isinstance(tsengine.BudgetError("x"), MemoryError)


def test_quick_writes_between_footprint_scans_do_not_overshoot_the_budget():
    """The footprint is rescanned at most every 50 ms; writes admitted in between
    must count, or a burst of them runs far past the budget."""
    budget = 20_000_000
    e = tsengine.Engine(memory_budget=budget, budget_timeout=0.05)
    batch = {"time": np.arange(100_000), "v": np.ones(100_000)}  # ~1.6 MB each
    with pytest.raises(tsengine.BudgetError):
        for k in range(100):
            e.write(f"b{k}", batch)
    assert e._budget.used(fresh=True) <= budget


def test_parquet_export_reads_back_identically(tmp_path):
    e = tsengine.Engine()
    n = 1000
    e.write(
        "pump",
        {
            "time": np.arange(n, dtype=np.int64) * 10**6 - 5 * 10**6,
            "site": ["A", "B"] * (n // 2),
            "vibration": pa.array([None if i % 7 == 0 else float(i) for i in range(n)]),
            "running": pa.array([i % 3 == 0 for i in range(n)]),
            "count": np.arange(n, dtype=np.int64) - 2**40,
        },
    )
    expected = e.read("pump")
    path = tmp_path / "pump.parquet"
    assert e.export("pump", path) == n
    want = expected.to_pandas()
    want["site"] = want["site"].astype(str)

    from_arrow = pq.read_table(path).to_pandas()
    from_arrow["site"] = from_arrow["site"].astype(str)
    pd.testing.assert_frame_equal(from_arrow, want)

    from_polars = pl.read_parquet(path).to_pandas()
    from_polars["site"] = from_polars["site"].astype(str)
    from_polars["time"] = from_polars["time"].astype(want["time"].dtype)
    pd.testing.assert_frame_equal(from_polars, want, check_dtype=False)

    con = duckdb.connect()
    rows = con.execute(
        "SELECT epoch_ns(time), site, vibration, running, count "
        f"FROM read_parquet('{path}')"
    ).fetchall()
    assert rows == [
        (int(t.value), s, None if v != v else v, r, c)
        for t, s, v, r, c in want.itertuples(index=False)
    ]


def test_retention_touches_each_expired_series_once_and_keeps_the_rest():
    # 300 series: a third wholly older than the horizon (sealed and hot), a third
    # straddling it, a third wholly newer. Each expired series is republished
    # once; nothing newer than the horizon is lost.
    now = time.time_ns()
    e = tsengine.Engine()
    e.create_table(
        "t", tags=["a"], fields={"v": "float64"}, ring_capacity=16, retention="1h"
    )
    table = e._tables["t"]
    published = []
    publish = table.publish

    def spy(buffers):
        published.append(list(buffers))
        return publish(buffers)

    # Points 10 s apart, none within 5 s of the horizon: the engine's clock runs on
    # while the test does, and must not move a point across it.
    starts = {"old": now - 3 * HOUR, "mid": now - HOUR - 35 * 10**9, "new": now}
    expected = 0
    table.expired_check = float("inf")  # no expiry pass while the series are made
    for i in range(300):
        kind = ("old", "mid", "new")[i % 3]
        t = starts[kind] + np.arange(60, dtype=np.int64) * 10 * 10**9
        e.write("t", {"time": t, "a": [f"s{i}"] * 60, "v": np.ones(60)})
        expected += int(np.sum(t >= now - HOUR))
    table.expired_check = 0.0  # the next write runs the expiry pass
    table.publish = spy
    e.write("t", {"time": [now], "a": ["extra"], "v": [1.0]})
    table.publish = publish
    expiry = [b for b in published if len(b) > 1]  # (the compactor publishes one)
    assert len(expiry) == 1
    ids = [id(b) for b in expiry[0]]
    assert len(ids) == len(set(ids)) == 200  # the old and the straddling series
    assert e.stats()["tables"]["t"]["points"] == expected + 1
    times = e.read("t").column("time").cast(pa.int64()).to_numpy()
    assert times.min() >= now - HOUR
    assert len(times) == expected + 1


def test_names_with_a_trailing_newline_are_refused():
    e = tsengine.Engine()
    with pytest.raises(tsengine.SchemaError, match="printable"):
        e.create_table("a/b\n", fields={"v": "float64"})
    with pytest.raises(tsengine.SchemaError, match="invalid"):
        e.create_table("t", fields={"v\n": "float64"})
    assert e.tables() == []


def test_an_empty_aggs_is_an_argument_error():
    e = tsengine.Engine()
    e.write("t", {"time": np.arange(4), "v": np.ones(4)})
    with pytest.raises(tsengine.ArgumentError, match="aggs"):
        e.aggregate("t", every=2, aggs={})
