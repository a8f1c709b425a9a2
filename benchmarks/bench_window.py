"""Windowed aggregation throughput, each figure beside a baseline timed in the same run.

Run ``pytest benchmarks/bench_window.py`` for pytest-benchmark tables, or call
:func:`window_figures` (for the ``tsengine bench`` report) or run this file for the
ratios the issue targets:

- one series of 10 M points (1 kHz with jitter), 1 s tumbling windows,
  count/mean/min/max: against polars ``group_by_dynamic`` (>= 3x) and pandas
  ``resample`` (>= 10x);
- the same over 1,000 series (10,000 points each) with ``by=``: against polars
  ``group_by_dynamic(group_by=...)`` (>= 2x);
- sliding windows with ``period`` = 10 x ``every``: at most 2x the tumbling time.

tsengine is called as ``Engine.aggregate`` calls it: rows of each series in time
order and ``tag_columns`` given, so a group that is one series skips the order check.
The "order checked" row shows the cost of that check (``tag_columns=None``). pandas
and polars get their frames built outside the timed region (their index or sorted flag
then comes for free); every timing is the best of ``repeat`` runs after a warm-up.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from tsengine.window import aggregate_table

POINTS = 10_000_000
SERIES = 1_000
AGGS = {"v": ["count", "mean", "min", "max"]}
T0 = 1_700_000_000 * 10**9


def one_series(points: int = POINTS) -> pa.Table:
    """A 1 kHz sensor with up to 0.5 ms jitter: ``points`` rows of (time, v)."""
    rng = np.random.default_rng(0)
    t = T0 + np.arange(points, dtype=np.int64) * 1_000_000
    t += rng.integers(0, 500_000, points)
    return pa.table(
        {"time": pa.array(t, pa.timestamp("ns", "UTC")), "v": rng.normal(size=points)}
    )


def many_series(points: int = POINTS, series: int = SERIES) -> pa.Table:
    """``series`` assets at 10 Hz, concatenated in tag order (as ``Engine.read``)."""
    rng = np.random.default_rng(1)
    per = points // series
    t = T0 + np.tile(np.arange(per, dtype=np.int64) * 100_000_000, series)
    names = np.array([f"P-{i:04d}" for i in range(series)])
    return pa.table(
        {
            "asset": pa.array(np.repeat(names, per)),
            "time": pa.array(t, pa.timestamp("ns", "UTC")),
            "v": rng.normal(size=per * series),
        }
    )


def _best_interleaved(cases: dict, repeat: int) -> dict:
    """Best wall time of every case, in seconds, over ``repeat`` interleaved rounds.

    Each round runs every case once, so a burst of load on a shared machine slows all
    cases of that round alike instead of one case's whole series.
    """
    for fn in cases.values():
        fn()  # warm-up: compilation, caches
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(repeat):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _polars_agg():
    return (
        pl.len().alias("count"),
        pl.col("v").mean().alias("mean"),
        pl.col("v").min().alias("min"),
        pl.col("v").max().alias("max"),
    )


def _cases(single: pa.Table, grouped: pa.Table) -> dict:
    """Callables of every measured case."""
    frame = pl.from_arrow(single)
    frame_by = pl.from_arrow(grouped)
    t = single.column("time").cast(pa.int64()).to_numpy()
    series = pd.Series(single.column("v").to_numpy(), index=pd.to_datetime(t, utc=True))
    return {
        "tumbling": lambda: aggregate_table(
            single, every="1s", aggs=AGGS, tag_columns=[]
        ),
        "tumbling_checked": lambda: aggregate_table(single, every="1s", aggs=AGGS),
        "sliding": lambda: aggregate_table(
            single, every="1s", period="10s", aggs=AGGS, tag_columns=[]
        ),
        "polars": lambda: frame.group_by_dynamic("time", every="1s").agg(
            *_polars_agg()
        ),
        "pandas": lambda: series.resample("1s").agg(["count", "mean", "min", "max"]),
        "by": lambda: aggregate_table(
            grouped, every="1s", aggs=AGGS, by=["asset"], tag_columns=["asset"]
        ),
        "polars_by": lambda: frame_by.group_by_dynamic(
            "time", every="1s", group_by="asset"
        ).agg(*_polars_agg()),
    }


def window_figures(quick: bool = False, repeat: int = 7) -> list[dict]:
    """Measure every case; figures in M points/s with their same-run baselines.

    Returns dicts with ``benchmark``, ``unit``, ``tsengine``, ``baseline_name``,
    ``baseline`` and ``target`` (as the other suites of the report do).
    """
    points = 1_000_000 if quick else POINTS
    single, grouped = one_series(points), many_series(points)
    cases = _cases(single, grouped)
    rate = {
        k: points / sec / 1e6 for k, sec in _best_interleaved(cases, repeat).items()
    }
    unit = "M points/s"
    label = f"{points / 1e6:g} M points"
    return [
        dict(
            benchmark=f"1 s tumbling, one series, {label}",
            unit=unit,
            tsengine=rate["tumbling"],
            baseline_name="polars group_by_dynamic",
            baseline=rate["polars"],
            target=">= 3x baseline",
        ),
        dict(
            benchmark=f"1 s tumbling, one series, {label}",
            unit=unit,
            tsengine=rate["tumbling"],
            baseline_name="pandas resample",
            baseline=rate["pandas"],
            target=">= 10x baseline",
        ),
        dict(
            benchmark=f"1 s tumbling, order checked (tag_columns=None), {label}",
            unit=unit,
            tsengine=rate["tumbling_checked"],
            baseline_name="pandas resample",
            baseline=rate["pandas"],
            target="",
        ),
        dict(
            benchmark=f"1 s tumbling by= {SERIES:,} series, {label}",
            unit=unit,
            tsengine=rate["by"],
            baseline_name="polars group_by_dynamic(group_by=)",
            baseline=rate["polars_by"],
            target=">= 2x baseline",
        ),
        dict(
            benchmark=f"sliding period = 10 x every, {label}",
            unit=unit,
            tsengine=rate["sliding"],
            baseline_name="tsengine 1 s tumbling",
            baseline=rate["tumbling"],
            target=">= 0.5x baseline",
        ),
    ]


# -- pytest-benchmark ---------------------------------------------------------------


@pytest.fixture(scope="session")
def cases() -> dict:
    return _cases(one_series(), many_series())


@pytest.mark.parametrize(
    "name", ["tumbling", "tumbling_checked", "sliding", "polars", "pandas"]
)
def test_one_series(benchmark, cases, name):
    benchmark.group = "1 s windows, one series, 10 M points"
    benchmark.pedantic(cases[name], rounds=5, warmup_rounds=1)
    benchmark.extra_info["M_points_per_s"] = POINTS / benchmark.stats.stats.min / 1e6


@pytest.mark.parametrize("name", ["by", "polars_by"])
def test_by_series(benchmark, cases, name):
    benchmark.group = f"1 s windows, by {SERIES:,} series, 10 M points"
    benchmark.pedantic(cases[name], rounds=3, warmup_rounds=1)
    benchmark.extra_info["M_points_per_s"] = POINTS / benchmark.stats.stats.min / 1e6


if __name__ == "__main__":
    for f in window_figures():
        ratio = f["tsengine"] / f["baseline"]
        print(
            f"{f['benchmark']:<58} {f['tsengine']:8.1f} vs {f['baseline']:8.1f} "
            f"{f['unit']} ({f['baseline_name']}): {ratio:5.2f}x  target {f['target']}"
        )
