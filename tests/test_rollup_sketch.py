"""The DDSketch behind rollup percentiles: its error bound against exact quantiles.

Bound (see :mod:`tsengine.rollup.sketch`): for quantile q of n values sorted as x,
with h = (n - 1) q, k = floor(h), f = h - k, the estimate is within
``alpha * ((1 - f) |x[k]| + f |x[k + 1]|)`` of numpy's exact (linear) quantile.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tsengine
from tsengine.rollup.sketch import DDSketch

QS = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0]
# float rounding of the logarithm at a bin edge (see the module docstring)
SLACK = 1 + 1e-9


def bound(values: np.ndarray, q: float, alpha: float) -> float:
    x = np.sort(values)
    h = (x.size - 1) * q
    k = min(int(np.floor(h)), x.size - 1)
    f = h - k
    upper = abs(x[k + 1]) if k + 1 < x.size else 0.0
    return alpha * ((1 - f) * abs(x[k]) + f * upper) * SLACK + 1e-300


def check(values: np.ndarray, quantile, alpha: float) -> None:
    for q in QS:
        exact = np.quantile(values, q)
        assert abs(quantile(q) - exact) <= bound(values, q, alpha), (q, exact)


FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
SCALED = st.builds(
    lambda m, e, s: s * m * 10.0**e,
    st.floats(1.0, 10.0),
    st.integers(-300, 300),
    st.sampled_from([-1.0, 1.0]),
)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.one_of(FINITE, SCALED, st.just(0.0)), min_size=1, max_size=300),
    alpha=st.sampled_from([0.01, 0.02, 0.001, 0.05]),
)
def test_sketch_quantiles_stay_within_the_bound(values, alpha):
    v = np.array(values)
    sketch = DDSketch(alpha)
    sketch.add(v)
    assert sketch.count == v.size
    check(v, sketch.quantile, alpha)


@pytest.mark.parametrize(
    "make",
    [
        lambda r: r.lognormal(0.0, 4.0, 20_000),
        lambda r: r.normal(0.0, 1.0, 20_000),
        lambda r: 1e9 + r.normal(0.0, 1.0, 20_000),
        lambda r: r.exponential(3.0, 20_000) * -1.0,
        lambda r: np.round(r.normal(0.0, 3.0, 20_000)),  # many zeros and ties
    ],
    ids=["lognormal", "normal", "offset", "negative", "integers"],
)
def test_sketch_on_large_samples(make):
    v = make(np.random.default_rng(11))
    sketch = DDSketch(0.01)
    sketch.add(v)
    check(v, sketch.quantile, 0.01)
    # bins grow with the logarithmic range of the data, not with its size
    assert sketch.bins < 3_000


def test_merged_sketches_equal_the_sketch_of_all_values():
    v = np.random.default_rng(3).lognormal(2.0, 2.0, 5_000)
    whole = DDSketch(0.01)
    whole.add(v)
    parts = [DDSketch(0.01) for _ in range(4)]
    for part, chunk in zip(parts, np.array_split(v, 4)):
        part.add(chunk)
    merged = parts[0].merge(parts[1]).merge(parts[2]).merge(parts[3])
    assert merged.count == whole.count
    assert [merged.quantile(q) for q in QS] == [whole.quantile(q) for q in QS]


def test_sketch_edges():
    sketch = DDSketch()
    assert np.isnan(sketch.quantile(0.5))
    sketch.add([np.nan, np.inf, 1.0, -np.inf])  # NaN is not counted
    assert sketch.count == 3
    assert sketch.quantile(0.0) == -np.inf and sketch.quantile(1.0) == np.inf
    assert abs(sketch.quantile(0.5) - 1.0) <= 0.01
    with pytest.raises(ValueError, match="q=1.5"):
        sketch.quantile(1.5)
    with pytest.raises(ValueError, match="alpha=0.02"):
        sketch.merge(DDSketch(0.02))
    for alpha in (0.0, 0.9, "0.01", True):
        with pytest.raises(ValueError, match="alpha="):
            DDSketch(alpha)


@pytest.mark.parametrize("alpha", [0.01, 0.001])
def test_rollup_percentiles_against_exact_window_quantiles(alpha):
    rng = np.random.default_rng(8)
    engine = tsengine.Engine()
    engine.create_table("pump", tags=["asset"], fields={"v": "float64", "n": "int64"})
    names = ["median", "p90", "p99", "p99.9", "q0.25"]
    engine.create_rollup(
        "r", "pump", "1s", {"v": names, "n": ["p50"]}, by=["asset"], alpha=alpha
    )
    times = np.sort(rng.integers(0, 20 * 10**9, 40_000))
    assets = rng.choice(["A", "B"], times.size)
    values = rng.lognormal(1.0, 2.0, times.size) * rng.choice([1, -1], times.size)
    ints = rng.integers(-1000, 1000, times.size)
    for lo in range(0, times.size, 3_000):
        sl = slice(lo, lo + 3_000)
        engine.write(
            "pump",
            {"time": times[sl], "asset": assets[sl], "v": values[sl], "n": ints[sl]},
        )
    got = engine.read("r")
    assert got.num_rows == 2 * 19  # second 19 is still open
    window = got.column("time").cast(pa.int64()).to_numpy() // 10**9
    asset = got.column("asset").cast(pa.string()).to_pylist()
    for row in range(got.num_rows):
        pick = (times // 10**9 == window[row]) & (assets == asset[row])
        for name in names:
            q = {"median": 0.5, "q0.25": 0.25}.get(name) or float(name[1:]) / 100
            est = got.column(f"v_{name}")[row].as_py()
            exact = np.quantile(values[pick], q)
            assert abs(est - exact) <= bound(values[pick], q, alpha), (row, name)
        est = got.column("n_p50")[row].as_py()
        exact = np.quantile(ints[pick].astype(float), 0.5)
        assert abs(est - exact) <= bound(ints[pick].astype(float), 0.5, alpha)
