"""Write and read semantics of the Python API, checked against exact expected values."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import tsengine


@pytest.fixture
def engine():
    e = tsengine.Engine()
    e.create_table(
        "pump",
        tags=["site", "asset"],
        fields={
            "vibration": "float64",
            "running": "bool",
            "count": "int64",
            "note": "string",
        },
    )
    return e


def rows(table: pa.Table) -> list[dict]:
    out = table.to_pylist()
    for r in out:
        r["time"] = int(pd.Timestamp(r["time"]).value)
    return out


def test_every_input_shape_gives_the_same_table(engine):
    t = np.array([3, 1, 2], dtype=np.int64)
    d = {
        "time": t,
        "site": ["A"] * 3,
        "asset": ["P-1", "P-2", "P-1"],
        "vibration": np.array([0.3, 0.1, 0.2]),
    }
    results = []
    for data in (
        d,
        pa.table(d),
        pa.table(d).to_batches()[0],
        pd.DataFrame(d),
        pl.DataFrame(d),
    ):
        e = tsengine.Engine()
        e.create_table("pump", tags=["site", "asset"], fields={"vibration": "float64"})
        assert e.write("pump", data) == 3
        results.append(rows(e.read("pump")))
    expected = [
        {"time": 2, "site": "A", "asset": "P-1", "vibration": 0.2},
        {"time": 3, "site": "A", "asset": "P-1", "vibration": 0.3},
        {"time": 1, "site": "A", "asset": "P-2", "vibration": 0.1},
    ]
    assert all(r == expected for r in results)


def test_pandas_datetime_index(engine):
    idx = pd.date_range("2024-01-01", periods=3, freq="1s", tz="UTC")
    df = pd.DataFrame(
        {"site": "A", "asset": "P-1", "vibration": [1.0, 2.0, 3.0]}, index=idx
    )
    engine.write("pump", df)
    got = rows(engine.read("pump"))
    assert [r["time"] for r in got] == [int(x.value) for x in idx]


def test_null_and_nan_are_different(engine):
    engine.write(
        "pump",
        {
            "time": np.array([1, 2, 3]),
            "site": ["A"] * 3,
            "asset": ["P-1"] * 3,
            "vibration": pa.array([math.nan, None, 1.5]),
        },
    )
    v = engine.read("pump").column("vibration")
    assert v.null_count == 1
    values = v.to_pylist()
    assert math.isnan(values[0]) and values[1] is None and values[2] == 1.5


def test_string_bool_int_fields_roundtrip(engine):
    engine.write(
        "pump",
        {
            "time": np.array([1, 2]),
            "site": ["A", "A"],
            "asset": ["P-1", "P-1"],
            "running": pa.array([True, None]),
            "count": pa.array([-(2**63), 2**63 - 1]),
            "note": pa.array(["ok", None]),
        },
    )
    got = rows(engine.read("pump"))
    assert [(r["running"], r["count"], r["note"]) for r in got] == [
        (True, -(2**63), "ok"),
        (None, 2**63 - 1, None),
    ]


def test_latest_is_greatest_time_not_last_inserted(engine):
    s = engine.series("pump", site="A", asset="P-1")
    s.append(100, vibration=1.0)
    s.append(50, vibration=2.0)
    assert rows(engine.latest("pump"))[0]["vibration"] == 1.0
    assert [r["time"] for r in rows(engine.latest("pump", n=2))] == [50, 100]


def test_filters_by_time_tags_and_fields(engine):
    n = 10
    engine.write(
        "pump",
        {
            "time": np.arange(n),
            "site": ["A", "B"] * 5,
            "asset": ["P-1"] * n,
            "vibration": np.arange(n, dtype=float),
        },
    )
    got = engine.read("pump", start=2, end=7, where={"site": "B"}, fields=["vibration"])
    assert got.column_names == ["time", "site", "asset", "vibration"]
    assert got.column("vibration").to_pylist() == [3.0, 5.0]
    got = engine.read(
        "pump",
        where={"site": ["A", "B"], "asset": "P-1"},
        start=dt.datetime(1970, 1, 1),
        end="1970-01-01T00:00:00.000000002Z",
    )
    assert got.column("vibration").to_pylist() == [0.0, 1.0]


def test_old_points_after_sealing_are_placed_in_order():
    e = tsengine.Engine()
    e.create_table("t", tags=["a"], fields={"v": "float64"}, ring_capacity=8)
    e.write(
        "t",
        {
            "time": np.arange(100, 200),
            "a": ["x"] * 100,
            "v": np.arange(100, 200, dtype=float),
        },
    )
    assert e.stats()["tables"]["t"]["sealed_points"] > 0
    e.write(
        "t",
        {
            "time": np.array([5, 150, 250]),
            "a": ["x"] * 3,
            "v": np.array([-5.0, -150.0, -250.0]),
        },
    )
    got = e.read("t")
    t = got.column("time").cast(pa.int64()).to_pylist()
    assert t == [5, *range(100, 200), 250]
    assert got.column("v").to_pylist()[51] == -150.0  # "last" replaced t=150


def test_type_conflict_names_everything_and_stores_nothing(engine):
    with pytest.raises(
        tsengine.SchemaError, match=r"'pump' field 'vibration' is float64.*string"
    ):
        engine.write(
            "pump", {"time": [1], "site": ["A"], "asset": ["P"], "vibration": ["high"]}
        )
    assert engine.read("pump").num_rows == 0


def test_all_or_nothing_across_tables(engine):
    with pytest.raises(tsengine.SchemaError):
        engine.write_many(
            {
                "new_table": {"time": [1], "x": [1.0]},
                "pump": {"time": [1], "site": ["A"], "asset": ["P"], "count": [1.5]},
            }
        )
    assert engine.tables() == ["pump"]
    assert engine.read("pump").num_rows == 0


def test_bad_inputs_raise_clear_errors_and_store_nothing(engine):
    base = {"site": ["A"], "asset": ["P"], "vibration": [1.0]}
    with pytest.raises(tsengine.SchemaError, match="no 'time' column"):
        engine.write("pump", base)
    with pytest.raises(tsengine.SchemaError, match="different lengths"):
        engine.write("pump", {"time": [1, 2], **base})
    with pytest.raises(tsengine.SchemaError, match="cannot write 'str'"):
        engine.write("pump", "time=1")
    with pytest.raises(tsengine.TimestampError, match="row 0 is null"):
        engine.write("pump", {"time": pa.array([None], pa.int64()), **base})
    with pytest.raises(tsengine.TimestampError, match="outside"):
        engine.write("pump", {"time": np.array([10**10], "datetime64[s]"), **base})
    with pytest.raises(
        tsengine.SchemaError, match="'bogus' of table 'pump' has Arrow type list"
    ):
        engine.write("pump", {"time": [1], **base, "bogus": pa.array([[1]])})
    with pytest.raises(tsengine.SchemaError, match="one-dimensional"):
        engine.write("pump", {"time": np.zeros((2, 2), np.int64)})
    with pytest.raises(tsengine.TimestampError, match="row 1 value 1001 ps"):
        engine.write("pump", {"time": np.array([0, 1001], "datetime64[ps]"), **base})
    with pytest.raises(tsengine.TimestampError, match="row 0 is NaT"):
        engine.write("pump", {"time": np.array(["NaT"], "datetime64[h]"), **base})
    frame = pd.DataFrame(
        [["A", "P", 1.0, 1, 2.0, 3.0]], columns=[*base, "time", "x", "x"]
    )
    with pytest.raises(tsengine.SchemaError, match=r"duplicate column names \['x'\]"):
        engine.write("pump", frame)
    mixed = pd.DataFrame({"time": [1, 2], "x": pd.Series([1.0, "two"], dtype=object)})
    with pytest.raises(tsengine.SchemaError, match="column 'x' .*'two'"):
        engine.write("pump", mixed.assign(site="A", asset="P"))
    with pytest.raises(tsengine.SchemaError, match="column 'asset'"):
        engine.write("pump", mixed.assign(x=1.0, site="A", asset=["P", 3]))
    with pytest.raises(tsengine.TableNotFoundError, match="'nope'"):
        engine.read("nope")
    with pytest.raises(tsengine.SchemaError, match="not tags"):
        engine.read("pump", where={"color": "red"})
    assert engine.read("pump").num_rows == 0
    assert engine.stats()["tables"]["pump"]["points"] == 0


def test_empty_batch_is_accepted_and_creates_nothing():
    e = tsengine.Engine()
    assert e.write("ghost", {"time": np.array([], np.int64), "v": np.array([])}) == 0
    assert e.tables() == []


def test_schema_inferred_on_first_write_and_extended():
    e = tsengine.Engine()
    e.write("m", {"time": [1], "host": ["a"], "load": [0.5]})
    assert e.definition("m").tags == ["host"]
    assert e.definition("m").fields == {"load": "float64"}
    e.write("m", {"time": [2], "host": ["a"], "temp": [21]})
    assert e.definition("m").fields == {"load": "float64", "temp": "int64"}
    got = rows(e.read("m"))
    assert got == [
        {"time": 1, "host": "a", "load": 0.5, "temp": None},
        {"time": 2, "host": "a", "load": None, "temp": 21},
    ]
    e.write(
        "m",
        {"time": [3], "host": ["a"], "dc": ["x"], "load": [1.0]},
        tags=["host", "dc"],
    )
    assert [r["dc"] for r in rows(e.read("m"))] == ["x", None, None]


def test_reject_policy_names_series_and_time():
    e = tsengine.Engine()
    e.create_table("t", tags=["a"], fields={"v": "float64"}, duplicates="reject")
    e.write("t", {"time": [5], "a": ["x"], "v": [1.0]})
    with pytest.raises(tsengine.DuplicateError, match=r"t,a=x.*time 5"):
        e.write("t", {"time": [6, 5], "a": ["x", "x"], "v": [2.0, 3.0]})
    assert e.read("t").num_rows == 1


def test_table_options_are_validated():
    e = tsengine.Engine()
    with pytest.raises(tsengine.SchemaError, match="'median'"):
        e.create_table("t", duplicates="median")
    with pytest.raises(tsengine.SchemaError, match="'float128'"):
        e.create_table("t", fields={"v": "float128"})
    with pytest.raises(tsengine.SchemaError, match="0"):
        e.create_table("t", ring_capacity=0)
    e.create_table("t")
    with pytest.raises(tsengine.SchemaError, match="already exists"):
        e.create_table("t", fields={"v": "int64"})


def test_append_rejects_bad_values_without_storing(engine):
    s = engine.series("pump", site="A", asset="P-1")
    with pytest.raises(tsengine.SchemaError, match="'speed'"):
        s.append(1, speed=3.0)
    with pytest.raises(tsengine.SchemaError, match="float64"):
        s.append(1, vibration="fast")
    assert engine.read("pump").num_rows == 0


def test_stats_counts_points_and_bytes():
    e = tsengine.Engine()
    e.create_table("t", fields={"v": "float64"}, ring_capacity=1024)
    e.write("t", {"time": np.arange(1024), "v": np.zeros(1024)})
    st = e.stats()["tables"]["t"]
    assert st["points"] == 1024 and st["series"] == 1
    # Hot tier: 8 bytes time + 8 bytes value, no validity column when nothing is null.
    assert st["hot_bytes"] == 1024 * 16


def test_closed_engine_refuses_work(engine):
    engine.close()
    with pytest.raises(tsengine.ClosedError):
        engine.read("pump")


def test_series_handles_refuse_writes_after_close_and_drop():
    """The per-series fast paths bypass Engine.write: once the engine is closed or
    the table dropped they must refuse, not acknowledge points that land nowhere."""
    e = tsengine.Engine()
    e.create_table("t", tags=["s"], fields={"v": "float64"})
    s = e.series("t", s="a")
    s.extend(np.arange(10), v=np.ones(10))  # the ring exists: fast paths apply
    s.append(10, v=1.0)
    e.close()
    with pytest.raises(tsengine.ClosedError):
        s.append(100, v=1.0)
    with pytest.raises(tsengine.ClosedError):
        s.extend(np.array([200, 201]), v=np.ones(2))

    e = tsengine.Engine()
    e.create_table("t", tags=["s"], fields={"v": "float64"})
    s = e.series("t", s="a")
    s.extend(np.arange(10), v=np.ones(10))
    e.drop_table("t")
    s.append(100, v=2.0)  # goes through Engine.write: a new table "t"
    s.extend(np.array([200, 201]), v=np.ones(2))
    assert e.read("t").column("time").cast(pa.int64()).to_pylist() == [100, 200, 201]


def test_sealed_chunks_are_compressed_and_read_back_identically(shared_data):
    import pandas as pd

    path = shared_data / "nab/realKnownCause/machine_temperature_system_failure.csv"
    frame = pd.read_csv(path)
    t = pd.to_datetime(frame["timestamp"]).astype("int64").to_numpy()
    e = tsengine.Engine()
    e.create_table(
        "t",
        tags=["a"],
        fields={"v": "float64", "hot": "bool"},
        ring_capacity=2048,
        duplicates="keep",
    )
    e.write(
        "t",
        {
            "time": t,
            "a": ["m"] * len(t),
            "v": frame["value"].to_numpy(),
            "hot": frame["value"].to_numpy() > 80,
        },
    )
    before = e.read("t")
    e.flush()  # waits for the compactor
    chunks = e._tables["t"].series[("m",)].sealed
    assert chunks and all(c.encoded for c in chunks)
    after = e.read("t")
    assert after.equals(before)
    # NAB's local-time stamps repeat and step back at DST ends: "keep" holds every
    # point, in time order with ties in arrival order.
    order = np.argsort(t, kind="stable")
    assert after.column("v").to_pylist() == frame["value"].to_numpy()[order].tolist()
    st = e.stats()["tables"]["t"]
    assert st["sealed_points"] + st["hot_points"] == len(t)
    assert st["compression_ratio"] > 2
    assert st["unencoded_bytes"] == 0  # flush waited for every chunk
    assert (
        st["columns"]["time"]["stored_bytes"] * 100 < st["columns"]["time"]["raw_bytes"]
    )
    assert set(st["columns"]["v"]["codecs"]) <= {
        "alp",
        "alp+zstd",
        "alp_rd",
        "alp_rd+zstd",
        "gorilla",
        "chimp128",
        "float_dict",
        "float_dict+zstd",
        "raw",
        "raw+zstd",
    }
    # Old points merged into compressed history still land in order.
    e.write("t", {"time": [int(t[5]) + 1], "a": ["m"], "v": [-1.0]})
    got = e.read("t").column("v").to_pylist()
    assert got[int(np.searchsorted(np.sort(t), t[5], "right"))] == -1.0
    assert len(got) == len(t) + 1


def test_drop_table_in_memory():
    e = tsengine.Engine()
    e.write("t", {"time": [1], "v": [1.0]})
    e.create_rollup("r", "t", "1s", {"v": ["count"]})
    for name in ("t", "r"):  # the rollup's source and its output
        with pytest.raises(tsengine.SchemaError, match="'r'"):
            e.drop_table(name)
    e.drop_rollup("r")  # its table stays, as a plain table
    e.drop_table("r")
    e.drop_table("t")
    assert e.tables() == []
    with pytest.raises(tsengine.TableNotFoundError, match="'t'"):
        e.drop_table("t")
    assert e.last_seq is None and e.durable_seq is None


def test_iso_string_far_outside_the_range_raises_instead_of_wrapping():
    from tsengine.timeconv import to_ns

    with pytest.raises(tsengine.TimestampError, match="9999"):
        to_ns("9999-01-01T00:00:00Z")
    with pytest.raises(tsengine.TimestampError, match="1500"):
        to_ns("1500-01-01")


def test_write_lines_returns_its_result_and_rejects():
    e = tsengine.Engine()
    out = e.write_lines(b"pump,site=A,asset=P-103 vibration=0.2 1700000000000000000")
    assert (out.points, out.rejected) == (1, [])
    out = e.write_lines(b"pump,site=A vibration=0.5 2\nnot a line\n", on_error="skip")
    assert out.points == 1 and [r.line for r in out.rejected] == [2]
    assert e.read("pump").num_rows == 2


def test_pandas_nullable_na_is_null_not_nan():
    e = tsengine.Engine()
    e.create_table("u", fields={"v": "float64"})
    e.write("u", {"time": [1, 2], "v": [5.0, 6.0]})
    e.write(
        "u",
        pd.DataFrame({"time": [1, 3], "v": pd.array([pd.NA, 7.5], dtype="Float64")}),
    )
    # "last" upserts field by field: the null at time 1 leaves 5.0 in place.
    assert e.read("u").column("v").to_pylist() == [5.0, 6.0, 7.5]


def test_iso_nanosecond_strings_past_the_low_end_raise():
    from tsengine.timeconv import to_ns

    with pytest.raises(tsengine.TimestampError, match="outside"):
        to_ns("1677-09-21T00:12:43.145224191Z")
    assert to_ns("1677-09-21T00:12:43.145224193Z") == -(2**63) + 1


def test_integer_too_large_for_any_field_is_a_schema_error():
    e = tsengine.Engine()
    with pytest.raises(tsengine.SchemaError, match="'n'"):
        e.write("t", {"time": [1], "n": [2**64]})
    assert e.tables() == []
    with pytest.raises(tsengine.SchemaError, match=str(2**64)):
        e.write("t", {"time": [1, 2], "n": [5, 2**64]})


def test_python_ints_past_int64_fill_a_uint64_field():
    """Python ints in [2**63, 2**64) are uint64: pyarrow alone infers int64 and
    overflows on them."""
    e = tsengine.Engine()
    e.create_table("t", fields={"u": "uint64", "i": "int64"})
    e.write("t", {"time": [1, 2], "u": [2**64 - 1, 2**63]})
    e.series("t").append(0, u=2**63 + 7)  # out of order: through Engine.write
    assert e.read("t").column("u").to_pylist() == [2**63 + 7, 2**64 - 1, 2**63]
    with pytest.raises(tsengine.SchemaError, match="'i' is int64"):
        e.write("t", {"time": [3], "i": [2**63]})
    inferred = tsengine.Engine()
    inferred.write("n", {"time": [1], "u": [2**63]})
    assert inferred.schema("n").field("u").type == pa.uint64()


def test_duplicate_column_names_and_unencodable_strings_are_schema_errors():
    e = tsengine.Engine()
    for names in (["time", "v", "v"], ["time", "time", "v"]):
        arrays = [pa.array([0, 1]), pa.array([1.0, 2.0]), pa.array([3.0, 4.0])]
        table = pa.Table.from_arrays(arrays, names=names)
        with pytest.raises(tsengine.SchemaError, match="duplicate columns"):
            e.write("t", table)
        with pytest.raises(tsengine.SchemaError, match="duplicate columns"):
            e.write("t", table.to_batches()[0])
    with pytest.raises(tsengine.SchemaError, match="'asset'"):
        e.write("t", {"time": [0], "asset": ["P-\udcff"], "v": [1.0]})
    assert e.tables() == []


def test_argument_and_field_limit_errors_are_tsengine_errors():
    e = tsengine.Engine()
    e.write("t", {"time": [0], "v": [1.0]})
    with pytest.raises(tsengine.ArgumentError, match="n=0"):
        e.latest("t", n=0)
    with pytest.raises(tsengine.ArgumentError, match="'fast'"):
        tsengine.Engine(durability="fast")
    wide = b"m " + b",".join(b"f%d=1" % i for i in range(64)) + b" 1"
    e.write_lines(wide)
    for on_error in ("raise", "skip"):
        with pytest.raises(tsengine.SchemaError, match="'m' has 65 fields"):
            e.write_lines(b"m f0=2 2\nm g=1 3\n", on_error=on_error)
    assert e.read("m").num_rows == 1  # nothing of the refused calls


def test_reads_refuse_a_field_named_twice_and_a_non_string_tag_value():
    e = tsengine.Engine()
    e.write(
        "t",
        {"time": np.arange(3), "b": ["x", "y", "x"], "v": np.ones(3)},
        tags=["b"],
    )
    with pytest.raises(tsengine.ArgumentError, match=r"\['v'\] more than once"):
        e.read("t", fields=["v", "v"])
    for where in ({"b": 1}, {"b": ["x", 2]}):
        with pytest.raises(tsengine.ArgumentError, match="tag 'b'.*strings"):
            e.read("t", where=where)
        with pytest.raises(tsengine.ArgumentError, match="tag 'b'"):
            e.latest("t", where=where)
    assert e.read("t", where={"b": ["x", None]}).num_rows == 2
