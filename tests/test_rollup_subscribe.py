"""Subscriptions to rollups: each closed window once, in order, and how they end."""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pytest

import tsengine
from tsengine.rollup.subscribe import Subscription

S = 1_000_000_000


@pytest.fixture
def engine():
    e = tsengine.Engine()
    e.create_table("pump", tags=["asset"], fields={"v": "float64"})
    e.create_rollup(
        "r", "pump", "1s", {"v": ["count", "sum"]}, by=["asset"], lateness="1s"
    )
    return e


def write_seconds(engine, lo, hi, step=0.25):
    times = (np.arange(lo, hi, step) * S).astype(np.int64)
    n = times.size
    engine.write(
        "pump",
        {"time": np.repeat(times, 2), "asset": ["A", "B"] * n, "v": np.ones(2 * n)},
    )


def test_each_closed_window_arrives_once_in_order(engine):
    sub = engine.subscribe("r", timeout=0.2)
    closing_writes = 0
    for k in range(8):
        before = engine.stats()["rollups"]["r"]["windows_closed"]
        write_seconds(engine, 1.5 * k, 1.5 * (k + 1))
        closing_writes += engine.stats()["rollups"]["r"]["windows_closed"] > before
    batches = list(sub)

    # One batch per write that closed windows, with the rollup table's schema
    assert len(batches) == closing_writes
    assert all(b.schema.equals(engine.schema("r")) for b in batches)

    # Together: every row of the rollup table, once, in closing order
    got = pa.Table.from_batches(batches)
    times = got.column("time").cast(pa.int64()).to_numpy()
    assert np.all(np.diff(times) >= 0)
    table = engine.read("r")
    assert got.num_rows == table.num_rows == 20  # ten seconds closed, two assets
    assert plain(got).equals(plain(table))


def plain(table: pa.Table) -> pa.Table:
    """Tags as strings, rows sorted by time then asset."""
    i = table.schema.get_field_index("asset")
    table = table.set_column(i, "asset", table.column("asset").cast(pa.string()))
    return table.sort_by([("time", "ascending"), ("asset", "ascending")])


def test_a_subscription_sees_only_windows_closed_after_it(engine):
    write_seconds(engine, 0, 3)
    sub = engine.subscribe("r", timeout=0.1)
    write_seconds(engine, 3, 4)
    got = pa.Table.from_batches(list(sub))
    assert got.column("time").cast(pa.int64()).to_pylist() == [S, S]


def test_slow_subscriber_loses_the_oldest_batches_and_counts_them(engine):
    sub = engine.subscribe("r", timeout=0.1, maxsize=2)
    for k in range(6):
        write_seconds(engine, 2 * k, 2 * k + 2)  # all but the first close windows
    assert sub.dropped == 3
    assert engine.stats()["rollups"]["r"]["subscriber_dropped"] == 3
    kept = [b.column("time").cast(pa.int64()).to_pylist() for b in sub]
    assert kept == [[6 * S, 6 * S, 7 * S, 7 * S], [8 * S, 8 * S, 9 * S, 9 * S]]


def test_iteration_ends_when_the_engine_closes(engine):
    sub = engine.subscribe("r")  # no timeout: waits for windows or the end
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(sub), daemon=True)
    reader.start()
    write_seconds(engine, 0, 3)
    engine.close()
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert sum(b.num_rows for b in seen) == 2 * 1  # second 0 closed (lateness 1 s)


def test_drop_rollup_ends_its_subscriptions(engine):
    sub = engine.subscribe("r")
    engine.drop_rollup("r")
    assert list(sub) == []
    assert sub.closed


def test_several_subscribers_each_get_every_batch(engine):
    subs = [engine.subscribe("r", timeout=0.1) for _ in range(3)]
    write_seconds(engine, 0, 5)
    counts = [sum(b.num_rows for b in s) for s in subs]
    assert counts == [6, 6, 6]  # seconds 0-2 closed, two assets
    assert engine.stats()["rollups"]["r"]["subscribers"] == 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(timeout=-1), "timeout=-1"),
        (dict(timeout="soon"), "'soon'"),
        (dict(maxsize=0), "maxsize=0"),
    ],
)
def test_bad_subscription_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Subscription("r", **kwargs)


def test_context_manager_closes_the_subscription(engine):
    with engine.subscribe("r") as sub:
        write_seconds(engine, 0, 4)
        assert sub.pending == 1
    assert sub.closed and sub.pending == 0
    assert engine.stats()["rollups"]["r"]["subscribers"] == 0


def test_closing_the_rollups_ends_waiting_subscribers_at_once(engine):
    sub = engine.subscribe("r")
    engine._rollups.close()  # what Engine.close is asked to call
    assert list(sub) == [] and sub.closed


@pytest.mark.parametrize("durable", [False, True])
def test_close_during_writes_delivers_every_acknowledged_window(durable, tmp_path):
    """A write racing close() either completes whole, windows delivered to the
    subscriber included, or raises ClosedError; each write closes one window."""
    e = tsengine.Engine(tmp_path / "d" if durable else None, durability="none")
    e.create_table("s", tags=["a"], fields={"v": "float64"})
    e.create_rollup("r", "s", every="1s", aggs={"v": ["count"]}, by=["a"])
    sub = e.subscribe("r", maxsize=100_000)
    got: list[int] = []
    reader = threading.Thread(target=lambda: got.extend(b.num_rows for b in sub))
    reader.start()
    acked, errors = [0], []
    started = threading.Event()

    def writer():
        for i in range(100_000):
            times = np.arange(i * 1000, (i + 1) * 1000, dtype=np.int64) * 10**6
            try:
                e.write("s", {"time": times, "a": ["x"] * 1000, "v": np.ones(1000)})
            except tsengine.Error as exc:
                errors.append(exc)
                return
            acked[0] = i + 1
            if i == 20:
                started.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert started.wait(30)
    e.close()
    thread.join(30)
    reader.join(30)
    assert not thread.is_alive() and not reader.is_alive()
    assert [type(x) for x in errors] == [tsengine.ClosedError]
    assert sum(got) == acked[0] - 1  # the last write's window is still open
