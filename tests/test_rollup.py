"""Continuous rollups: closed windows against query-time aggregates.

The oracle is ``Engine.aggregate`` (the query kernels, themselves checked against a
slow reference in the window tests) over the same raw rows: for in-order data every
closed rollup window must equal it exactly for count, sum, mean, min, max, first,
last and spread (the rollup replays the query's compensated lanes; the lane-order
regression case tells the two orders apart), and to a few ulp for the variance
family (a different, equally stable algorithm). Percentile sketches are checked in
``test_rollup_sketch.py``, lateness and the rollup table in ``test_rollup_table.py``,
subscriptions in ``test_rollup_subscribe.py``, restarts in ``test_rollup_durable.py``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tsengine
from tsengine.window import aggregate_table

TS = pa.timestamp("ns", "UTC")
S = 1_000_000_000
EXACT = ["count", "sum", "mean", "min", "max", "first", "last", "spread"]
MERGEABLE_ONLY = ["count", "sum", "mean", "min", "max", "spread"]
MOMENTS = ["var", "std", "var_pop", "std_pop"]


# -- helpers ------------------------------------------------------------------------


def same_column(a: pa.ChunkedArray, b: pa.ChunkedArray) -> bool:
    """Equal values and nulls (NaN equals NaN; min/max may pick either sign of an
    all-zero extreme, as the query's lanes pick theirs in another order)."""
    a, b = a.combine_chunks(), b.combine_chunks()
    if a.type != b.type or len(a) != len(b):
        return False
    if not np.array_equal(a.is_valid(), b.is_valid()):
        return False
    va = a.to_numpy(zero_copy_only=False)
    vb = b.to_numpy(zero_copy_only=False)
    ok = np.asarray(a.is_valid())
    if pa.types.is_floating(a.type):
        return np.array_equal(va[ok], vb[ok], equal_nan=True)
    return np.array_equal(va[ok], vb[ok])


def closed_rows(engine, name: str, by: list[str]) -> pa.Table:
    """The rollup table, tags as strings, sorted like query output."""
    out = engine.read(name)
    for tag in by:
        out = out.set_column(
            out.schema.get_field_index(tag), tag, out.column(tag).cast(pa.string())
        )
    keys = [(k, "ascending") for k in by] + [("time", "ascending")]
    return out.sort_by(keys)


def query_rows(engine, source, every, aggs, by, end, offset=None) -> pa.Table:
    """Query-time windows of every row before ``end`` (the first open window), as
    ``Engine.aggregate`` computes them: the window kernels over a read."""
    data = engine.read(source, end=end).combine_chunks()
    for tag in engine.definition(source).tags:
        data = data.set_column(
            data.schema.get_field_index(tag), tag, data.column(tag).cast(pa.string())
        )
    return aggregate_table(
        data,
        every=every,
        aggs=aggs,
        by=by,
        end=end,
        fill="none",
        offset=offset,
        tag_columns=list(engine.definition(source).tags),
    )


def first_open_start(engine, name: str) -> int:
    live = engine._rollups._live[name]
    live.sync()  # the worker may not have taken the last writes in yet
    return live.state.window_start(live.state.first_open)


def assert_closed_equal(engine, name, source, every, aggs, by, offset=None):
    """Every closed window equals the query over the same raw rows."""
    end = first_open_start(engine, name)
    got = closed_rows(engine, name, by)
    want = query_rows(engine, source, every, aggs, by, end, offset)
    assert got.num_rows == want.num_rows
    assert (
        got.column("time").cast(pa.int64()).equals(want.column("time").cast(pa.int64()))
    )
    for tag in by:
        assert got.column(tag).equals(want.column(tag))
    for field, names in aggs.items():
        for agg in names:
            col = f"{field}_{agg}"
            if agg in MOMENTS:
                a = got.column(col).to_numpy(zero_copy_only=False).astype(float)
                b = want.column(col).to_numpy(zero_copy_only=False).astype(float)
                # Where the squares overflow the rollup says inf; the query kernel
                # (as of this writing) clamps its NaN sum of squares to 0
                big = np.isinf(a)
                assert np.array_equal(np.isnan(a[~big]), np.isnan(b[~big])), col
                np.testing.assert_allclose(
                    a[~big], b[~big], rtol=1e-9, atol=1e-300, err_msg=col
                )
            else:
                assert same_column(got.column(col), want.column(col)), col


# -- in-order data equals the query ---------------------------------------------------

# Magnitudes far apart: where four compensated lanes and one sequential compensated
# sum round differently, so only the query's own lane order matches bit for bit
SPREAD = [1e16, -1e16, 2.0**53, 1.0, 0.1, -3.3, 3.0, 1e-5, 1e300, -1e300, 1e-300]
VALUE = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(1e9 - 10, 1e9 + 10),  # large common offset
    st.sampled_from(SPREAD),
    st.sampled_from(SPREAD),
)


@st.composite
def in_order_series(draw):
    """Rows with strictly increasing times over 1-3 assets, and the window spec."""
    n = draw(st.integers(1, 120))
    gaps = draw(st.lists(st.integers(1, 12), min_size=n, max_size=n))
    start = draw(st.integers(-2_000, 2_000))
    times = start + np.cumsum(np.array(gaps, dtype=np.int64))
    assets = draw(st.lists(st.sampled_from(["A", "B", "C"]), min_size=n, max_size=n))
    values = draw(st.lists(VALUE, min_size=n, max_size=n))
    holes = draw(st.lists(st.sampled_from([0, 0, 0, 0, 1, 2]), min_size=n, max_size=n))
    v = np.array(values)
    v[np.array(holes) == 1] = np.nan  # NaN is a value the sensor sent
    valid = np.array(holes) != 2  # null is no value
    ints = draw(st.lists(st.integers(-(2**40), 2**40), min_size=n, max_size=n))
    every = draw(st.integers(1, 60))
    offset = draw(st.integers(-30, 30))
    cuts = sorted(set(draw(st.lists(st.integers(1, max(n - 1, 1)), max_size=6))))
    return times, assets, v, valid, np.array(ints, np.int64), every, offset, cuts


def write_in_batches(engine, times, assets, v, valid, ints, cuts, site=None):
    bounds = [0, *[c for c in cuts if c < len(times)], len(times)]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi <= lo:
            continue
        data = {
            "time": pa.array(times[lo:hi], TS),
            "asset": assets[lo:hi],
            "v": pa.array(v[lo:hi], mask=~valid[lo:hi]),
            "i": pa.array(ints[lo:hi], mask=~valid[lo:hi][::-1]),
        }
        if site is not None:
            data["site"] = [site[j % len(site)] for j in range(lo, hi)]
        engine.write("pump", data)


@pytest.mark.parametrize(
    "aggs",
    [
        {"v": EXACT + MOMENTS, "i": EXACT + ["var"]},
        {"v": MERGEABLE_ONLY, "i": ["sum", "mean"]},  # NaN stays in the sum lanes
    ],
    ids=["with-first-last", "mergeable-only"],
)
@pytest.mark.parametrize("by", [["asset"], []], ids=["by-asset", "one-group"])
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=in_order_series())
def test_in_order_rollup_equals_query(case, aggs, by):
    times, assets, v, valid, ints, every, offset, cuts = case
    engine = tsengine.Engine()
    engine.create_table("pump", tags=["asset"], fields={"v": "float64", "i": "int64"})
    engine.create_rollup("r", "pump", every, aggs, by=by, offset=offset)
    write_in_batches(engine, times, assets, v, valid, ints, cuts)
    assert engine.stats()["rollups"]["r"]["late_dropped"] == 0
    assert_closed_equal(engine, "r", "pump", every, aggs, by, offset)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=in_order_series())
def test_groups_of_several_series_add_ties_in_series_order(case):
    """by=["asset"] over (site, asset) series: points of one instant from two sites
    are added in the order a read hands them to the query (site order), whatever
    order the write has them in."""
    times, assets, v, valid, ints, every, offset, cuts = case
    engine = tsengine.Engine()
    engine.create_table(
        "pump", tags=["site", "asset"], fields={"v": "float64", "i": "int64"}
    )
    aggs = {"v": EXACT, "i": EXACT}
    engine.create_rollup("r", "pump", every, aggs, by=["asset"], offset=offset)

    # Every row twice, site s2 before s1, the second value a different one
    both = np.repeat(np.arange(times.size), 2)
    other = np.tile([0, 1], times.size) == 1
    values = np.where(other, 1.0 - 0.3 * v[both], v[both])
    write_in_batches(
        engine,
        times[both],
        [assets[j] for j in both],
        values,
        valid[both],
        np.where(other, ints[both] // 3, ints[both]),
        [2 * c for c in cuts],  # cuts between instants, never inside one
        site=["s2", "s1"],
    )
    assert_closed_equal(engine, "r", "pump", every, aggs, ["asset"], offset)


#: Sum 6.8; four compensated lanes give 6.800000000000001, one sequential 6.8.
LANE_CASE = [1e16, 3.0, 0.1, -1e16, -3.3, 1.0, 3.0, 3.0]


@pytest.mark.parametrize("cut", [[], [1], [3], [4], [5], [2, 6], list(range(1, 8))])
def test_regression_lane_order_survives_batch_cuts(cut):
    """The query sums this window in four lanes; the rollup must too, however the
    window's values are split across writes."""
    engine = tsengine.Engine()
    engine.create_table("pump", tags=["asset"], fields={"v": "float64", "i": "int64"})
    aggs = {"v": ["sum", "mean"]}
    engine.create_rollup("r", "pump", 100, aggs)
    times = np.arange(8, dtype=np.int64)
    v = np.array(LANE_CASE)
    ok = np.ones(8, bool)
    write_in_batches(engine, times, ["A"] * 8, v, ok, np.zeros(8, np.int64), cut)
    engine.write("pump", {"time": np.array([100]), "asset": ["A"], "v": [0.0]})
    assert engine.read("r").column("v_sum").to_pylist() == [6.800000000000001]
    assert_closed_equal(engine, "r", "pump", 100, aggs, [])


@pytest.mark.parametrize("seed", range(4))
def test_a_shuffled_write_is_added_in_time_order(seed):
    """Rows of one write out of time order: each group's values are sorted before
    they reach the lanes, so the window still equals the query."""
    rng = np.random.default_rng(seed)
    times = np.arange(16, dtype=np.int64)
    v = np.repeat(LANE_CASE, 2)  # each asset gets LANE_CASE in time order
    assets = ["A", "B"] * 8
    perm = rng.permutation(16)
    engine = tsengine.Engine()
    engine.create_table("pump", tags=["asset"], fields={"v": "float64", "i": "int64"})
    aggs = {"v": ["sum", "mean", "first", "last"]}
    engine.create_rollup("r", "pump", 100, aggs, by=["asset"])
    engine.write(
        "pump", {"time": times[perm], "asset": [assets[j] for j in perm], "v": v[perm]}
    )
    engine.write("pump", {"time": np.array([100]), "asset": ["A"], "v": [0.0]})
    assert_closed_equal(engine, "r", "pump", 100, aggs, ["asset"])


def test_uint_and_bool_fields_keep_query_types():
    engine = tsengine.Engine()
    engine.create_table(
        "m", tags=["asset"], fields={"u": "uint64", "b": "bool", "x": "float64"}
    )
    aggs = {"u": EXACT + ["var"], "b": ["count", "sum", "min", "max", "mean"]}
    engine.create_rollup("r", "m", "10ns", aggs, by=["asset"])
    rng = np.random.default_rng(5)
    for k in range(5):
        n = 40
        engine.write(
            "m",
            {
                "time": np.arange(k * n, (k + 1) * n, dtype=np.int64),
                "asset": rng.choice(["a", "b"], n).tolist(),
                "u": pa.array(rng.integers(2**63, 2**64 - 1, n, dtype=np.uint64)),
                "b": rng.random(n) < 0.5,
                "x": rng.random(n),
            },
        )
    got = engine.read("r")
    assert got.schema.field("u_sum").type == pa.uint64()
    assert got.schema.field("u_min").type == pa.uint64()
    assert got.schema.field("b_max").type == pa.bool_()
    assert got.schema.field("b_sum").type == pa.int64()
    assert_closed_equal(engine, "r", "m", "10ns", aggs, ["asset"])


def test_extreme_values_follow_the_query():
    """inf, values whose sum overflows, and NaN windows."""
    engine = tsengine.Engine()
    engine.create_table("p", fields={"v": "float64"})
    aggs = {"v": ["count", "sum", "mean", "min", "max", "spread"]}
    engine.create_rollup("r", "p", 4, aggs)
    values = [1e308, 1e308, 1.0, 2.0, np.inf, 1.0, -np.inf, 3.0, np.nan, 5.0,
              -1e308, 1e308, np.nan, np.nan, 7.0, -7.0, 1.0, 2.0]  # fmt: skip
    for lo in range(0, len(values), 5):
        chunk = values[lo : lo + 5]
        times = np.arange(lo, lo + len(chunk), dtype=np.int64)
        engine.write("p", {"time": times, "v": np.array(chunk)})
    engine.write("p", {"time": np.array([100]), "v": np.array([0.0])})
    assert_closed_equal(engine, "r", "p", 4, aggs, [])
    got = engine.read("r").to_pydict()
    assert got["v_mean"][0] == 5e307  # rescued from the overflowing sum
    assert got["v_sum"][1] != got["v_sum"][1]  # inf - inf


def test_null_tags_form_their_own_group_last():
    engine = tsengine.Engine()
    engine.create_table("pump", tags=["asset"], fields={"v": "float64", "i": "int64"})
    aggs = {"v": ["count", "sum", "first"]}
    engine.create_rollup("r", "pump", 10, aggs, by=["asset"])
    engine.write(
        "pump",
        {
            "time": np.arange(12, dtype=np.int64),
            "asset": ["B", None, "A", None] * 3,
            "v": np.arange(12.0),
        },
    )
    engine.write("pump", {"time": np.array([20]), "asset": ["A"], "v": [0.0]})
    got = closed_rows(engine, "r", ["asset"])
    assert got.column("asset").to_pylist() == ["A", "A", "B", None, None]
    assert got.column("v_count").to_pylist() == [2, 1, 3, 5, 1]
    assert_closed_equal(engine, "r", "pump", 10, aggs, ["asset"])


def test_a_tag_added_to_the_source_later_joins_the_order_of_series():
    """The source grows a tag after the rollup exists: groups now hold several
    series, whose ties are ordered by the full tag tuple as in a read."""
    engine = tsengine.Engine()
    engine.create_table("pump", tags=["asset"], fields={"v": "float64", "i": "int64"})
    aggs = {"v": ["count", "sum", "first", "last"]}
    engine.create_rollup("r", "pump", 100, aggs, by=["asset"])
    engine.write("pump", {"time": np.arange(4), "asset": ["A"] * 4, "v": np.ones(4)})
    engine.write(
        "pump",
        {
            "time": np.repeat(np.arange(4, 12), 2),
            "asset": ["A"] * 16,
            "site": ["s2", "s1"] * 8,
            "v": np.array(LANE_CASE * 2),
        },
        tags=["asset", "site"],
    )
    engine.write("pump", {"time": np.array([100]), "asset": ["A"], "v": [0.0]})
    assert engine.definition("pump").tags == ["asset", "site"]
    assert_closed_equal(engine, "r", "pump", 100, aggs, ["asset"])
