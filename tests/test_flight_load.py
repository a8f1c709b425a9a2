"""Load: 8 client threads mixing DoPut and DoGet against one ``tsengine serve``.

The server runs as its own process so its memory can be watched apart from the
clients'. Every thread writes its own series and reads it back after each put, so
each read checks exactly what that thread was acknowledged so far. The default run
lasts 5 s; the 20 s run of the issue is marked slow.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.flight as flight
import pytest
from test_flight_cli import start_serve, stop

THREADS = 8
ROWS_PER_PUT = 2000


def _client_loop(port: int, worker: int, deadline: float, result: dict) -> None:
    client = flight.connect(f"grpc://127.0.0.1:{port}")
    written = 0
    try:
        descriptor = flight.FlightDescriptor.for_path("load")
        while time.monotonic() < deadline:
            # put: one batch of consecutive times for this worker's series
            times = np.arange(written, written + ROWS_PER_PUT, dtype=np.int64)
            batch = pa.record_batch(
                {
                    "time": times,
                    "worker": pa.array([f"w{worker}"] * ROWS_PER_PUT),
                    "v": times.astype(np.float64) * 0.5,
                }
            )
            writer, acks = client.do_put(descriptor, batch.schema)
            writer.write_batch(batch)
            ack = json.loads(acks.read().to_pybytes())
            writer.close()
            if ack["rows"] != ROWS_PER_PUT:
                raise AssertionError(f"ack {ack!r} for {ROWS_PER_PUT} rows")
            written += ROWS_PER_PUT

            # get: everything acknowledged so far is readable, in order
            command = {
                "kind": "read",
                "table": "load",
                "where": {"worker": f"w{worker}"},
            }
            ticket = flight.Ticket(json.dumps(command).encode())
            got = client.do_get(ticket).read_all()
            if got.num_rows != written:
                raise AssertionError(
                    f"worker {worker}: read {got.num_rows} of {written}"
                )
            last = got.column("v")[-1].as_py()
            if last != (written - 1) * 0.5:
                raise AssertionError(f"worker {worker}: last value {last!r}")
        result[worker] = written
    except BaseException as exc:  # reported by the test, never swallowed
        result[worker] = exc
    finally:
        client.close()


def _run_load(seconds: float) -> None:
    proc, port = start_serve()
    server = psutil.Process(proc.pid)
    samples: list[int] = []
    stop_sampling = threading.Event()

    def sample() -> None:
        while not stop_sampling.wait(0.1):
            samples.append(server.memory_info().rss)

    try:
        baseline = server.memory_info().rss
        sampler = threading.Thread(target=sample)
        sampler.start()
        deadline = time.monotonic() + seconds
        result: dict = {}
        workers = [
            threading.Thread(target=_client_loop, args=(port, w, deadline, result))
            for w in range(THREADS)
        ]
        for t in workers:
            t.start()
        for t in workers:
            t.join(seconds + 120)
        stop_sampling.set()
        sampler.join()

        # no errors, and every acknowledged row is there
        errors = [r for r in result.values() if isinstance(r, BaseException)]
        assert not errors, errors
        assert len(result) == THREADS
        client = flight.connect(f"grpc://127.0.0.1:{port}")
        got = client.do_get(flight.Ticket(b'{"kind": "read", "table": "load"}'))
        table = got.read_all()
        client.close()
        assert table.num_rows == sum(result.values())
        for worker, written in result.items():
            assert written >= ROWS_PER_PUT, "every worker got at least one turn"
            mask = pa.compute.equal(table.column("worker"), f"w{worker}")
            times = table.filter(mask).column("time").cast(pa.int64()).to_numpy()
            np.testing.assert_array_equal(times, np.arange(written))

        # bounded memory: the stored data plus a fixed allowance, not per-request growth
        stored = table.num_rows * (8 + 8 + 4)
        peak = max(samples, default=baseline)
        assert peak - baseline < 4 * stored + 256 * 2**20, (baseline, peak, stored)
    finally:
        status, log = stop(proc)
    assert status == 0, log


def test_load_short():
    _run_load(5.0)


@pytest.mark.slow
def test_load_20s():
    _run_load(20.0)
