"""Writers wait while the compactor's backlog of plain sealed chunks is over its
limit, so sustained ingest cannot outgrow memory, and nothing written is lost."""

from __future__ import annotations

import threading
import time

import numpy as np
import pyarrow.compute as pc

import tsengine

CAPACITY = 64  # a quarter ring, 16 points, seals per chunk


def _batch(start: int, n: int = 200) -> dict:
    t = np.arange(start, start + n, dtype=np.int64)
    return {"time": t, "v": t.astype(np.float64)}


def _paused_engine(path=None, rollup: bool = False):
    """An engine whose compactor encodes nothing until the returned event is set,
    with a backlog limit of one byte."""
    engine = tsengine.Engine(path)
    engine.create_table("t", fields={"v": "float64"}, ring_capacity=CAPACITY)
    if rollup:
        engine.create_rollup("t_10", "t", 10, {"v": ["count", "sum"]})
    compactor = engine._compactor
    compactor.max_backlog = 1
    go = threading.Event()
    compact = compactor._compact

    def paused(*item):
        go.wait(30)
        compact(*item)

    compactor._compact = paused
    return engine, go


def test_a_writer_waits_for_the_compactor_then_stores_everything():
    engine, go = _paused_engine()
    engine.write("t", _batch(0))  # seals chunks: the backlog is now over the limit
    assert engine._compactor.backlog > 1
    done = threading.Event()

    def second():
        engine.write("t", _batch(200))
        done.set()

    writer = threading.Thread(target=second, daemon=True)
    writer.start()
    # The second write cannot start while nothing is encoded
    assert not done.wait(0.5)
    assert engine.read("t").num_rows == 200
    go.set()
    assert done.wait(30)
    writer.join(30)
    engine.flush()
    assert engine._compactor.backlog == 0
    times = engine.read("t").column("time").cast("int64").to_numpy()
    assert times.tolist() == list(range(400))
    engine.close()


def test_backlog_after_each_write_is_at_most_what_that_write_sealed():
    engine = tsengine.Engine()
    engine.create_table("t", fields={"v": "float64"}, ring_capacity=CAPACITY)
    compactor = engine._compactor
    compactor.max_backlog = 0
    compact = compactor._compact

    def slow(*item):  # a compactor far slower than the writer
        time.sleep(0.002)
        compact(*item)

    compactor._compact = slow
    per_point = 16  # int64 time + float64 value, no nulls
    for i in range(30):
        engine.write("t", _batch(200 * i))
        # wait_for_room emptied the backlog before this write, which sealed its
        # 200 rows plus at most one ring's worth to make room
        assert compactor.backlog <= (200 + CAPACITY) * per_point
    engine.flush()
    assert engine._compactor.backlog == 0
    assert engine.read("t").num_rows == 30 * 200
    engine.close()


def test_rollup_output_writes_do_not_wait_on_the_backlog(tmp_path):
    # A durable engine's rollup writes its windows inside the source write, which
    # holds the source table's lock; waiting there for the compactor (which needs
    # that lock) would never end. The test runs the writes on a thread so that a
    # deadlock fails it instead of hanging the suite.
    engine, go = _paused_engine(tmp_path / "e", rollup=True)
    go.set()
    done = threading.Event()

    def write_all():
        for i in range(10):
            engine.write("t", _batch(200 * i))
        done.set()

    threading.Thread(target=write_all, daemon=True).start()
    assert done.wait(60)
    engine.flush()
    out = engine.read("t_10")
    assert pc.sum(out.column("v_count")).as_py() == 10 * 200 - 10
    engine.close()
