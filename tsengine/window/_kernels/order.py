"""Exact quantiles per window, linear interpolation between order statistics.

The q-quantile of ``n`` sorted values ``x`` is read at position ``h = (n - 1) * q``:
``x[floor(h)]`` moved toward ``x[floor(h) + 1]`` by the fraction of ``h`` (pandas'
and numpy's default "linear" method, with numpy's two-sided interpolation formula).

Disjoint windows sort a copy of their rows (O(n log w) in total). Overlapping windows
keep a Fenwick tree of the ranks currently in the window: a row enters and leaves once,
and each quantile is a descent of the tree, so the cost is O((rows + windows) log rows)
whatever the overlap. NaN sorts last; a window holding NaN yields NaN (the caller
removes NaN beforehand when ``skip_nan`` is on).
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT


@numba.njit(inline="always", **NJIT)
def _lerp(x0, x1, frac):
    """Point ``frac`` of the way from ``x0`` to ``x1``, exact at both ends."""
    if x0 == x1:
        return x0
    diff = x1 - x0
    if not np.isfinite(diff):
        # Opposite extremes (-1e308 and 1e308): blend without forming the difference
        return x0 * (1.0 - frac) + x1 * frac
    if frac >= 0.5:
        return x1 - diff * (1.0 - frac)
    return x0 + diff * frac


@numba.njit(inline="always", **NJIT)
def _position(n, q):
    """Lower order statistic and interpolation fraction for quantile ``q``."""
    h = (n - 1) * q
    k = min(int(np.floor(h)), n - 1)
    return k, h - k


@numba.njit(parallel=True, **NJIT)
def _quantiles_disjoint(v, lo, hi, qs):
    """Quantiles ``qs`` of each window's rows, sorting a copy per window."""
    n_win = lo.size
    out = np.full((n_win, qs.size), np.nan)
    for j in numba.prange(n_win):
        n = hi[j] - lo[j]
        if n <= 0:
            continue
        buf = np.sort(v[lo[j] : hi[j]])
        if buf[n - 1] != buf[n - 1]:
            continue
        for c in range(qs.size):
            k, frac = _position(n, qs[c])
            if frac == 0.0 or k + 1 >= n:
                out[j, c] = buf[k]
            else:
                out[j, c] = _lerp(buf[k], buf[k + 1], frac)
    return out


@numba.njit(**NJIT)
def _fenwick_add(tree, pos, delta):
    i = pos + 1
    while i < tree.size:
        tree[i] += delta
        i += i & (-i)


@numba.njit(**NJIT)
def _fenwick_kth(tree, top, k):
    """Rank holding the ``k``-th (0-based) smallest value currently in the tree."""
    pos = 0
    step = top
    while step:
        nxt = pos + step
        if nxt < tree.size and tree[nxt] <= k:
            pos = nxt
            k -= tree[nxt]
        step >>= 1
    return pos


@numba.njit(**NJIT)
def _quantiles_sliding(v, lo, hi, qs):
    """Quantiles ``qs`` of overlapping windows (``lo`` and ``hi`` non-decreasing)."""
    n_rows = v.size
    n_win = lo.size
    out = np.full((n_win, qs.size), np.nan)

    # Ranks: ties keep row order so every row has its own slot in the tree
    order = np.argsort(v, kind="mergesort")
    rank = np.empty(n_rows, np.int64)
    for r in range(n_rows):
        rank[order[r]] = r
    ranked = v[order]
    tree = np.zeros(n_rows + 1, np.int64)
    top = 1
    while top * 2 <= n_rows:
        top *= 2

    # Slide: rows enter at hi and leave at lo, each once
    cur_lo = 0
    cur_hi = 0
    nan_in = 0
    for j in range(n_win):
        a = lo[j]
        b = hi[j]
        if a >= cur_hi:
            # Disjoint from the current window: empty the tree cheaply
            for i in range(cur_lo, cur_hi):
                _fenwick_add(tree, rank[i], -1)
            cur_lo = a
            cur_hi = a
            nan_in = 0
        while cur_hi < b:
            _fenwick_add(tree, rank[cur_hi], 1)
            if v[cur_hi] != v[cur_hi]:
                nan_in += 1
            cur_hi += 1
        while cur_lo < a:
            _fenwick_add(tree, rank[cur_lo], -1)
            if v[cur_lo] != v[cur_lo]:
                nan_in -= 1
            cur_lo += 1
        n = b - a
        if n <= 0 or nan_in > 0:
            continue
        for c in range(qs.size):
            k, frac = _position(n, qs[c])
            x0 = ranked[_fenwick_kth(tree, top, k)]
            if frac == 0.0 or k + 1 >= n:
                out[j, c] = x0
            else:
                out[j, c] = _lerp(x0, ranked[_fenwick_kth(tree, top, k + 1)], frac)
    return out
