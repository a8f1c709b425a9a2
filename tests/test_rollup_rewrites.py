"""Rollups over tables whose duplicate policy lets a write replace stored points.

A rollup adds points as they are written; under "last" or "first" a point written
again for a (series, time) replaces (or is replaced by) the stored one, so the
window it falls in is computed again from the source when it closes. The oracle
is ``Engine.aggregate`` over the stored rows, computed independently by the query
kernels.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tsengine

S = 10**9
AGGS = {"v": ["count", "sum", "min", "max", "first", "last"]}


def _closed_equal_query(engine, rollup="r", source="t", by=("a",)):
    got = engine.read(rollup)
    if got.num_rows == 0:
        return
    end = int(got.column("time").cast(pa.int64()).to_numpy().max()) + S
    want = engine.aggregate(
        source, every="1s", aggs=AGGS, by=list(by), end=end, fill="none"
    )
    key = [(b, "ascending") for b in by] + [("time", "ascending")]

    def plain(table):  # dictionary tags cannot be sort keys
        for b in by:
            i = table.schema.get_field_index(b)
            table = table.set_column(i, b, table.column(b).cast(pa.string()))
        return table.sort_by(key)

    got, want = plain(got), plain(want)
    assert got.num_rows == want.num_rows
    for name in ["time", *by, *(f"v_{a}" for a in AGGS["v"])]:
        a = got.column(name).cast(want.schema.field(name).type).to_pylist()
        assert a == want.column(name).to_pylist(), name


@pytest.mark.parametrize("policy", ["last", "first", "keep"])
@pytest.mark.parametrize("path", [None, "durable"])
def test_a_rewritten_point_is_counted_once(tmp_path, policy, path):
    engine = tsengine.Engine(None if path is None else tmp_path / "e")
    engine.create_table("t", tags=["a"], fields={"v": "float64"}, duplicates=policy)
    engine.create_rollup("r", "t", "1s", AGGS, by=["a"], lateness="10s")
    engine.write("t", {"time": [S + 1, S + 2], "a": ["x", "x"], "v": [3.0, 4.0]})
    engine.write("t", {"time": [S + 1], "a": ["x"], "v": [30.0]})  # window open
    engine.write("t", {"time": [100 * S], "a": ["x"], "v": [0.0]})  # closes it
    row = engine.read("r").to_pylist()[0]
    stored = {"last": [30.0, 4.0], "first": [3.0, 4.0], "keep": [3.0, 30.0, 4.0]}
    v = stored[policy]
    assert row["v_count"] == len(v) and row["v_sum"] == sum(v)
    assert row["v_max"] == max(v) and row["v_min"] == min(v)
    _closed_equal_query(engine)
    if path is not None:
        engine.close()
        with tsengine.Engine(tmp_path / "e") as again:
            assert again.read("r").to_pylist()[0] == row
            _closed_equal_query(again)
    else:
        assert engine.stats()["rollups"]["r"]["windows_recomputed"] == (
            0 if policy == "keep" else 1
        )
        engine.close()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    policy=st.sampled_from(["last", "first"]),
    writes=st.lists(
        st.lists(
            st.tuples(
                st.integers(0, 40),  # time in 100 ms steps: 4 s, 1 s windows
                st.sampled_from(["x", "y"]),
                st.integers(-5, 5),
            ),
            min_size=1,
            max_size=12,
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_rewrites_in_open_windows_match_the_stored_rows(policy, writes):
    engine = tsengine.Engine()
    engine.create_table(
        "t", tags=["a"], fields={"v": "float64"}, duplicates=policy, ring_capacity=8
    )
    engine.create_rollup("r", "t", "1s", AGGS, by=["a"], lateness="10s")
    for rows in writes:
        t, a, v = zip(*rows, strict=True)
        engine.write(
            "t",
            {"time": np.array(t) * S // 10, "a": list(a), "v": np.array(v, float)},
        )
    engine.write("t", {"time": [100 * S], "a": ["x"], "v": [0.0]})  # close all
    _closed_equal_query(engine)
    engine.close()
