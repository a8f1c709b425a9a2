"""aggregate_table against the slow pure-Python reference on random data and windows.

Random series have gaps, duplicate times, NaN, nulls and negative times, come
concatenated or interleaved (each series stays in time order, as the engine returns
it), and are aggregated with random grids, sliding widths, offsets, closed/label
conventions, ranges, fills and sessions. The reference (``tsengine.window._reference``)
shares no kernel code: brute-force windows and exact Fraction arithmetic.
``WINDOW_EXAMPLES=2000`` runs more hypothesis examples than the default 150.
"""

from __future__ import annotations

import math
import os

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsengine.window import aggregate_table
from tsengine.window._reference_table import mismatches, reference_table, rows_of

NAN = math.nan
FLOAT_AGGS = [
    "count",
    "sum",
    "mean",
    "min",
    "max",
    "first",
    "last",
    "spread",
    "std",
    "var",
    "std_pop",
    "var_pop",
    "median",
    "p90",
    "q0.25",
    "twa",
    "integral",
    "rate",
]
INT_AGGS = ["count", "sum", "min", "max", "spread", "mean", "first", "last", "p50"]
SETTINGS = settings(
    max_examples=int(os.environ.get("WINDOW_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

values = st.one_of(
    st.sampled_from([0.0, 1.0, -2.5, 3.25, 1000.0, NAN, None]),
    st.floats(-1e3, 1e3, allow_nan=False),
)


@st.composite
def series_rows(draw, tag):
    """One series: sorted times with duplicates and gaps, mixed values."""
    n = draw(st.integers(0, 14))
    t = draw(st.integers(-80, 60))
    rows = []
    for _ in range(n):
        rows.append(
            {
                "time": t,
                "a": tag,
                "v": draw(values),
                "i": draw(st.one_of(st.none(), st.integers(-50, 50))),
                "b": draw(st.one_of(st.none(), st.booleans())),
                "s": draw(st.sampled_from([None, "lo", "hi", "mid"])),
            }
        )
        t += draw(st.sampled_from([0, 1, 2, 3, 5, 8, 13, 40]))
    return rows


@st.composite
def datasets(draw):
    """Several series, concatenated or interleaved (each one stays in time order)."""
    tags = draw(
        st.lists(st.sampled_from(["x", "y", "z", None]), max_size=3, unique=True)
    )
    per_series = [draw(series_rows(tag)) for tag in tags]
    if draw(st.booleans()):
        rows = [r for s in per_series for r in s]
    else:
        # Random merge that keeps each series' own order
        queues = [list(s) for s in per_series if s]
        rows = []
        while queues:
            q = queues[draw(st.integers(0, len(queues) - 1))]
            rows.append(q.pop(0))
            queues = [q for q in queues if q]
    return rows


def to_table(rows):
    return pa.table(
        {
            "time": pa.array([r["time"] for r in rows], pa.timestamp("ns", "UTC")),
            "a": pa.array([r["a"] for r in rows], pa.string()),
            "v": pa.array([r["v"] for r in rows], pa.float64()),
            "i": pa.array([r["i"] for r in rows], pa.int64()),
            "b": pa.array([r["b"] for r in rows], pa.bool_()),
            "s": pa.array([r["s"] for r in rows], pa.string()),
        }
    )


@st.composite
def grid_specs(draw):
    every = draw(st.integers(1, 20))
    spec = {"every": every}
    if draw(st.booleans()):
        spec["period"] = draw(st.integers(1, 50))
    if draw(st.booleans()):
        spec["offset"] = draw(st.integers(-30, 30))
    spec["closed"] = draw(st.sampled_from(["left", "right"]))
    spec["label"] = draw(st.sampled_from(["left", "right"]))
    spec["fill"] = draw(st.sampled_from([None, "none", "previous", "linear", 0.5]))
    if draw(st.booleans()):
        spec["start"] = draw(st.integers(-100, 40))
        spec["end"] = spec["start"] + draw(st.integers(0, 120))
    return spec


def check(rows, spec, aggs, by, skip_nan=True, seed_rows=(), tag_columns=None):
    """Run both implementations and assert they agree."""
    got = aggregate_table(
        to_table(rows),
        aggs=aggs,
        by=by,
        skip_nan=skip_nan,
        tag_columns=tag_columns,
        seed=to_table(seed_rows) if seed_rows else None,
        **({"every": None} | spec),
    )
    want = reference_table(
        rows,
        aggs=aggs,
        by=by,
        skip_nan=skip_nan,
        seed_rows=seed_rows,
        int_fields={"i": "int", "b": "int"},
        string_fields={"s"},
        **spec,
    )
    problems = mismatches(rows_of(got), want)
    assert not problems, problems[:5]


@SETTINGS
@given(datasets(), grid_specs(), st.sampled_from([[], ["a"]]), st.booleans())
def test_grid_windows_match_reference(rows, spec, by, skip_nan):
    aggs = {"v": FLOAT_AGGS, "i": INT_AGGS, "s": ["count", "first", "last"]}
    check(rows, spec, aggs, by, skip_nan, tag_columns=["a"] if by else None)


@SETTINGS
@given(datasets(), st.integers(1, 25), st.sampled_from([[], ["a"]]))
def test_session_windows_match_reference(rows, gap, by):
    spec = {"gap": gap, "label": "left"}
    check(rows, spec, {"v": FLOAT_AGGS, "b": ["count", "sum", "min", "max"]}, by)


@SETTINGS
@given(
    datasets(),
    st.lists(
        st.tuples(
            st.sampled_from(["x", "y", "w", None]), st.integers(-200, -101), values
        ),
        max_size=4,
    ),
    st.sampled_from(["previous", "linear"]),
    st.sampled_from([[], ["a"]]),
)
def test_seeded_fill_matches_reference(rows, seeds, fill, by):
    seed_rows = [
        {"time": t, "a": a, "v": v, "i": None, "b": None, "s": None}
        for a, t, v in seeds
    ]
    spec = {"every": 7, "start": -100, "end": 60, "fill": fill}
    aggs = {"v": ["count", "mean", "max", "last", "spread", "std", "p50", "integral"]}
    check(rows, spec, aggs, by, seed_rows=seed_rows)


def test_reference_agrees_on_a_hand_checked_case():
    """Both sides on data small enough to verify by hand (guards the reference too)."""
    rows = [
        {"time": t, "a": "x", "v": v, "i": 1, "b": True, "s": "k"}
        for t, v in [(-3, 1.0), (-1, 3.0), (0, 5.0), (4, NAN), (9, None), (9, 2.0)]
    ]
    got = rows_of(
        aggregate_table(
            to_table(rows), every=5, aggs={"v": ["count", "mean", "first", "last"]}
        )
    )
    assert got == [
        {"time": -5, "v_count": 2, "v_mean": 2.0, "v_first": 1.0, "v_last": 3.0},
        {"time": 0, "v_count": 1, "v_mean": 5.0, "v_first": 5.0, "v_last": 5.0},
        {"time": 5, "v_count": 1, "v_mean": 2.0, "v_first": 2.0, "v_last": 2.0},
    ]
    want = reference_table(
        rows, every=5, aggs={"v": ["count", "mean", "first", "last"]}
    )
    assert not mismatches(got, want)
