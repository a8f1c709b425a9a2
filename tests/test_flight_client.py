"""The helper client ``tsengine.connect``: same answers as the engine it talks to."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import tsengine
from tsengine.flight import client as client_module

HOUR = 3600 * 10**9


@pytest.fixture
def engine():
    eng = tsengine.Engine()
    yield eng
    eng.close()


@pytest.fixture
def server(engine):
    srv = tsengine.serve(engine, "grpc://127.0.0.1:0")
    yield srv
    srv.shutdown()


@pytest.fixture
def client(server):
    c = tsengine.connect(f"grpc://127.0.0.1:{server.port}", timeout=30)
    yield c
    c.close()


def _frame(n: int, seed: int = 0, t0: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=n)
    values[::7] = np.nan  # a value the sensor sent, distinct from null
    return pd.DataFrame(
        {
            "time": t0 + np.arange(n, dtype=np.int64) * 10**9,
            "site": ["north", "south"] * (n // 2),
            "asset": [f"P-{i % 5}" for i in range(n)],
            "vibration": values,
        }
    )


def _same(got: pa.Table, want: pa.Table) -> bool:
    """Equal schemas and values, NaN equal to NaN (Arrow's equals says otherwise)."""
    assert got.schema == want.schema
    pd.testing.assert_frame_equal(got.to_pandas(), want.to_pandas())
    return True


def test_write_inputs_and_read_back(client, engine):
    frame = _frame(1000)
    assert client.write("pump", frame) == 1000
    assert client.write("pump", pl.from_pandas(_frame(1000, 1, t0=10**13))) == 1000
    arrow = pa.Table.from_pandas(_frame(1000, 2, t0=2 * 10**13), preserve_index=False)
    assert client.write("pump", arrow) == 1000
    as_dict = {k: v.to_numpy() for k, v in _frame(1000, 3, t0=3 * 10**13).items()}
    assert client.write("pump", as_dict) == 1000
    assert _same(client.read("pump"), engine.read("pump"))
    assert engine.read("pump").num_rows == 4000
    # NaN stayed NaN, nothing became null
    got = client.read("pump", end=10**13).column("vibration")
    assert got.null_count == 0
    assert np.isnan(got.to_numpy()).sum() == np.isnan(frame["vibration"]).sum()


def test_read_arguments_match_engine(client, engine):
    client.write("pump", _frame(5000))
    cases = [
        {"start": 100 * 10**9, "end": 900 * 10**9},
        {"where": {"site": "north", "asset": ["P-0", "P-2"]}},
        {"fields": ["vibration"], "start": 10},
        {"where": {"asset": "P-9"}},  # no such series: empty, typed result
    ]
    for args in cases:
        got = client.read("pump", **args)
        assert _same(got, engine.read("pump", **args)), args
    stamp = pd.Timestamp("1970-01-01T00:10:00Z")
    assert _same(client.read("pump", start=stamp), engine.read("pump", start=stamp))
    assert client.read("pump", start="-1h").num_rows == 0  # relative to now


def test_latest_tables_schema_stats(client, engine):
    client.write("pump", _frame(100))
    client.write("motor", {"time": [5, 6], "rpm": [1500.0, 1510.0]})
    assert _same(client.latest("pump", n=2), engine.latest("pump", n=2))
    got = client.latest("pump", where={"asset": "P-3"}, fields=["vibration"])
    assert got.num_rows == 2  # P-3 exists on both sites
    assert client.tables() == ["motor", "pump"]
    assert client.schema("pump") == engine.schema("pump")
    stats = client.stats()
    assert stats["engine"]["tables"]["pump"]["points"] == 100
    assert stats["server"]["rows_written"] == 102
    assert client.health()["status"] == "ok"
    assert client.flush()["flushed"] is True


def test_create_table_and_errors(client, engine):
    definition = client.create_table(
        "line", tags=["plant"], fields={"count": "int64"}, ring_capacity=1024
    )
    assert definition["ring_capacity"] == 1024
    assert engine.definition("line").fields == {"count": "int64"}
    with pytest.raises(tsengine.SchemaError, match="already exists"):
        client.create_table("line", fields={"count": "int64"})
    with pytest.raises(tsengine.TableNotFoundError, match="'nope'"):
        client.read("nope")
    with pytest.raises(tsengine.SchemaError, match="'count'"):
        client.write("line", {"time": [1], "plant": ["A"], "count": ["many"]})
    assert engine.read("line").num_rows == 0


def test_large_write_is_split_and_partial_failure_reports_acks(
    client, engine, monkeypatch
):
    monkeypatch.setattr(client_module, "ATOMIC_WRITE_BYTES", 50_000)
    monkeypatch.setattr(client_module, "WRITE_PART_BYTES", 20_000)
    frame = _frame(10_000)
    assert client.write("pump", frame) == 10_000
    assert engine.read("pump").num_rows == 10_000
    # a duplicate-rejecting table: the third part collides with stored points
    engine.create_table(
        "strict",
        tags=["site", "asset"],
        fields={"vibration": "float64"},
        duplicates="reject",
    )
    engine.write("strict", _frame(10, t0=2000 * 10**9))
    with pytest.raises(tsengine.DuplicateError) as info:
        client.write("strict", _frame(4000))
    acks = info.value.acks
    assert len(acks) >= 1 and [a["batch"] for a in acks] == list(range(len(acks)))
    stored = engine.read("strict").num_rows - 10
    assert stored == sum(a["rows"] for a in acks)


def test_subscribe_through_client(client, engine, server):
    client.write("pump", _frame(10))
    subscription = client.subscribe("pump", where={"site": "south"})
    assert subscription.schema == engine.schema("pump")
    other = tsengine.connect(f"grpc://127.0.0.1:{server.port}")

    def produce():
        for i in range(10):
            other.write("pump", _frame(20, seed=i, t0=(i + 1) * HOUR))

    producer = threading.Thread(target=produce)
    producer.start()
    got, rows = [], 0
    for batch in subscription:
        got.append(batch)
        rows += batch.num_rows
        if rows >= 100:
            break
    producer.join()
    subscription.close()
    other.close()
    got = pa.Table.from_batches(got)
    want = pd.concat([_frame(20, seed=i, t0=(i + 1) * HOUR) for i in range(10)])
    want = want[want["site"] == "south"]
    assert rows == len(want) == 100
    assert got.column("time").cast(pa.int64()).to_pylist() == want["time"].tolist()
    assert got.column("asset").to_pylist() == want["asset"].tolist()
    # closing frees the server side
    deadline = threading.Event()
    for _ in range(200):
        if server.counters()["subscriptions"] == 0:
            break
        deadline.wait(0.02)
    assert server.counters()["subscriptions"] == 0


def test_aggregate_matches_engine(client, engine):
    client.write("pump", _frame(3600))
    args = {"every": "1m", "aggs": {"vibration": ["mean", "max"]}, "by": ["asset"]}
    want = engine.aggregate("pump", **args)
    assert _same(client.aggregate("pump", **args), want)
