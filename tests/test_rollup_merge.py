"""Several queued writes taken into a rollup at once equal the writes one by one.

The rollup worker takes a run of queued writes in one pass of the kernels
(``WindowState.ingest`` with ``bounds``). Lateness, the order in which values reach
a window, first/last ties and the points at which windows closed must come out
exactly as when each write is taken in by itself; the one-by-one path is the
reference here.
"""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import tsengine
from tsengine.rollup.spec import make_rollup_spec
from tsengine.rollup.state import WindowState
from tsengine.schema import TableDef

S = 1_000_000_000
AGGS = {
    "v": ["count", "sum", "mean", "min", "max", "first", "last", "var", "p50"],
    "n": ["count", "sum", "min", "max", "first", "last"],
}
SOURCE = TableDef(
    name="pump", tags=["asset", "line"], fields={"v": "float64", "n": "int64"}
)


def bits(table: pa.Table) -> dict:
    """Columns as Python lists, floats as their bit patterns (NaN compares)."""
    out = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if pa.types.is_floating(col.type):
            values = col.to_numpy(zero_copy_only=False).view(np.int64).tolist()
            valid = col.is_valid().to_pylist()
            out[name] = [v if ok else None for v, ok in zip(values, valid)]
        else:
            out[name] = col.to_pylist()
    return out


@st.composite
def writes(draw):
    """A few writes of a few rows: time jumps both ways (late points), ties in
    time between series of one group, NaN, nulls."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    out, clock = [], draw(st.integers(-20, 20)) * S
    for _ in range(draw(st.integers(2, 7))):
        n = draw(st.integers(1, 30))
        clock += int(draw(st.integers(-4, 6))) * S // 2
        times = clock + rng.integers(-2 * S, 3 * S, n) // 4 * 4
        if draw(st.booleans()):
            times = np.sort(times)
        v = rng.normal(0, 10, n).round(1)
        v[rng.random(n) < 0.1] = np.nan
        n_col = rng.integers(-50, 50, n)
        out.append(
            pa.table(
                {
                    "time": pa.array(times, pa.timestamp("ns", "UTC")),
                    "asset": pa.array(rng.choice(["A", "B", "C"], n)),
                    "line": pa.array(rng.choice(["x", "y"], n)),
                    "v": pa.array(v, mask=rng.random(n) < 0.1),
                    "n": pa.array(n_col, mask=rng.random(n) < 0.1),
                }
            )
        )
    return out


@settings(max_examples=150, deadline=None)
@given(
    batches=writes(),
    every=st.sampled_from(["1s", "2s", "500ms"]),
    lateness=st.sampled_from(["0s", "1s", "3s"]),
    by=st.sampled_from([["asset"], [], ["asset", "line"]]),
)
def test_writes_taken_in_together_equal_one_by_one(batches, every, lateness, by):
    spec = make_rollup_spec(SOURCE, "r", every, AGGS, by=by, lateness=lateness)
    tags = SOURCE.tags

    one = WindowState(spec, SOURCE)
    late, marks, n_late = [], [], 0
    for data in batches:
        result = one.ingest(data, tags, False)
        late.append(
            np.zeros(data.num_rows, bool) if result.late is None else result.late
        )
        marks += result.marks
        n_late += result.n_late

    together = WindowState(spec, SOURCE)
    bounds = np.cumsum([0] + [d.num_rows for d in batches])
    result = together.ingest(pa.concat_tables(batches), tags, False, bounds)

    assert result.n_late == n_late
    got_late = np.zeros(bounds[-1], bool) if result.late is None else result.late
    assert got_late.tolist() == np.concatenate(late).tolist()
    assert result.marks == marks
    assert together.first_open == one.first_open
    assert together.max_time == one.max_time
    a, b = one.close_windows(), together.close_windows()
    assert (a is None) == (b is None)
    if a is not None:
        assert bits(a) == bits(b)


def test_the_worker_takes_a_queue_of_writes_in_as_one_by_one():
    """Writes queued while the worker is held are taken in together; the rollup
    table and the late count equal an engine that synced after every write."""
    rng = np.random.default_rng(3)
    steps = []
    for k in range(40):
        times = (k + rng.random(25) * 2.5 - 0.5) * S  # some late by the next write
        steps.append(
            {
                "time": times.astype(np.int64),
                "asset": rng.choice(["A", "B"], 25).tolist(),
                "line": ["x"] * 25,
                "v": rng.normal(0, 1, 25),
                "n": rng.integers(0, 9, 25),
            }
        )

    def engine():
        e = tsengine.Engine()
        e.create_table("pump", tags=["asset", "line"], fields=dict(SOURCE.fields))
        e.create_rollup("r", "pump", "1s", AGGS, by=["asset"], lateness="0s")
        return e, e._rollups._live["r"]

    ref, ref_live = engine()
    for data in steps:
        ref.write("pump", data)
        ref_live.sync()

    merged, live = engine()
    taken = []
    original = live.state.ingest

    def spy(data, tags, close=True, bounds=None):
        taken.append(1 if bounds is None else len(bounds) - 1)
        return original(data, tags, close, bounds)

    live.state.ingest = spy
    with live.lock:  # the worker cannot take anything in: writes queue up
        for data in steps:
            merged.write("pump", data)
    done = threading.Event()
    threading.Thread(target=lambda: (live.sync(), done.set()), daemon=True).start()
    assert done.wait(30)
    assert max(taken) > 1  # some writes were taken in together
    assert sum(taken) == len(steps)
    assert bits(merged.read("r")) == bits(ref.read("r"))
    stats = merged.stats()["rollups"]["r"]
    assert stats["late_dropped"] == ref.stats()["rollups"]["r"]["late_dropped"] > 0
    ref.close()
    merged.close()
