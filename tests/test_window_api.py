"""Public surface of tsengine.window: parsing, input forms, output schema, errors."""

from __future__ import annotations

import doctest
import time
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import tsengine.window as window
from tsengine.errors import BudgetError, Error, ParseError, SchemaError, TimestampError
from tsengine.window import (
    Duration,
    aggregate_table,
    aggspec,
    duration,
    fill,
    parse_agg,
    parse_duration,
    timepoint,
    to_ns,
)

S = 10**9
TS = pa.timestamp("ns", "UTC")


def simple(times, values, **extra):
    cols = {"time": pa.array(times, TS), "v": pa.array(values, pa.float64())}
    cols.update(extra)
    return pa.table(cols)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("500ms", Duration(ns=500_000_000)),
        ("1s", Duration(ns=S)),
        ("15m", Duration(ns=900 * S)),
        ("1h30m", Duration(ns=5400 * S)),
        ("2us", Duration(ns=2000)),
        ("3µs", Duration(ns=3000)),
        ("10ns", Duration(ns=10)),
        ("1d", Duration(days=1)),
        ("1d12h", Duration(days=1, ns=43_200 * S)),
        ("1w", Duration(weeks=1)),
        ("1mo", Duration(months=1)),
        ("1y", Duration(months=12)),
        (250, Duration(ns=250)),
    ],
)
def test_parse_duration(text, want):
    assert parse_duration(text) == want


@pytest.mark.parametrize(
    "bad", ["", "1", "1x", "h", "1h-", "1.5h", "1 h", True, 1.5, None]
)
def test_parse_duration_rejects(bad):
    with pytest.raises(ParseError, match=repr(bad).replace("(", r"\(")):
        parse_duration(bad)


def test_negative_durations_only_where_allowed():
    assert parse_duration("-1h", allow_negative=True) == Duration(ns=-3600 * S)
    with pytest.raises(ParseError, match="must not be negative"):
        parse_duration("-1h", name="every")


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (123, 123),
        (np.int64(-5), -5),
        (datetime(1970, 1, 1, 0, 0, 1), S),
        (datetime(1970, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), 0),
        (date(1970, 1, 2), 86_400 * S),
        (np.datetime64("1970-01-01T00:00:00.000000007"), 7),
        (np.datetime64("1969-12-31T23:59:59", "s"), -S),
        (np.datetime64("1970-02", "M"), 31 * 86_400 * S),
        (pd.Timestamp("1970-01-01 00:00:00.000000009", tz="UTC"), 9),
        ("1970-01-01T00:00:01.5Z", 1_500_000_000),
        ("1970-01-01T00:00:00.000000001Z", 1),
        ("1970-01-01 02:00:00+02:00", 0),
        ("1970-01-01", 0),
    ],
)
def test_to_ns(value, want):
    assert to_ns(value) == want


def test_relative_times_follow_the_clock():
    before = time.time_ns()
    got = to_ns("-15m")
    after = time.time_ns()
    assert before - 900 * S <= got <= after - 900 * S
    assert before <= to_ns("now") <= time.time_ns()


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ("2300-01-01", TimestampError),
        (2**63, TimestampError),
        (np.datetime64("NaT"), TimestampError),
        ("yesterday", ParseError),
        (3.5, TimestampError),
    ],
)
def test_to_ns_rejects(bad, error):
    with pytest.raises(error, match="start="):
        to_ns(bad, name="start")


def test_parse_agg_names():
    assert parse_agg("p99.9").q == 0.999
    assert parse_agg("p99").q == 0.99
    assert parse_agg("median") == aggspec.AggSpec("median", "quantile", 0.5)
    assert parse_agg("q0.25").q == 0.25
    for bad in ["p101", "q2", "average", "p", 3]:
        with pytest.raises(SchemaError, match=repr(bad)):
            parse_agg(bad)


def test_output_schema_and_names():
    t = pa.table(
        {
            "site": ["a", "a", "b"],
            "time": pa.array([0, 1, 2], TS),
            "v": [1.0, 2.0, 3.0],
            "n": pa.array([1, 2, 3], pa.int32()),
            "u": pa.array([1, 2, 3], pa.uint16()),
            "ok": [True, False, True],
            "s": ["x", "y", "z"],
        }
    )
    out = aggregate_table(
        t,
        every=10,
        by=["site"],
        aggs={
            "v": ["count", "p99.9", "mean"],
            "n": ["sum", "min"],
            "u": ["sum"],
            "ok": ["min", "sum"],
            "s": ["first", "last"],
        },
    )
    assert out.schema.names == [
        "site",
        "time",
        "v_count",
        "v_p99.9",
        "v_mean",
        "n_sum",
        "n_min",
        "u_sum",
        "ok_min",
        "ok_sum",
        "s_first",
        "s_last",
    ]
    types = dict(zip(out.schema.names, out.schema.types))
    assert types["time"] == TS and types["v_count"] == pa.int64()
    assert types["n_sum"] == pa.int64() and types["n_min"] == pa.int64()
    assert types["u_sum"] == pa.uint64() and types["ok_min"] == pa.bool_()
    assert types["ok_sum"] == pa.int64() and types["s_first"] == pa.string()
    assert out.column("ok_min").to_pylist() == [False, True]
    assert out.column("s_last").to_pylist() == ["y", "z"]


def test_input_forms_give_the_same_result():
    base = simple([-1, 5, 12, 12, 30], [1.0, 2.0, 3.0, 4.0, 5.0])
    want = aggregate_table(base, every=10, aggs={"v": ["count", "mean"]})
    chunked = pa.concat_tables([base.slice(0, 2), base.slice(2)])
    batch = base.to_batches()[0]
    as_int = base.set_column(0, "time", base.column("time").cast(pa.int64()))
    for variant in (chunked, batch, as_int):
        assert aggregate_table(variant, every=10, aggs={"v": ["count", "mean"]}) == want
    # -1 ns floors into the window that starts at -10
    assert want.column("time").cast(pa.int64()).to_pylist() == [-10, 0, 10, 20, 30]


def test_other_time_units_and_zones_convert_exactly():
    ms = pa.array([1000, 2500, 2999], pa.timestamp("ms", "Europe/Berlin"))
    out = aggregate_table(
        pa.table({"time": ms, "v": [1.0, 2.0, 3.0]}), every="1s", aggs={"v": ["count"]}
    )
    assert out.column("time").cast(pa.int64()).to_pylist() == [S, 2 * S]
    assert out.column("v_count").to_pylist() == [1, 2]


def test_group_keys_of_any_encoding_sort_with_nulls_last():
    site = pa.array(["b", None, "a", "b", "a"])
    table = pa.table(
        {
            "site": site.dictionary_encode(),
            "line": pa.array(["2", "1", "1", "1", "1"], pa.large_string()),
            "time": pa.array([0, 1, 2, 3, 4], TS),
            "v": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    out = aggregate_table(table, every=10, by=["site", "line"], aggs={"v": ["sum"]})
    assert out.select(["site", "line", "v_sum"]).to_pylist() == [
        {"site": "a", "line": "1", "v_sum": 8.0},
        {"site": "b", "line": "1", "v_sum": 4.0},
        {"site": "b", "line": "2", "v_sum": 1.0},
        {"site": None, "line": "1", "v_sum": 2.0},
    ]


def test_unsorted_rows_are_sorted_unless_trusted():
    rng = np.random.default_rng(5)
    t = rng.permutation(np.arange(0, 1000, 3))
    table = simple(t, t.astype(float))
    out = aggregate_table(table, every=100, aggs={"v": ["count", "first", "last"]})
    assert out.column("v_count").to_pylist() == np.bincount(t // 100).tolist()
    assert out.column("v_first").to_pylist()[:2] == [0.0, 102.0]
    # A broken promise gives unspecified windows, never a crash
    trusted = aggregate_table(
        table, every=100, aggs={"v": ["count", "p50"]}, tag_columns=[]
    )
    assert sum(trusted.column("v_count").to_pylist()) <= t.size


def test_rows_outside_the_range_are_ignored_and_range_windows_returned():
    table = simple([-50, 5, 15, 95], [9.0, 1.0, 2.0, 9.0])
    out = aggregate_table(
        table, every=10, start=0, end=40, aggs={"v": ["count", "sum"]}
    )
    assert out.column("time").cast(pa.int64()).to_pylist() == [0, 10, 20, 30]
    assert out.column("v_count").to_pylist() == [1, 1, 0, 0]
    assert out.column("v_sum").to_pylist() == [1.0, 2.0, None, None]
    empty = aggregate_table(
        table.slice(0, 0), every=10, start=0, end=20, aggs={"v": ["count"]}
    )
    assert empty.column("v_count").to_pylist() == [0, 0]
    assert (
        aggregate_table(table.slice(0, 0), every=10, aggs={"v": ["count"]}).num_rows
        == 0
    )


def test_sparse_fine_windows_cost_points_not_range():
    # 100 years of 1 ns windows: far beyond the budget if enumerated, three if sparse
    table = simple([0, 10**18, 2 * 10**18], [1.0, 2.0, 3.0])
    start, end = -(10**18), 3 * 10**18
    out = aggregate_table(
        table,
        every=1,
        period=5,
        start=start,
        end=end,
        fill="none",
        aggs={"v": ["count", "mean"]},
    )
    assert out.column("v_count").to_pylist() == [1] * 15
    with pytest.raises(BudgetError, match="windows"):
        aggregate_table(table, every=1, start=start, end=end, aggs={"v": ["count"]})


def test_fill_previous_with_seed_and_groups():
    table = pa.table(
        {
            "a": ["x", "x"],
            "time": pa.array([25, 27], TS),
            "v": [5.0, 6.0],
            "s": ["p", "q"],
        }
    )
    seed = pa.table(
        {
            "a": ["x", "y", "x"],
            "time": pa.array([-9, -5, -3], TS),
            "v": [1.0, 7.0, None],
            "s": ["old", "y-old", None],
        }
    )
    out = aggregate_table(
        table,
        every=10,
        by=["a"],
        start=0,
        end=40,
        fill="previous",
        seed=seed,
        aggs={"v": ["count", "last", "std"], "s": ["last"]},
    )
    rows = out.to_pylist()
    assert [r["a"] for r in rows] == ["x"] * 4 + ["y"] * 4
    assert [r["v_last"] for r in rows] == [1.0, 1.0, 6.0, 6.0] + [7.0] * 4
    assert [r["v_count"] for r in rows] == [0, 0, 2, 0, 0, 0, 0, 0]
    assert [r["s_last"] for r in rows] == ["old", "old", "q", "q"] + ["y-old"] * 4
    assert [r["v_std"] for r in rows][:4] == [
        None,
        None,
        pytest.approx(0.5**0.5),
        0.5**0.5,
    ]


def test_fill_linear_and_constant():
    table = simple([0, 30], [0.0, 3.0], n=pa.array([0, 30], pa.int64()))
    lin = aggregate_table(
        table, every=10, fill="linear", aggs={"v": ["mean"], "n": ["max"]}
    )
    assert lin.column("v_mean").to_pylist() == [0.0, 1.0, 2.0, 3.0]
    assert lin.column("n_max").to_pylist() == [0.0, 10.0, 20.0, 30.0]
    const = aggregate_table(
        table, every=10, fill=-1, aggs={"v": ["mean"], "n": ["max"]}
    )
    assert const.column("v_mean").to_pylist() == [0.0, -1.0, -1.0, 3.0]
    assert const.schema.field("n_max").type == pa.int64()
    half = aggregate_table(table, every=10, fill=0.5, aggs={"n": ["max", "count"]})
    assert half.column("n_max").to_pylist() == [0.0, 0.5, 0.5, 30.0]
    assert half.column("n_count").to_pylist() == [1, 0, 0, 1]


def test_session_windows():
    table = simple([0, 3, 5, 20, 21, 40], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    out = aggregate_table(table, every=None, gap=5, aggs={"v": ["count", "sum"]})
    assert out.column("time").cast(pa.int64()).to_pylist() == [0, 20, 40]
    assert out.column("v_count").to_pylist() == [3, 2, 1]
    ends = aggregate_table(
        table, every=None, gap=5, label="right", aggs={"v": ["count"]}
    )
    assert ends.column("time").cast(pa.int64()).to_pylist() == [10, 26, 45]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"data": "nope"}, SchemaError, "pyarrow Table"),
        ({"data": pa.table({"t": [1]})}, SchemaError, "'time'"),
        ({"aggs": {"w": ["mean"]}}, SchemaError, "'w'"),
        ({"aggs": {"s": ["mean"]}}, SchemaError, "'mean'"),
        ({"aggs": {"v": ["avg"]}}, SchemaError, "'avg'"),
        ({"aggs": {}}, SchemaError, "aggs="),
        ({"aggs": {"v": ["sum", "sum"]}}, SchemaError, "repeat"),
        ({"every": "1q"}, ParseError, "'1q'"),
        ({"every": 0}, ParseError, "non-zero"),
        ({"tz": "Mars/Olympus", "every": "1d"}, ParseError, "'Mars/Olympus'"),
        ({"gap": "5s"}, ParseError, "gap="),
        ({"every": None}, ParseError, "every="),
        ({"fill": "prev"}, ParseError, "'prev'"),
        ({"fill": [1]}, ParseError, r"\[1\]"),
        ({"every": None, "gap": 3, "fill": 0.0}, SchemaError, "session"),
        ({"closed": "both"}, ParseError, "'both'"),
        ({"label": "middle"}, ParseError, "'middle'"),
        ({"start": 10, "end": 5}, TimestampError, "before"),
        ({"by": ["nope"]}, SchemaError, "'nope'"),
        ({"by": ["site"], "tag_columns": ["asset"]}, SchemaError, "tag_columns"),
        ({"every": "1d", "tz": "Europe/Berlin", "period": "1mo"}, ParseError, "months"),
        ({"every": "1d12h", "tz": "Europe/Berlin"}, ParseError, "mixed"),
        ({"every": "1h", "offset": "1mo"}, ParseError, "months"),
        ({"seed": pa.table({"v": [1.0]})}, SchemaError, "seed lacks"),
        ({"by": ["v"]}, SchemaError, "tags are strings"),
        ({"by": ["s_first"], "aggs": {"s": ["first"]}}, SchemaError, "would replace"),
    ],
)
def test_errors_name_the_bad_value(kwargs, error, match):
    args = {
        "data": pa.table(
            {
                "site": ["a"],
                "time": pa.array([0], TS),
                "v": [1.0],
                "s": ["x"],
                "s_first": ["y"],
            }
        ),
        "every": 10,
        "aggs": {"v": ["mean"]},
    }
    args.update(kwargs)
    data = args.pop("data")
    with pytest.raises(error, match=match) as info:
        aggregate_table(data, **args)
    assert isinstance(info.value, Error) and isinstance(info.value, ValueError)


def test_bad_times_are_refused():
    nulls = pa.table({"time": pa.array([0, None], TS), "v": [1.0, 2.0]})
    with pytest.raises(TimestampError, match="null"):
        aggregate_table(nulls, every=10, aggs={"v": ["count"]})
    edge = simple([-(2**63) + 5], [1.0])
    with pytest.raises(TimestampError, match=str(-(2**63) + 5)):
        aggregate_table(edge, every="1s", aggs={"v": ["count"]})
    huge = pa.table({"time": pa.array([2**64 - 1], pa.uint64()), "v": [1.0]})
    with pytest.raises(TimestampError, match="int64"):
        aggregate_table(huge, every=1, aggs={"v": ["count"]})
    with pytest.raises(SchemaError, match="timestamp"):
        aggregate_table(
            pa.table({"time": ["x"], "v": [1.0]}), every=1, aggs={"v": ["count"]}
        )


def test_errors_inherit_builtins():
    with pytest.raises(MemoryError):
        aggregate_table(
            simple([0], [1.0]), every=1, start=0, end=10**17, aggs={"v": ["count"]}
        )


@pytest.mark.parametrize(
    "module", [window, duration, aggspec, fill, timepoint, window.aggregate]
)
def test_docstring_examples_run(module):
    result = doctest.testmod(
        module,
        globs={
            "aggregate_table": aggregate_table,
            "parse_duration": parse_duration,
            "to_ns": to_ns,
            "parse_agg": parse_agg,
        },
        optionflags=doctest.ELLIPSIS,
    )
    assert result.failed == 0


def test_now_relative_start_works_end_to_end():
    now = datetime.now(UTC)
    t = [int(now.timestamp() * S) - 5 * S]
    out = aggregate_table(
        simple(t, [1.0]), every="1m", start="-1h", aggs={"v": ["count"]}
    )
    assert out.column("v_count").to_pylist()[-1] == 1


def test_right_closed_ranges_are_tiled_exactly():
    # (0, 30] with (s, s + 10] windows: three windows, the point at 0 is outside
    table = simple([0, 1, 10, 11, 30, 31], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    out = aggregate_table(
        table,
        every=10,
        start=0,
        end=30,
        closed="right",
        label="right",
        aggs={"v": ["count", "sum"]},
    )
    assert out.column("time").cast(pa.int64()).to_pylist() == [10, 20, 30]
    assert out.column("v_sum").to_pylist() == [5.0, 4.0, 5.0]


def test_integer_and_bool_tags_group_too():
    table = pa.table(
        {
            "line": pa.array([2, 1, 2, None], pa.int16()),
            "on": [True, False, True, True],
            "time": pa.array([0, 1, 2, 3], TS),
            "v": [1.0, 2.0, 3.0, 4.0],
        }
    )
    out = aggregate_table(table, every=10, by=["line", "on"], aggs={"v": ["sum"]})
    assert out.select(["line", "on", "v_sum"]).to_pylist() == [
        {"line": 1, "on": False, "v_sum": 2.0},
        {"line": 2, "on": True, "v_sum": 4.0},
        {"line": None, "on": True, "v_sum": 4.0},
    ]
