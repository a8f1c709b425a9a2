"""Numerical behaviour: compensated sums, variance with large offsets, extremes, NaN."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pytest

from tsengine.window import aggregate_table


def table(values, times=None, kind=None):
    kind = pa.float64() if kind is None else kind
    times = np.arange(len(values), dtype=np.int64) if times is None else times
    return pa.table(
        {
            "time": pa.array(np.asarray(times, np.int64), pa.timestamp("ns", "UTC")),
            "v": pa.array(values, kind),
        }
    )


def exact_var(values, ddof=1):
    n = len(values)
    mean = sum(Fraction(v) for v in values) / n
    return float(sum((Fraction(v) - mean) ** 2 for v in values) / (n - ddof))


@pytest.mark.parametrize("period", [None, 40])
def test_variance_of_large_offset_plus_noise(period):
    rng = np.random.default_rng(7)
    values = 1e9 + rng.normal(0, 1e-3, 400)
    out = aggregate_table(
        table(values),
        every=20,
        period=period,
        aggs={"v": ["var", "std_pop", "mean"]},
        fill="none",
    )
    for row, start in zip(out.to_pylist(), range(0, 400, 20)):
        window = list(values[start : start + (period or 20)])
        assert row["v_var"] == pytest.approx(exact_var(window), rel=1e-9)
        assert row["v_std_pop"] == pytest.approx(
            math.sqrt(exact_var(window, 0)), rel=1e-9
        )
        # The naive formula E[x^2] - E[x]^2 has no correct digits here
        assert row["v_var"] > 0


def test_sliding_sums_are_exact_after_large_values_leave():
    # Large values enter and leave; the windows after them hold only small ones
    values = [1e17, 3.0, -1e17, 0.25, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 1e-3]
    out = aggregate_table(table(values), every=1, period=3, aggs={"v": ["sum", "mean"]})
    sums = out.column("v_sum").to_pylist()
    for k, got in enumerate(sums):
        assert got == math.fsum(values[k : k + 3]), k
    # Once 1e17 and -1e17 are gone, zeros sum to exactly zero
    assert sums[5:8] == [0.0, 0.0, 0.0]
    assert sums[8] == 1e-3


def test_sliding_sum_matches_correctly_rounded_sum_on_hard_data():
    rng = np.random.default_rng(3)
    values = rng.normal(0, 1, 3000) * 10.0 ** rng.integers(-8, 16, 3000)
    out = aggregate_table(table(values), every=7, period=100, aggs={"v": ["sum"]})
    sums = out.column("v_sum").to_pylist()
    for k, got in enumerate(sums):
        want = math.fsum(values[7 * k : 7 * k + 100])
        assert got == pytest.approx(want, rel=1e-15, abs=1e-300), k


def test_tumbling_sum_cancels_exactly():
    out = aggregate_table(
        table([1.0, 1e100, 1.0, -1e100]), every=10, aggs={"v": ["sum"]}
    )
    assert out.column("v_sum").to_pylist() == [2.0]


@pytest.mark.parametrize("period", [None, 6])
def test_mean_of_extremes_does_not_overflow(period):
    values = [1e308, 1.7e308, 1.5e308, -1e308, 1.7e308, 1.7e308]
    out = aggregate_table(
        table(values), every=3, period=period, aggs={"v": ["mean", "sum"]}
    )
    means = out.column("v_mean").to_pylist()
    want = [
        float(
            sum(Fraction(v) for v in values[k : k + (period or 3)])
            / len(values[k : k + (period or 3)])
        )
        for k in (0, 3)
    ]
    assert means == pytest.approx(want, rel=1e-15)
    assert math.isinf(out.column("v_sum").to_pylist()[0])  # the true sum is too big


def test_quantile_and_twa_of_opposite_extremes():
    values = [-1.7e308, 1.7e308]
    out = aggregate_table(
        table(values, [0, 10]),
        every=100,
        aggs={"v": ["median", "p25", "twa", "integral"]},
    )
    row = out.to_pylist()[0]
    assert row["v_median"] == 0.0
    assert row["v_p25"] == pytest.approx(-0.85e308)
    assert row["v_twa"] == 0.0
    assert row["v_integral"] == 0.0


def test_infinities_follow_ieee():
    out = aggregate_table(
        table([1.0, math.inf, 2.0, -math.inf, 1.0, math.inf]),
        every=2,
        aggs={"v": ["sum", "mean", "max", "min"]},
    )
    rows = out.to_pylist()
    assert rows[0]["v_sum"] == math.inf and rows[0]["v_mean"] == math.inf
    assert rows[1]["v_min"] == -math.inf and rows[1]["v_max"] == 2.0
    assert math.isinf(rows[2]["v_mean"])


def test_integer_sums_are_exact():
    big = 2**62
    values = [big, big - 1, -big, 7, 2**63 - 1, -(2**63 - 1)]
    out = aggregate_table(
        table(values, kind=pa.int64()),
        every=3,
        aggs={"v": ["sum", "min", "max", "spread", "mean"]},
    )
    rows = out.to_pylist()
    assert rows[0]["v_sum"] == big - 1 and out.schema.field("v_sum").type == pa.int64()
    assert rows[1]["v_sum"] == 7
    assert rows[1]["v_spread"] == float(2**64 - 2)  # max - min exceeds int64
    assert rows[0]["v_min"] == -big and rows[0]["v_max"] == big


def test_uint64_above_int64_range():
    values = [2**64 - 1, 2**63, 1]
    out = aggregate_table(
        table(values, kind=pa.uint64()),
        every=10,
        aggs={"v": ["min", "max", "first", "spread"]},
    )
    row = out.to_pylist()[0]
    assert (row["v_min"], row["v_max"], row["v_first"]) == (1, 2**64 - 1, 2**64 - 1)
    assert out.schema.field("v_max").type == pa.uint64()


def test_nan_skipped_or_propagated():
    values = [1.0, math.nan, 3.0, 4.0, math.nan, math.nan, 2.0, 2.0]
    aggs = {"v": ["count", "mean", "max", "first", "last", "p50", "twa", "rate", "std"]}
    for period in (None, 8):
        skip = aggregate_table(table(values), every=4, period=period, aggs=aggs)
        keep = aggregate_table(
            table(values), every=4, period=period, aggs=aggs, skip_nan=False
        )
        s0, k0 = skip.to_pylist()[0], keep.to_pylist()[0]
        clean = [(t, v) for t, v in enumerate(values[: period or 4]) if v == v]
        assert s0["v_count"] == len(clean)
        assert k0["v_count"] == len(values[: period or 4])
        assert s0["v_mean"] == pytest.approx(sum(v for _, v in clean) / len(clean))
        assert (s0["v_first"], s0["v_last"]) == (clean[0][1], clean[-1][1])
        # Trapezoids between the non-NaN points only
        area = sum((a[1] + b[1]) / 2 * (b[0] - a[0]) for a, b in zip(clean, clean[1:]))
        assert s0["v_twa"] == pytest.approx(area / (clean[-1][0] - clean[0][0]))
        for name in ("v_mean", "v_max", "v_p50", "v_twa", "v_rate", "v_std"):
            assert math.isnan(k0[name]), name
        assert k0["v_first"] == 1.0 and k0["v_last"] == values[(period or 4) - 1]


def test_nulls_are_never_counted():
    t = pa.table(
        {
            "time": pa.array([0, 1, 2, 3], pa.timestamp("ns", "UTC")),
            "v": pa.array([None, 2.0, None, None]),
            "s": pa.array([None, None, "a", None]),
        }
    )
    out = aggregate_table(
        t,
        every=10,
        aggs={"v": ["count", "first", "mean"], "s": ["count", "last"]},
        skip_nan=False,
    )
    assert out.to_pylist()[0] == {
        "time": out.to_pylist()[0]["time"],
        "v_count": 1,
        "v_first": 2.0,
        "v_mean": 2.0,
        "s_count": 1,
        "s_last": "a",
    }
