"""Each window kernel against a slow, obviously correct numpy or Python version."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsengine.window._kernels.grouping import _string_changes
from tsengine.window._kernels.order import _quantiles_disjoint, _quantiles_sliding
from tsengine.window._kernels.ranges import (
    _fixed_nonempty,
    _sessions,
    _unsorted_groups,
    _window_rows,
)
from tsengine.window._kernels.reduce import _segments_float
from tsengine.window._kernels.sliding import combine_float, combine_int, combine_var
from tsengine.window._reference import sessions

SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def grouped_times(draw):
    """Sorted times in 1-3 groups, with irregular strides and duplicates."""
    groups = draw(st.integers(1, 3))
    t, g_lo, g_hi = [], [], []
    for _ in range(groups):
        g_lo.append(len(t))
        now = draw(st.integers(-50, 50))
        for _ in range(draw(st.integers(0, 60))):
            now += draw(st.sampled_from([0, 1, 1, 2, 5, 20]))
            t.append(now)
        g_hi.append(len(t))
    return (np.array(t, np.int64), np.array(g_lo, np.int64), np.array(g_hi, np.int64))


@SETTINGS
@given(grouped_times(), st.data())
def test_window_rows_match_searchsorted(rows, data):
    t, g_lo, g_hi = rows
    ws, we, counts = [], [], []
    for _ in g_lo:
        k = data.draw(st.integers(0, 25))
        starts = np.cumsum(
            data.draw(st.lists(st.integers(0, 9), min_size=k, max_size=k))
        )
        widths = data.draw(st.integers(1, 30))
        ws += list(starts - 60)
        we += list(starts - 60 + widths)
        counts.append(k)
    ws, we = np.array(ws, np.int64), np.array(we, np.int64)
    w_off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    shift = data.draw(st.integers(0, 1))
    lo, hi = _window_rows(
        t if t.size else np.zeros(1, np.int64), g_lo, g_hi, w_off, ws, we, shift
    )
    for g in range(g_lo.size):
        seg = t[g_lo[g] : g_hi[g]]
        for j in range(w_off[g], w_off[g + 1]):
            assert lo[j] == g_lo[g] + np.searchsorted(seg, ws[j] + shift)
            assert hi[j] == g_lo[g] + np.searchsorted(seg, we[j] + shift)


@SETTINGS
@given(
    grouped_times(),
    st.integers(1, 12),
    st.integers(1, 40),
    st.integers(0, 11),
    st.integers(0, 1),
)
def test_fixed_nonempty_windows(rows, every, period, origin, shift):
    t, g_lo, g_hi = rows
    origin %= every
    k0 = np.full(g_lo.size, -30, np.int64)
    k1 = np.full(g_lo.size, 30, np.int64)
    args = (
        t if t.size else np.zeros(1, np.int64),
        g_lo,
        g_hi,
        k0,
        k1,
        origin,
        every,
        period,
        shift,
        10**9,
    )
    counts = _fixed_nonempty(*args, np.empty(0, np.int64))
    out = np.empty(counts.sum(), np.int64)
    _fixed_nonempty(*args, out)
    pos = 0
    for g in range(g_lo.size):
        keys = t[g_lo[g] : g_hi[g]] - shift
        want = [
            k
            for k in range(-30, 31)
            if any(origin + k * every <= x < origin + k * every + period for x in keys)
        ]
        assert list(out[pos : pos + counts[g]]) == want
        pos += counts[g]


@SETTINGS
@given(grouped_times(), st.integers(1, 15))
def test_sessions_and_order_checks(rows, gap):
    t, g_lo, g_hi = rows
    empty = np.empty(0, np.int64)
    safe = t if t.size else np.zeros(1, np.int64)
    counts = _sessions(safe, g_lo, g_hi, gap, empty, empty)
    ws, we = np.empty(counts.sum(), np.int64), np.empty(counts.sum(), np.int64)
    _sessions(safe, g_lo, g_hi, gap, ws, we)
    want = [
        s for g in range(g_lo.size) for s in sessions(list(t[g_lo[g] : g_hi[g]]), gap)
    ]
    assert list(zip(ws.tolist(), we.tolist())) == want
    assert not _unsorted_groups(safe, g_lo, g_hi).any()
    if t.size > 2:
        broken = t.copy()
        broken[[0, -1]] = broken[[-1, 0]]
        bad = _unsorted_groups(broken, g_lo, g_hi)
        for g in range(g_lo.size):
            seg = broken[g_lo[g] : g_hi[g]]
            assert bad[g] == bool(np.any(np.diff(seg) < 0))


@st.composite
def unit_windows(draw):
    """Values and monotone windows [a, b) over them."""
    n = draw(st.integers(1, 80))
    values = np.array(
        draw(
            st.lists(
                st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(math.nan)),
                min_size=n,
                max_size=n,
            )
        )
    )
    k = draw(st.integers(1, 40))
    a = np.sort(np.array(draw(st.lists(st.integers(0, n), min_size=k, max_size=k))))
    widths = np.array(draw(st.lists(st.integers(0, 12), min_size=k, max_size=k)))
    b = np.maximum.accumulate(np.minimum(a + widths, n))
    return values, a.astype(np.int64), b.astype(np.int64)


@SETTINGS
@given(unit_windows())
def test_sliding_merges_match_direct_reduction(case):
    values, a, b = case
    units = np.column_stack(
        _segments_float(
            values, np.arange(values.size), np.arange(1, values.size + 1), True
        )
    )
    merged = combine_float(units.astype(float), a, b)
    for j in range(a.size):
        w = values[a[j] : b[j]]
        clean = w[~np.isnan(w)]
        assert merged[j, 0] == clean.size and merged[j, 1] == w.size - clean.size
        # A compensated pair is within one rounding of the correctly rounded sum
        exact = math.fsum(clean)
        assert abs(merged[j, 2] + merged[j, 3] - exact) <= np.spacing(abs(exact))
        if clean.size:
            assert (merged[j, 4], merged[j, 5]) == (clean.min(), clean.max())
    ints = np.nan_to_num(values).astype(np.int64)
    merged_int = combine_int(np.column_stack([ints, ints, ints]), a, b)
    for j in range(a.size):
        if b[j] > a[j]:
            w = ints[a[j] : b[j]]
            assert tuple(merged_int[j]) == (w.sum(), w.min(), w.max())
    clean_values = np.nan_to_num(values)
    var_units = np.column_stack(
        [
            np.ones(values.size),
            clean_values,
            np.zeros(values.size),
            np.zeros(values.size),
        ]
    )
    merged_var = combine_var(var_units, a, b)
    for j in range(a.size):
        w = clean_values[a[j] : b[j]]
        if w.size:
            assert merged_var[j, 0] == w.size
            assert np.isclose(
                merged_var[j, 3], ((w - w.mean()) ** 2).sum(), rtol=1e-9, atol=1e-3
            )


@SETTINGS
@given(unit_windows(), st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_quantile_kernels_match_numpy(case, qs):
    values, a, b = case
    values = np.nan_to_num(values)
    qs = np.array(qs)
    sliding = _quantiles_sliding(values, a, b, qs)
    for j in range(a.size):
        w = values[a[j] : b[j]]
        want = np.quantile(w, qs) if w.size else np.full(qs.size, np.nan)
        assert np.allclose(sliding[j], want, rtol=1e-12, equal_nan=True)
    disjoint_a = np.arange(0, values.size, 5, dtype=np.int64)
    disjoint_b = np.minimum(disjoint_a + 5, values.size)
    disjoint = _quantiles_disjoint(values, disjoint_a, disjoint_b, qs)
    for j in range(disjoint_a.size):
        want = np.quantile(values[disjoint_a[j] : disjoint_b[j]], qs)
        assert np.allclose(disjoint[j], want, rtol=1e-12)


@SETTINGS
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.none(),
                st.sampled_from(["", "a", "ab", "abc", "P-0001", "P-0002", "x" * 20]),
            ),
            st.integers(1, 400),
        ),
        max_size=12,
    ),
    st.integers(0, 5),
    st.booleans(),
)
def test_string_run_detection(runs, cut, large):
    values = [v for v, n in runs for _ in range(n)]
    arr = pa.array(values, pa.large_string() if large else pa.string())[cut:]
    values = values[cut:]
    bufs = arr.buffers()
    width = np.int64 if large else np.int32
    offsets = np.frombuffer(bufs[1], width)[arr.offset : arr.offset + len(arr) + 1]
    data = (
        np.frombuffer(bufs[2], np.uint8)
        if bufs[2] is not None
        else np.zeros(1, np.uint8)
    )
    valid = np.array([v is not None for v in values] or [True])
    changed = np.zeros(len(values), np.bool_)
    _string_changes(offsets, data, arr.null_count > 0, valid, changed)
    want = [i == 0 or values[i] != values[i - 1] for i in range(len(values))]
    assert changed.tolist() == want
