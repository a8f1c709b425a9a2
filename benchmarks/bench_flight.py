"""Arrow Flight endpoint against bare pyarrow Flight servers, on loopback.

Three figures, each next to its baseline measured in the same run:

- **DoPut ingest**: rows/s into tsengine (validated, stored, acknowledged per batch)
  versus a bare ``FlightServerBase`` that only receives the same batches;
- **DoGet**: rows/s of a read of 10 M points versus a bare server streaming the same
  table already in memory;
- **latest**: latency of one series' newest point over Flight (median and p99, ms).

Run as pytest-benchmark::

    pytest benchmarks/bench_flight.py --benchmark-only

or as a plain function for the ``tsengine bench`` report::

    python -c "from benchmarks.bench_flight import flight_figures as f; print(f())"
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight
import pytest

import tsengine

SERIES = 10
PUT_BATCH_ROWS = 100_000


def make_table(points: int, series: int = SERIES, t0: int = 0) -> pa.Table:
    """Long-format sensor rows: ``series`` assets, 1 s apart, float readings."""
    per = points // series
    times = t0 + np.tile(np.arange(per, dtype=np.int64) * 10**9, series)
    codes = np.repeat(np.arange(series, dtype=np.int32), per)
    assets = pa.DictionaryArray.from_arrays(
        pa.array(codes), pa.array([f"P-{i:03d}" for i in range(series)])
    )
    values = np.random.default_rng(0).normal(size=per * series)
    return pa.table({"time": times, "asset": assets, "vibration": values})


class BareServer(flight.FlightServerBase):
    """The baseline: receives puts without looking at them, streams one table."""

    def __init__(self, location: str, table: pa.Table | None = None) -> None:
        super().__init__(location)
        self.table = table
        self.rows = 0

    def do_put(self, context, descriptor, reader, writer):
        for chunk in reader:
            self.rows += chunk.data.num_rows

    def do_get(self, context, ticket):
        return flight.RecordBatchStream(self.table)


def _put(client: flight.FlightClient, name: str, batches: list) -> None:
    writer, acks = client.do_put(
        flight.FlightDescriptor.for_path(name), batches[0].schema
    )

    def drain() -> None:
        while acks.read() is not None:
            pass

    drain = threading.Thread(target=drain)
    drain.start()
    for batch in batches:
        writer.write_batch(batch)
    writer.done_writing()
    drain.join()
    writer.close()


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure_put(rows: int = 2_000_000, rounds: int = 5) -> dict[str, float]:
    """Rows/s of DoPut into tsengine and into a bare server (median of rounds)."""
    batches = make_table(rows).to_batches(max_chunksize=PUT_BATCH_ROWS)
    engine = tsengine.Engine()
    ours = tsengine.serve(engine, "grpc://127.0.0.1:0")
    bare = BareServer("grpc://127.0.0.1:0")
    ours_client = flight.connect(f"grpc://127.0.0.1:{ours.port}")
    bare_client = flight.connect(f"grpc://127.0.0.1:{bare.port}")
    try:
        _put(ours_client, "warmup", batches[:2])
        _put(bare_client, "warmup", batches[:2])
        times_ours, times_bare, times_engine = [], [], []
        for _ in range(rounds):
            # A fresh engine: same work every round. The last round's engines are
            # closed first, so their background compression is not still running
            # (and slowing this round) when the clock starts.
            ours.engine.close()
            ours.engine = tsengine.Engine()
            times_bare.append(_timed(lambda: _put(bare_client, "pump", batches)))
            times_ours.append(_timed(lambda: _put(ours_client, "pump", batches)))
            assert ours.engine.stats()["tables"]["pump"]["points"] == rows
            # context: the engine alone, in process, on the same batches
            alone = tsengine.Engine()
            times_engine.append(
                _timed(lambda: [alone.write("pump", b) for b in batches])  # noqa: B023
            )
            alone.close()
    finally:
        ours_client.close()
        bare_client.close()
        ours.shutdown()
        bare.shutdown()
    ours_rate = rows / statistics.median(times_ours)
    bare_rate = rows / statistics.median(times_bare)
    return {
        "put_rows": rows,
        "put_rows_per_s": ours_rate,
        "put_bare_rows_per_s": bare_rate,
        "put_ratio": ours_rate / bare_rate,
        "put_engine_alone_rows_per_s": rows / statistics.median(times_engine),
    }


def _loaded_engine(points: int) -> tsengine.Engine:
    engine = tsengine.Engine()
    engine.create_table(
        "pump", tags=["asset"], fields={"vibration": "float64"}, ring_capacity=1 << 16
    )
    for batch in make_table(points).to_batches(max_chunksize=1_000_000):
        engine.write("pump", batch)
    return engine


def measure_get(points: int = 10_000_000, rounds: int = 5) -> dict[str, float]:
    """Rows/s of a DoGet read of ``points`` versus a bare server streaming the same
    table already materialised (median of rounds)."""
    engine = _loaded_engine(points)
    ours = tsengine.serve(engine, "grpc://127.0.0.1:0")
    bare = BareServer("grpc://127.0.0.1:0", engine.read("pump"))
    ours_client = flight.connect(f"grpc://127.0.0.1:{ours.port}")
    bare_client = flight.connect(f"grpc://127.0.0.1:{bare.port}")
    ticket = flight.Ticket(json.dumps({"kind": "read", "table": "pump"}).encode())
    try:
        times_ours, times_bare = [], []
        for _ in range(rounds + 1):  # the first round warms both up
            times_bare.append(_timed(lambda: bare_client.do_get(ticket).read_all()))
            times_ours.append(_timed(lambda: ours_client.do_get(ticket).read_all()))
        got = ours_client.do_get(ticket).read_all()
        assert got.num_rows == points
        # context: the engine's read alone, in process
        read_alone = statistics.median(
            _timed(lambda: engine.read("pump")) for _ in range(rounds)
        )
    finally:
        ours_client.close()
        bare_client.close()
        ours.shutdown()
        bare.shutdown()
    ours_rate = points / statistics.median(times_ours[1:])
    bare_rate = points / statistics.median(times_bare[1:])
    return {
        "get_points": points,
        "get_rows_per_s": ours_rate,
        "get_bare_rows_per_s": bare_rate,
        "get_ratio": ours_rate / bare_rate,
        "get_engine_read_alone_s": read_alone,
        "get_seconds": statistics.median(times_ours[1:]),
        "get_bare_seconds": statistics.median(times_bare[1:]),
    }


def measure_latest(calls: int = 2000, points: int = 1_000_000) -> dict[str, float]:
    """Latency of ``latest`` for one series over loopback, raw Flight client, in ms."""
    engine = _loaded_engine(points)
    server = tsengine.serve(engine, "grpc://127.0.0.1:0")
    client = flight.connect(f"grpc://127.0.0.1:{server.port}")
    command = {"kind": "latest", "table": "pump", "where": {"asset": "P-003"}}
    ticket = flight.Ticket(json.dumps(command).encode())
    try:
        for _ in range(100):
            client.do_get(ticket).read_all()
        latencies = []
        for _ in range(calls):
            start = time.perf_counter()
            got = client.do_get(ticket).read_all()
            latencies.append(time.perf_counter() - start)
        assert got.num_rows == 1
    finally:
        client.close()
        server.shutdown()
    latencies.sort()
    return {
        "latest_calls": calls,
        "latest_median_ms": 1e3 * statistics.median(latencies),
        "latest_p99_ms": 1e3 * latencies[int(0.99 * (calls - 1))],
    }


def flight_figures(
    get_points: int = 10_000_000,
    put_rows: int = 2_000_000,
    rounds: int = 5,
    latest_calls: int = 2000,
) -> dict[str, Any]:
    """Every Flight figure in one dict, for the ``tsengine bench`` report."""
    figures: dict[str, Any] = {}
    figures.update(measure_put(put_rows, rounds))
    figures.update(measure_get(get_points, rounds))
    figures.update(measure_latest(latest_calls))
    return figures


# -- pytest-benchmark ----------------------------------------------------------------


@pytest.fixture(scope="module")
def put_batches():
    return make_table(1_000_000).to_batches(max_chunksize=PUT_BATCH_ROWS)


@pytest.mark.benchmark(group="flight-doput")
def test_doput_bare(benchmark, put_batches):
    server = BareServer("grpc://127.0.0.1:0")
    client = flight.connect(f"grpc://127.0.0.1:{server.port}")
    benchmark.pedantic(lambda: _put(client, "pump", put_batches), rounds=5)
    client.close()
    server.shutdown()


@pytest.mark.benchmark(group="flight-doput")
def test_doput_tsengine(benchmark, put_batches):
    server = tsengine.serve(tsengine.Engine(), "grpc://127.0.0.1:0")
    client = flight.connect(f"grpc://127.0.0.1:{server.port}")

    def setup():
        server.engine = tsengine.Engine()

    benchmark.pedantic(lambda: _put(client, "pump", put_batches), setup=setup, rounds=5)
    client.close()
    server.shutdown()


@pytest.fixture(scope="module")
def loaded():
    engine = _loaded_engine(10_000_000)
    yield engine
    engine.close()


@pytest.mark.benchmark(group="flight-doget-10M")
def test_doget_bare(benchmark, loaded):
    server = BareServer("grpc://127.0.0.1:0", loaded.read("pump"))
    client = flight.connect(f"grpc://127.0.0.1:{server.port}")
    ticket = flight.Ticket(b"all")
    benchmark.pedantic(lambda: client.do_get(ticket).read_all(), rounds=5)
    client.close()
    server.shutdown()


@pytest.mark.benchmark(group="flight-doget-10M")
def test_doget_tsengine(benchmark, loaded):
    server = tsengine.serve(loaded, "grpc://127.0.0.1:0")
    client = flight.connect(f"grpc://127.0.0.1:{server.port}")
    ticket = flight.Ticket(b'{"kind": "read", "table": "pump"}')
    benchmark.pedantic(lambda: client.do_get(ticket).read_all(), rounds=5)
    client.close()
    server.shutdown()


@pytest.mark.benchmark(group="flight-latest")
def test_latest_one_series(benchmark, loaded):
    server = tsengine.serve(loaded, "grpc://127.0.0.1:0")
    client = flight.connect(f"grpc://127.0.0.1:{server.port}")
    ticket = flight.Ticket(
        b'{"kind": "latest", "table": "pump", "where": {"asset": "P-003"}}'
    )
    result = benchmark(lambda: client.do_get(ticket).read_all())
    assert result.num_rows == 1
    client.close()
    server.shutdown()


if __name__ == "__main__":
    for key, value in flight_figures().items():
        print(
            f"{key:>28}: {value:,.3f}"
            if isinstance(value, float)
            else f"{key:>28}: {value}"
        )
