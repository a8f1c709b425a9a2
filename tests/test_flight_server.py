"""Every Flight endpoint through a raw ``pyarrow.flight.FlightClient``.

The oracle is the engine itself, called in-process on the same data: what the server
sends must equal what ``engine.read``/``latest`` return, row for row.
"""

from __future__ import annotations

import gc
import json
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import tsengine
import tsengine.flight.server as server_module
from tsengine._config import MAX_BATCH_BYTES

N = 20_000


def _data(n: int = N, seed: int = 0, t0: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "time": pa.array(t0 + np.arange(n, dtype=np.int64) * 1000),
            "asset": pa.array([f"P-{i % 4}" for i in range(n)]),
            "vibration": pa.array(rng.normal(size=n)),
            "running": pa.array(rng.random(n) > 0.5),
        }
    )


@pytest.fixture
def engine():
    eng = tsengine.Engine()
    eng.write("pump", _data())
    yield eng
    eng.close()


@pytest.fixture
def server(engine):
    srv = tsengine.serve(engine, "grpc://127.0.0.1:0")
    yield srv
    srv.shutdown()


@pytest.fixture
def client(server):
    raw = flight.connect(f"grpc://127.0.0.1:{server.port}")
    yield raw
    raw.close()


def _ticket(**command) -> flight.Ticket:
    return flight.Ticket(json.dumps(command).encode())


def _action(client, name: str, body: dict | None = None) -> dict:
    payload = b"" if body is None else json.dumps(body).encode()
    results = list(client.do_action(flight.Action(name, payload)))
    assert len(results) == 1
    return json.loads(results[0].body.to_pybytes())


def _put(client, table, batches, schema):
    """DoPut with acks read on a thread; returns (acks, error or None)."""
    writer, acks_in = client.do_put(flight.FlightDescriptor.for_path(table), schema)
    acks: list[dict] = []

    def collect():
        while (message := acks_in.read()) is not None:
            acks.append(json.loads(message.to_pybytes()))

    reader = threading.Thread(target=collect)
    reader.start()
    error = None
    try:
        for batch in batches:
            writer.write_batch(batch)
        writer.done_writing()
    except flight.FlightError as exc:  # pragma: no cover - depends on timing
        error = exc
    except pa.ArrowException as exc:
        error = exc
    reader.join(10)
    try:
        writer.close()
    except pa.ArrowException as exc:
        error = exc
    return acks, error


# -- DoGet ---------------------------------------------------------------------------


def test_do_get_read_equals_engine_read(client, engine):
    got = client.do_get(_ticket(kind="read", table="pump")).read_all()
    assert got.equals(engine.read("pump"))


def test_do_get_read_with_range_where_fields(client, engine):
    args = {
        "start": 5_000_000,
        "end": 9_000_000,
        "where": {"asset": ["P-1", "P-3"]},
        "fields": ["vibration"],
    }
    got = client.do_get(_ticket(kind="read", table="pump", **args)).read_all()
    want = engine.read("pump", **args)
    assert got.num_rows == 2000 and got.equals(want)
    assert got.column_names == ["time", "asset", "vibration"]


def test_do_get_time_strings(client, engine):
    ticket = _ticket(kind="read", table="pump", start="1970-01-01T00:00:00.005Z")
    got = client.do_get(ticket).read_all()
    assert got.equals(engine.read("pump", start=5_000_000))


def test_do_get_latest(client, engine):
    got = client.do_get(_ticket(kind="latest", table="pump", n=3)).read_all()
    assert got.equals(engine.latest("pump", n=3))
    assert got.num_rows == 12


def test_do_get_aggregate_and_its_flight_info(client, engine):
    args = {
        "every": "1ms",
        "aggs": {"vibration": ["mean", "max", "count"], "running": ["count"]},
        "by": ["asset"],
        "start": 0,
        "end": 25_000_000,  # past the data: empty windows come back with count 0
    }
    command = {"kind": "aggregate", "table": "pump", **args}
    got = client.do_get(_ticket(**command)).read_all()
    want = engine.aggregate("pump", **args)
    assert got.equals(want)
    assert got.num_rows == 4 * 25
    descriptor = flight.FlightDescriptor.for_command(json.dumps(command))
    info = client.get_flight_info(descriptor)
    assert info.schema == want.schema and info.total_records == want.num_rows
    assert client.do_get(info.endpoints[0].ticket).read_all().equals(want)


def test_do_get_catalog(client, engine):
    got = client.do_get(_ticket(kind="catalog")).read_all().to_pylist()
    assert [row["name"] for row in got] == ["pump"]
    row = got[0]
    assert row["kind"] == "table" and row["rows"] == N and row["series"] == 4
    assert row["tags"] == ["asset"]
    assert json.loads(row["fields"]) == {"vibration": "float64", "running": "bool"}


def test_do_get_streams_bounded_zero_copy_batches(engine, client):
    # 2 M points of one series: ~32 MB, more than one batch of MAX_BATCH_BYTES
    n = 2_000_000
    engine.create_table("big", fields={"v": "float64"}, ring_capacity=1 << 16)
    engine.write("big", {"time": np.arange(n), "v": np.arange(n, dtype=np.float64)})
    reader = client.do_get(_ticket(kind="read", table="big"))
    sizes, rows = [], 0
    for chunk in reader:
        sizes.append(chunk.data.nbytes)
        rows += chunk.data.num_rows
        first = chunk.data.column("v")[0].as_py()
        assert first == rows - chunk.data.num_rows  # in order, no row lost or doubled
    assert rows == n
    assert len(sizes) >= (n * 16) // MAX_BATCH_BYTES
    assert max(sizes) <= MAX_BATCH_BYTES + 16


def test_do_get_in_many_parts_equals_the_engine_read(engine, client, monkeypatch):
    # parts of 256 kB: a 4-series read of 1.2 M points streams as dozens of parts,
    # each sent by Arrow's C++ code with its own copy of the tag dictionary
    monkeypatch.setattr(server_module, "STREAM_PART_BYTES", 256 * 1024)
    n = 1_200_000
    engine.create_table(
        "multi", tags=["asset"], fields={"v": "float64"}, ring_capacity=1 << 14
    )
    engine.write(
        "multi",
        {
            "time": np.arange(n),
            "asset": [f"A-{i % 4}" for i in range(n)],
            "v": np.arange(n, dtype=np.float64),
        },
    )
    want = engine.read("multi")
    reader = client.do_get(_ticket(kind="read", table="multi"))
    batches = [chunk.data for chunk in reader]
    assert reader.stats.num_dictionary_batches > 10  # one per part: many parts
    got = pa.Table.from_batches(batches)
    assert got.num_rows == n
    for name in ("time", "asset", "v"):
        assert got.column(name).to_pylist() == want.column(name).to_pylist()


def test_shutdown_cuts_a_stream_short_with_an_error(engine, monkeypatch):
    monkeypatch.setattr(server_module, "STREAM_PART_BYTES", 256 * 1024)
    n = 4_000_000  # 64 MB: more than gRPC can buffer ahead of a client that waits
    engine.create_table("huge", fields={"v": "float64"}, ring_capacity=1 << 16)
    engine.write("huge", {"time": np.arange(n), "v": np.zeros(n)})
    srv = tsengine.serve(engine, "grpc://127.0.0.1:0")
    raw = flight.connect(f"grpc://127.0.0.1:{srv.port}")
    reader = raw.do_get(_ticket(kind="read", table="huge"))
    rows = reader.read_chunk().data.num_rows
    stopper = threading.Thread(target=srv.shutdown)
    stopper.start()
    srv._stopping.wait(10)
    with pytest.raises(flight.FlightUnavailableError, match="shutting down"):
        while True:
            rows += reader.read_chunk().data.num_rows
    assert rows < n
    stopper.join(10)
    assert not stopper.is_alive()
    raw.close()


def test_get_flight_info_ticket_round_trip(client, engine):
    command = {"kind": "read", "table": "pump", "where": {"asset": "P-2"}}
    descriptor = flight.FlightDescriptor.for_command(json.dumps(command))
    info = client.get_flight_info(descriptor)
    assert info.schema == engine.schema("pump")
    assert len(info.endpoints) == 1
    got = client.do_get(info.endpoints[0].ticket).read_all()
    assert got.equals(engine.read("pump", where={"asset": "P-2"}))


def test_get_flight_info_path_and_get_schema(client, engine):
    info = client.get_flight_info(flight.FlightDescriptor.for_path("pump"))
    assert info.schema == engine.schema("pump")
    got = client.do_get(info.endpoints[0].ticket).read_all()
    assert got.num_rows == N
    schema = client.get_schema(flight.FlightDescriptor.for_path("pump")).schema
    assert schema == engine.schema("pump")
    command = json.dumps({"kind": "latest", "table": "pump", "fields": ["running"]})
    schema = client.get_schema(flight.FlightDescriptor.for_command(command)).schema
    assert schema.names == ["time", "asset", "running"]


def test_list_flights(client, engine):
    engine.create_table("empty", tags=["site"], fields={"x": "int64"})
    infos = {bytes(i.descriptor.path[0]).decode(): i for i in client.list_flights()}
    assert sorted(infos) == ["empty", "pump"]
    assert infos["pump"].total_records == N
    assert infos["empty"].total_records == 0
    assert infos["pump"].schema == engine.schema("pump")
    got = client.do_get(infos["pump"].endpoints[0].ticket).read_all()
    assert got.num_rows == N
    only = [bytes(i.descriptor.path[0]) for i in client.list_flights(b"em*")]
    assert only == [b"empty"]


# -- DoPut ---------------------------------------------------------------------------


def test_do_put_acknowledges_each_batch(client, engine):
    data = _data(3000, seed=1, t0=10**12)
    batches = data.to_batches(max_chunksize=1000)
    acks, error = _put(client, "pump", batches, data.schema)
    assert error is None
    assert acks == [
        {"batch": i, "rows": 1000, "seq": None, "durable_seq": None} for i in range(3)
    ]
    assert engine.read("pump", start=10**12).num_rows == 3000
    for asset in ("P-0", "P-1", "P-2", "P-3"):
        mine = data.filter(pa.compute.equal(data.column("asset"), asset))
        stored = engine.read("pump", start=10**12, where={"asset": asset})
        assert stored.column("vibration").equals(mine.column("vibration"))


def test_do_put_bad_batch_keeps_earlier_batches(client, engine):
    schema = pa.schema(
        [("time", pa.int64()), ("asset", pa.string()), ("v", pa.float64())]
    )
    good = pa.record_batch(
        [pa.array([1, 2]), pa.array(["A", "A"]), pa.array([1.0, 2.0])], schema=schema
    )
    zero = pa.RecordBatch.from_pylist([], schema=schema)
    bad_time = pa.record_batch(
        [pa.array([None, 5], pa.int64()), pa.array(["A", "A"]), pa.array([3.0, 4.0])],
        schema=schema,
    )
    after = pa.record_batch(
        [pa.array([9]), pa.array(["A"]), pa.array([9.0])], schema=schema
    )
    acks, error = _put(client, "fresh", [good, zero, bad_time, after], schema)
    assert [a["batch"] for a in acks] == [0, 1]
    assert [a["rows"] for a in acks] == [2, 0]
    # INVALID_ARGUMENT, naming the batch and what is wrong with it
    assert type(error) is pa.ArrowInvalid
    message = str(error).split(". Detail: ", 1)[0]
    assert message.startswith("TimestampError: batch 2 of the put to table 'fresh'")
    assert "null" in message, message
    stored = engine.read("fresh")
    assert stored.column("v").to_pylist() == [1.0, 2.0]


def test_do_put_client_vanishing_mid_stream(server, engine):
    data = _data(2000, seed=3, t0=10**14)
    leaving = flight.connect(f"grpc://127.0.0.1:{server.port}")
    writer, acks_in = leaving.do_put(
        flight.FlightDescriptor.for_path("pump"), data.schema
    )
    writer.write_batch(data.to_batches(max_chunksize=1000)[0])
    assert json.loads(acks_in.read().to_pybytes())["rows"] == 1000
    leaving.close()  # no done_writing: the call is cut off
    fresh = flight.connect(f"grpc://127.0.0.1:{server.port}")
    assert _action(fresh, "health")["status"] == "ok"
    assert engine.read("pump", start=10**14).num_rows == 1000
    fresh.close()


def test_do_put_type_conflict_names_field(client, engine):
    schema = pa.schema(
        [("time", pa.int64()), ("asset", pa.string()), ("vibration", pa.string())]
    )
    batch = pa.record_batch(
        [pa.array([1]), pa.array(["P-0"]), pa.array(["x"])], schema=schema
    )
    acks, error = _put(client, "pump", [batch], schema)
    assert acks == []
    assert type(error) is pa.ArrowInvalid
    message = str(error).split(". Detail: ", 1)[0]
    assert message.startswith("SchemaError: batch 0") and "'vibration'" in message
    assert engine.read("pump").num_rows == N


def test_do_put_schema_only_and_zero_rows(client, engine):
    schema = _data(1).schema
    acks, error = _put(client, "pump", [], schema)
    assert error is None and acks == []
    zero = pa.RecordBatch.from_pylist([], schema=schema)
    acks, error = _put(client, "pump", [zero], schema)
    assert error is None
    assert acks == [{"batch": 0, "rows": 0, "seq": None, "durable_seq": None}]
    assert engine.read("pump").num_rows == N


def test_do_put_command_descriptor_with_tags_and_unit(client, engine):
    schema = pa.schema(
        [("time", pa.int64()), ("line", pa.string()), ("code", pa.string())]
    )
    batch = pa.record_batch(
        [pa.array([1, 2]), pa.array(["L1", "L1"]), pa.array(["ok", "bad"])],
        schema=schema,
    )
    command = {"kind": "write", "table": "events", "tags": ["line"], "unit": "s"}
    writer, acks_in = client.do_put(
        flight.FlightDescriptor.for_command(json.dumps(command)), schema
    )
    writer.write_batch(batch)
    ack = json.loads(acks_in.read().to_pybytes())
    writer.close()
    assert ack["rows"] == 2
    assert engine.definition("events").tags == ["line"]
    assert engine.definition("events").fields == {"code": "string"}
    assert engine.read("events").column("time").cast(pa.int64()).to_pylist() == [
        10**9,
        2 * 10**9,
    ]


# -- DoAction ------------------------------------------------------------------------


def test_actions(client, engine):
    listed = {a.type for a in client.list_actions()}
    assert listed == {
        "health",
        "stats",
        "flush",
        "create_table",
        "create_rollup",
        "drop",
    }
    health = _action(client, "health")
    assert health["status"] == "ok" and health["version"] == tsengine.__version__
    stats = _action(client, "stats")
    assert stats["engine"]["tables"]["pump"]["points"] == N
    assert stats["server"]["active_streams"] == 0
    assert _action(client, "flush") == {"flushed": True, "durable_seq": None}
    created = _action(
        client,
        "create_table",
        {
            "name": "motor",
            "tags": ["site"],
            "fields": {"rpm": "float64"},
            "duplicates": "first",
        },
    )
    assert created["fields"] == {"rpm": "float64"} and created["duplicates"] == "first"
    assert engine.definition("motor").duplicates == "first"


def test_drop_action(client, engine):
    if not hasattr(engine, "drop_table"):
        with pytest.raises(pa.ArrowNotImplementedError, match="drop_table"):
            _action(client, "drop", {"name": "pump"})
        return
    assert _action(client, "drop", {"name": "pump"}) == {
        "dropped": "pump",
        "kind": "table",
    }
    assert "pump" not in engine.tables()


# -- DoExchange ------------------------------------------------------------------------


def _subscribe(client, **command):
    descriptor = flight.FlightDescriptor.for_command(
        json.dumps({"kind": "subscribe", **command})
    )
    writer, reader = client.do_exchange(descriptor)
    first = reader.read_chunk()
    assert first.data is None
    assert json.loads(first.app_metadata.to_pybytes()) == {
        "subscribed": command["table"]
    }
    return writer, reader


def test_exchange_receives_new_rows_in_order_once(client, engine, server):
    engine.write("pump", _data(100, seed=5, t0=10**15))  # before: must not arrive
    writer, reader = _subscribe(client, table="pump", where={"asset": ["P-1", "P-2"]})
    written = []

    def produce():
        for i in range(20):
            part = _data(50, seed=10 + i, t0=10**13 + i * 10**8)
            engine.write("pump", part)
            written.append(part)

    producer = threading.Thread(target=produce)
    producer.start()
    producer.join()
    want = pa.concat_tables(written)
    want = want.filter(pa.compute.is_in(want.column("asset"), pa.array(["P-1", "P-2"])))
    got, rows = [], 0
    while rows < want.num_rows:
        chunk = reader.read_chunk()
        got.append(chunk.data)
        rows += chunk.data.num_rows
    reader.cancel()
    got = pa.Table.from_batches(got)
    assert rows == want.num_rows  # nothing twice, nothing from before
    assert got.column("time").cast(pa.int64()).to_pylist() == (
        want.column("time").to_pylist()
    )
    assert got.column("vibration").to_pylist() == want.column("vibration").to_pylist()
    assert got.column("asset").to_pylist() == want.column("asset").to_pylist()
    _wait_for(lambda: server.counters()["subscriptions"] == 0)
    assert engine._listeners.get("pump") == []


def test_exchange_fields_and_unknown_table(client, engine):
    writer, reader = _subscribe(client, table="pump", fields=["running"])
    engine.write("pump", _data(10, t0=10**14))
    chunk = reader.read_chunk()
    assert chunk.data.schema.names == ["time", "asset", "running"]
    assert chunk.data.num_rows == 10
    reader.cancel()
    descriptor = flight.FlightDescriptor.for_command(
        json.dumps({"kind": "subscribe", "table": "nope"})
    )
    writer, reader = client.do_exchange(descriptor)
    with pytest.raises(pa.ArrowKeyError, match="'nope'"):
        reader.read_chunk()


def test_exchange_slow_subscriber_overflows_with_clear_error(engine):
    srv = tsengine.serve(engine, "grpc://127.0.0.1:0", subscriber_max_bytes=100_000)
    raw = flight.connect(f"grpc://127.0.0.1:{srv.port}")
    try:
        writer, reader = _subscribe(raw, table="pump")
        for i in range(10):  # 10 x 20k rows: far more than 100 kB queued
            engine.write("pump", _data(t0=10**13 + i * 10**9))
        with pytest.raises(flight.FlightUnavailableError, match="resubscribe"):
            while True:
                reader.read_chunk()
    finally:
        raw.close()
        srv.shutdown()


def test_shutdown_ends_subscriptions(engine):
    srv = tsengine.serve(engine, "grpc://127.0.0.1:0")
    raw = flight.connect(f"grpc://127.0.0.1:{srv.port}")
    writer, reader = _subscribe(raw, table="pump")
    stopper = threading.Thread(target=srv.shutdown)
    stopper.start()
    end = reader.read_chunk()
    assert json.loads(end.app_metadata.to_pybytes()) == {"end": "server shutting down"}
    stopper.join(10)
    assert not stopper.is_alive()
    raw.close()


# -- resources and lifecycle ---------------------------------------------------------


def _wait_for(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        gc.collect()
        time.sleep(0.02)


def test_client_disconnect_mid_stream_frees_the_result(engine, server, client):
    n = 2_000_000
    engine.create_table("big", fields={"v": "float64"}, ring_capacity=1 << 16)
    engine.write("big", {"time": np.arange(n), "v": np.zeros(n)})
    reader = client.do_get(_ticket(kind="read", table="big"))
    reader.read_chunk()
    assert server.counters()["active_streams"] == 1
    reader.cancel()
    del reader
    _wait_for(lambda: server.counters()["active_streams"] == 0)
    # and the server still answers
    assert _action(client, "health")["status"] == "ok"


def test_shutdown_flushes_the_engine():
    class Spy(tsengine.Engine):
        flushed = 0

        def flush(self):
            Spy.flushed += 1
            super().flush()

    srv = tsengine.serve(Spy(), "grpc://127.0.0.1:0")
    srv.shutdown()
    srv.shutdown()  # idempotent
    assert Spy.flushed == 1


@pytest.mark.parametrize("durability", ["sync", "interval"])
def test_do_put_durable_acks(tmp_path, durability):
    engine = tsengine.Engine(tmp_path / "plant", durability=durability)
    srv = tsengine.serve(engine, "grpc://127.0.0.1:0")
    raw = flight.connect(f"grpc://127.0.0.1:{srv.port}")
    data = _data(3000, seed=2)
    try:
        acks, error = _put(
            raw, "pump", data.to_batches(max_chunksize=1000), data.schema
        )
        assert error is None and [a["rows"] for a in acks] == [1000] * 3
        seqs = [a["seq"] for a in acks]
        assert all(isinstance(s, int) for s in seqs) and seqs == sorted(set(seqs))
        if durability == "sync":
            assert all(a["durable_seq"] >= a["seq"] for a in acks)
        flushed = _action(raw, "flush")
        assert flushed["durable_seq"] >= seqs[-1]
    finally:
        raw.close()
        srv.shutdown()
        engine.close()
    with tsengine.Engine(tmp_path / "plant") as reopened:
        assert reopened.read("pump").num_rows == 3000
