"""Rollups as a table: lateness and the side table, reading, retention, dropping,
chained rollups, failure isolation and refused definitions."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pyarrow as pa
import pytest

import tsengine
from tsengine.errors import ParseError, SchemaError, TableNotFoundError
from tsengine.rollup import RollupWarning

S = 1_000_000_000


# -- lateness -----------------------------------------------------------------------


@pytest.fixture
def pump():
    engine = tsengine.Engine()
    engine.create_table("pump", tags=["asset"], fields={"v": "float64"})
    return engine


def write(engine, times_s, values, asset="A"):
    times = (np.asarray(times_s, dtype=np.float64) * S).astype(np.int64)
    engine.write(
        "pump",
        {"time": times, "asset": [asset] * len(times), "v": np.asarray(values, float)},
    )


def rollup_dict(engine, name="r"):
    out = engine.read(name)
    return {
        int(t.value // S): (c, m)
        for t, c, m in zip(
            out.column("time").to_pandas(),
            out.column("v_count").to_pylist(),
            out.column("v_sum").to_pylist(),
        )
    }


def test_late_points_within_lateness_update_their_window(pump):
    pump.create_rollup("r", "pump", "1s", {"v": ["count", "sum"]}, lateness="2s")
    write(pump, [0.1, 1.2, 2.5, 3.9], [1, 2, 3, 4])
    # watermark 1.9 s: window 0 closed, window 1 still open
    assert rollup_dict(pump) == {0: (1, 1.0)}
    write(pump, [1.5], [10])  # late by 2.4 s but within the window still open
    write(pump, [4.5], [5])  # watermark 2.5 s: window 1 closes with the late point
    assert rollup_dict(pump) == {0: (1, 1.0), 1: (2, 12.0)}
    assert pump.stats()["rollups"]["r"]["late_dropped"] == 0


def test_points_beyond_lateness_are_counted_and_dropped(pump):
    pump.create_rollup("r", "pump", "1s", {"v": ["count", "sum"]}, lateness="1s")
    write(pump, [0.0, 0.5, 1.0, 2.5, 3.2], [1, 2, 3, 4, 5])  # watermark 2.2 s
    before = rollup_dict(pump)
    assert before == {0: (2, 3.0), 1: (1, 3.0)}
    write(pump, [0.7, 1.9], [100, 200])  # windows 0 and 1 have closed
    stats = pump.stats()["rollups"]["r"]
    assert stats["late_dropped"] == 2
    assert rollup_dict(pump) == before
    # the source keeps every point
    assert pump.read("pump").num_rows == 7


def test_late_point_in_a_window_that_closed_empty_is_dropped(pump):
    pump.create_rollup("r", "pump", "1s", {"v": ["count", "sum"]})
    write(pump, [0.5, 5.5], [1, 2])
    write(pump, [3.5], [9])  # window 3 closed with no point in it
    assert pump.stats()["rollups"]["r"]["late_dropped"] == 1
    write(pump, [7.0], [3])
    assert rollup_dict(pump) == {0: (1, 1.0), 5: (1, 2.0)}


def test_points_of_one_write_are_never_late_to_each_other(pump):
    """A write is judged against the watermark from before it."""
    pump.create_rollup("r", "pump", "1s", {"v": ["count", "sum"]})
    write(pump, [5.5, 0.5, 2.5], [1, 2, 3])
    write(pump, [9.0], [4])
    assert rollup_dict(pump) == {0: (1, 2.0), 2: (1, 3.0), 5: (1, 1.0)}
    assert pump.stats()["rollups"]["r"]["late_dropped"] == 0


def test_late_side_table_receives_late_points(pump):
    pump.create_rollup(
        "r", "pump", "1s", {"v": ["count", "sum"]}, lateness="1s", late="side"
    )
    write(pump, [0.0, 3.0], [1, 2])
    write(pump, [0.5, 1.5, 3.5], [7, 8, 9], asset="B")  # two late, one on time
    side = pump.read("r_late")
    assert side.column("v").to_pylist() == [7.0, 8.0]
    assert side.column("asset").to_pylist() == ["B", "B"]
    assert side.column("time").cast(pa.int64()).to_pylist() == [S // 2, 3 * S // 2]
    stats = pump.stats()["rollups"]["r"]
    assert (stats["late_side"], stats["late_dropped"]) == (2, 0)


# -- the rollup as a table ------------------------------------------------------------


def test_rollup_table_is_read_like_a_table(pump):
    write(pump, np.arange(0, 10, 0.25), np.arange(40.0))
    spec = pump.create_rollup("r", "pump", "1s", {"v": ["count", "mean"]}, by=["asset"])
    assert spec.to_dict()["by"] == ["asset"]
    assert pump.rollups() == ["r"]
    definition = pump.definition("r")
    assert definition.tags == ["asset"]
    assert definition.fields == {"v_count": "int64", "v_mean": "float64"}
    # existing rows were aggregated at create: nine windows closed, one open
    assert pump.read("r").column("v_count").to_pylist() == [4] * 9
    per_3s = pump.aggregate("r", every="3s", aggs={"v_count": ["sum"]}, end=9 * S)
    assert per_3s.column("v_count_sum").to_pylist() == [12, 12, 12]
    assert pump.latest("r").column("v_mean").to_pylist() == [33.5]


def test_rollup_outlives_raw_data():
    """Raw points kept one hour, their 1-minute rollup thirty days."""
    engine = tsengine.Engine()
    engine.create_table("pump", fields={"v": "float64"}, retention="1h")
    engine.create_rollup("r", "pump", "1m", {"v": ["count", "sum"]}, retention="30d")
    assert engine.definition("r").retention == 30 * 86_400 * S
    now = time.time_ns() // (60 * S) * (60 * S)
    times = now - np.arange(180, 0, -1, dtype=np.int64) * 60 * S  # three hours
    engine.write("pump", {"time": times, "v": np.ones(180)})
    raw = engine.read("pump")
    assert 55 <= raw.num_rows <= 61  # the last hour (the clock moves on)
    rolled = engine.read("r")
    assert rolled.num_rows == 179  # every minute but the still open last one
    assert rolled.column("v_sum").to_pylist() == [1.0] * 179


def test_drop_rollup_stops_maintenance_and_keeps_the_table(pump):
    pump.create_rollup("r", "pump", "1s", {"v": ["count"]})
    write(pump, [0.5, 1.5], [1, 2])
    pump.drop_rollup("r")
    write(pump, [5.5], [3])
    assert pump.rollups() == []
    assert pump.read("r").num_rows == 1
    assert "r" not in pump.stats()["rollups"]
    with pytest.raises(TableNotFoundError, match="'r'"):
        pump.drop_rollup("r")


def test_rollup_of_a_rollup(pump):
    pump.create_rollup("r1", "pump", "1s", {"v": ["sum"]})
    pump.create_rollup("r10", "r1", "10s", {"v_sum": ["sum", "count"]})
    write(pump, np.arange(0, 25, 0.5), np.ones(50))
    # r1 has closed seconds 0-23 (24 is open), so r10 has closed [0, 10), [10, 20)
    got = pump.read("r10")
    assert got.column("v_sum_sum").to_pylist() == [20.0, 20.0]
    assert got.column("v_sum_count").to_pylist() == [10, 10]


def test_times_at_the_edge_of_the_range_are_counted_not_aggregated(pump):
    pump.create_rollup("r", "pump", "1s", {"v": ["count"]})
    pump.write(
        "pump",
        {
            "time": np.array([-(2**63), 5, 2**63 - 1], np.int64),
            "asset": ["A"] * 3,
            "v": np.ones(3),
        },
    )
    stats = pump.stats()["rollups"]["r"]
    assert (stats["out_of_range"], stats["errors"]) == (2, 0)
    assert stats["open_windows"] == 1


def test_a_failing_rollup_never_fails_the_writer(pump, monkeypatch):
    pump.create_rollup("r", "pump", "1s", {"v": ["count"]})
    live = pump._rollups._live["r"]

    def broken(*args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(live.state, "ingest", broken)
    with pytest.warns(RollupWarning, match="disk on fire"):
        write(pump, [0.5], [1.0])
        stats = pump.stats()["rollups"]["r"]  # the rollup has taken the write in
    assert pump.read("pump").num_rows == 1
    assert stats["errors"] == 1 and "disk on fire" in stats["last_error"]


# -- bad definitions ------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(source="nope"), TableNotFoundError, "'nope'"),
        (dict(aggs={"w": ["mean"]}), SchemaError, "'w'"),
        (dict(aggs={"note": ["count"]}), SchemaError, "'note'"),
        (dict(aggs={"v": ["twa"]}), SchemaError, "'twa'"),
        (dict(aggs={"v": ["mean", "mean"]}), SchemaError, "repeats"),
        (dict(aggs={"v": ["bogus"]}), SchemaError, "'bogus'"),
        (dict(aggs={}), SchemaError, "aggs"),
        (dict(every="1mo"), SchemaError, "'1mo'"),
        (dict(every="soon"), ParseError, "'soon'"),
        (dict(lateness="-1s"), ParseError, "'-1s'"),
        (dict(by=["colour"]), SchemaError, "colour"),
        (dict(late="keep"), SchemaError, "'keep'"),
        (dict(retention="forever"), SchemaError, "'forever'"),
        (dict(alpha=2.0), ValueError, "2.0"),
        (dict(name="pump"), SchemaError, "'pump'"),
    ],
)
def test_bad_rollup_definitions_are_refused(kwargs, error, match):
    engine = tsengine.Engine()
    engine.create_table(
        "pump", tags=["asset"], fields={"v": "float64", "note": "string"}
    )
    args = dict(name="r", source="pump", every="1s", aggs={"v": ["mean"]})
    args.update(kwargs)
    with pytest.raises(error, match=match):
        engine.create_rollup(**args)
    assert engine.rollups() == []


def test_a_rollup_name_is_taken_once(pump):
    pump.create_rollup("r", "pump", "1s", {"v": ["mean"]})
    with pytest.raises(SchemaError, match="'r' already exists"):
        pump.create_rollup("r", "pump", "1s", {"v": ["mean"]})
    with pytest.raises(TableNotFoundError, match="'nope'"):
        pump.subscribe("nope")


def test_a_different_table_of_the_same_name_is_not_adopted(pump):
    pump.create_table("r", fields={"x": "float64"})
    with pytest.raises(SchemaError, match="'r'"):
        pump.create_rollup("r", "pump", "1s", {"v": ["mean"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write(pump, [0.5], [1.0])  # no half-made rollup listens
