"""Rollups over Flight: create and drop by DoAction, list, and live closed windows by
DoExchange. The oracle for a closed window is the query-time aggregate of the same
source rows."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import tsengine

pytestmark = pytest.mark.skipif(
    not hasattr(tsengine.Engine, "create_rollup"),
    reason="continuous rollups have not landed in the engine yet",
)

MS = 1_000_000
SPEC = {
    "name": "pump_1ms",
    "source": "pump",
    "every": "1ms",
    "aggs": {"vibration": ["max", "count"]},
    "by": ["asset"],
    "lateness": "0s",
}


def _rows(t0: int, t1: int, seed: int) -> pa.Table:
    """Points every 10 us in [t0, t1) for assets A and B."""
    times = np.arange(t0, t1, 10_000, dtype=np.int64)
    values = np.random.default_rng(seed).normal(size=len(times))
    return pa.table(
        {"time": times, "asset": ["A", "B"] * (len(times) // 2), "vibration": values}
    )


@pytest.fixture
def served():
    engine = tsengine.Engine()
    engine.write("pump", _rows(0, 5 * MS, 0))
    server = tsengine.serve(engine, "grpc://127.0.0.1:0")
    client = flight.connect(f"grpc://127.0.0.1:{server.port}")
    yield engine, server, client
    client.close()
    server.shutdown()
    engine.close()


def _action(client, name: str, body: dict) -> dict:
    results = list(client.do_action(flight.Action(name, json.dumps(body).encode())))
    return json.loads(results[0].body.to_pybytes())


def test_create_list_and_drop_rollup(served):
    engine, _, client = served
    created = _action(client, "create_rollup", SPEC)
    assert created["name"] == "pump_1ms" and created["every"] == "1ms"
    assert engine.rollups() == ["pump_1ms"]
    infos = {bytes(i.descriptor.path[0]).decode(): i for i in client.list_flights()}
    assert sorted(infos) == ["pump", "pump_1ms"]
    assert infos["pump_1ms"].schema.names == [
        "time",
        "asset",
        "vibration_max",
        "vibration_count",
    ]
    assert infos["pump_1ms"].total_records == 8  # windows 0..3 ms closed, per asset
    catalog = client.do_get(flight.Ticket(b'{"kind": "catalog"}')).read_all()
    kinds = dict(
        zip(catalog.column("name").to_pylist(), catalog.column("kind").to_pylist())
    )
    assert kinds == {"pump": "table", "pump_1ms": "rollup"}
    assert _action(client, "drop", {"name": "pump_1ms"}) == {
        "dropped": "pump_1ms",
        "kind": "rollup",
    }
    assert engine.rollups() == []


def test_bad_rollup_requests(served):
    # NOT_FOUND and INVALID_ARGUMENT, the message first naming the tsengine class
    _, _, client = served
    _action(client, "create_rollup", {**SPEC, "name": "taken"})
    for body, cls, prefix, fragment in [
        ({**SPEC, "source": "nope"}, pa.ArrowKeyError, "TableNotFoundError", "'nope'"),
        ({**SPEC, "every": "bogus"}, pa.ArrowInvalid, "ParseError", "'bogus'"),
        ({**SPEC, "colour": "red"}, pa.ArrowInvalid, "RequestError", "'colour'"),
        ({**SPEC, "name": "taken"}, pa.ArrowInvalid, "SchemaError", "'taken'"),
    ]:
        with pytest.raises(cls) as info:
            _action(client, "create_rollup", body)
        message = str(info.value).split(". Detail: ", 1)[0]
        assert type(info.value) is cls, message
        assert message.startswith(f"{prefix}: ") and fragment in message, message


def test_exchange_streams_closed_windows(served):
    engine, _, client = served
    _action(client, "create_rollup", SPEC)
    descriptor = flight.FlightDescriptor.for_command(
        json.dumps({"kind": "subscribe", "table": "pump_1ms"})
    )
    writer, reader = client.do_exchange(descriptor)
    assert json.loads(reader.read_chunk().app_metadata.to_pybytes()) == {
        "subscribed": "pump_1ms"
    }
    for i in range(5, 10):  # each write closes the window before it
        engine.write("pump", _rows(i * MS, (i + 1) * MS, i))
    got, rows = [], 0
    while rows < 2 * 5:  # windows 4..8 ms, two assets
        batch = reader.read_chunk().data
        got.append(batch)
        rows += batch.num_rows
    reader.cancel()
    got = pa.Table.from_batches(got)
    assert rows == 10
    assert got.schema == engine.schema("pump_1ms")

    # oracle: pandas over the same source rows, windows [4 ms, 9 ms)
    source = engine.read("pump", start=4 * MS, end=9 * MS).to_pandas()
    source["window"] = source["time"].astype("int64") // MS * MS
    want = source.groupby(["window", "asset"], observed=True)["vibration"].agg(
        ["max", "count"]
    )
    want = sorted((w, a, m, c) for (w, a), (m, c) in want.iterrows())
    mine = sorted(
        zip(
            got.column("time").cast(pa.int64()).to_pylist(),
            got.column("asset").cast(pa.string()).to_pylist(),
            got.column("vibration_max").to_pylist(),
            got.column("vibration_count").to_pylist(),
        )
    )
    assert mine == want


def test_client_rollup_round_trip(served):
    engine, server, _ = served
    client = tsengine.connect(f"grpc://127.0.0.1:{server.port}")
    spec = {k: v for k, v in SPEC.items() if k != "name"}
    assert client.create_rollup("pump_1ms", **spec)["source"] == "pump"
    with client.subscribe("pump_1ms", where={"asset": "B"}) as subscription:
        engine.write("pump", _rows(5 * MS, 7 * MS, 1))
        batch = next(iter(subscription))
    # the write's greatest time, 6.99 ms, closes the windows of 4 and 5 ms
    assert batch.column("asset").to_pylist() == ["B", "B"]
    assert batch.column("time").cast(pa.int64()).to_pylist() == [4 * MS, 5 * MS]
    assert client.read("pump_1ms", where={"asset": "B"}).num_rows == 6
    assert client.drop("pump_1ms")["kind"] == "rollup"
    client.close()
