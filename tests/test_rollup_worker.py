"""The background worker of in-memory rollups: commit order, its own output, idling.

Reads, stats and subscriptions bring a rollup up to date themselves (the other rollup
tests go through them); these tests watch the worker alone, every wait bounded.
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa

import tsengine
from tsengine.rollup import live as live_module

S = 1_000_000_000


def engine_with_rollup():
    e = tsengine.Engine()
    e.create_table("pump", tags=["asset"], fields={"v": "float64"})
    e.create_rollup("r", "pump", "1s", {"v": ["count", "sum"]}, by=["asset"])
    return e, e._rollups._live["r"]


def write(engine, seconds, value=1.0):
    times = (np.asarray(seconds) * S).astype(np.int64)
    engine.write(
        "pump", {"time": times, "asset": ["A"] * times.size, "v": [value] * times.size}
    )


def wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.01)


def test_the_worker_writes_closed_windows_without_being_asked():
    engine, live = engine_with_rollup()
    write(engine, np.arange(0, 5, 0.5))
    # Nothing reads the rollup: the worker alone takes the write in and writes out
    wait_for(lambda: len(engine._tables["r"].series) == 1)
    got = engine.read("r")
    assert got.column("v_count").to_pylist() == [2, 2, 2, 2]
    engine.close()


def test_writes_are_taken_in_in_commit_order_across_many_writes():
    engine, live = engine_with_rollup()
    sub = engine.subscribe("r", timeout=0.5)
    # Many small writes, with a late point after each window closes
    for k in range(200):
        write(engine, [k + 0.25, k + 0.75])
        if k % 10 == 9:
            write(engine, [k - 5.0], value=100.0)  # late: its window has closed
    stats = engine.stats()["rollups"]["r"]
    assert stats["late_dropped"] == 20
    got = pa.Table.from_batches(list(sub))
    times = got.column("time").cast(pa.int64()).to_numpy()
    assert np.array_equal(times, np.arange(199) * S)  # each window once, in order
    assert got.column("v_sum").to_pylist() == [2.0] * 199  # no late value counted
    engine.close()


def test_an_idle_worker_ends_and_the_next_write_starts_another(monkeypatch):
    monkeypatch.setattr(live_module, "IDLE_EXIT", 0.05)
    engine, live = engine_with_rollup()
    write(engine, [0.5, 1.5])
    wait_for(lambda: live._worker is None)
    write(engine, [2.5, 3.5])
    assert live._worker is not None or not live._queue
    assert engine.read("r").column("v_count").to_pylist() == [1, 1, 1]
    engine.close()


def test_a_long_queue_is_taken_in_by_the_writer(monkeypatch):
    monkeypatch.setattr(live_module, "MAX_QUEUED", 0)
    engine, live = engine_with_rollup()
    write(engine, [0.5, 1.5, 2.5])
    # With no room in the queue the write returns with its windows written
    assert not live._queue and not live._marks
    assert len(engine._tables["r"].series) == 1
    engine.close()
