"""Overlapping windows from per-unit states, without recomputation.

A unit is a pane (the rows between two consecutive window edges) or a single row.
Window ``j`` covers units ``[a[j], b[j])``, with ``a`` and ``b`` non-decreasing.
Recomputing each window would cost O(units per window); instead units are cut into
blocks and every unit keeps the state of its block up to it (``pre``) and from it to
the block's end (``suf``). Block boundaries are placed greedily (the "two stacks"
sliding-window aggregation): when a window starts at or after the current boundary, a
new boundary is set at its end. Then every window is ``suf[a] (+) pre[b - 1]`` around
one boundary, at O(units + windows) total cost, for any associative merge -- also
those with no inverse, such as min and max, and without ever subtracting, so sums stay
compensated and return exact zeros once large values have left the window.

States are 2-D arrays, one row per unit; a merge writes ``out = x (+) y`` row-wise.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT
from tsengine.window._kernels.reduce import _dd_add

# Float state columns: count, NaN count, sum hi, sum lo, min, max
F_CNT, F_NAN, F_SHI, F_SLO, F_MIN, F_MAX = 0, 1, 2, 3, 4, 5
# Variance state columns: count, mean as a (hi, lo) pair, sum of squared deviations
V_N, V_MHI, V_MLO, V_M2 = 0, 1, 2, 3


@numba.njit(**NJIT)
def _merge_float(out, x, y):
    out[F_CNT] = x[F_CNT] + y[F_CNT]
    out[F_NAN] = x[F_NAN] + y[F_NAN]
    out[F_SHI], out[F_SLO] = _dd_add(x[F_SHI], x[F_SLO], y[F_SHI], y[F_SLO])
    out[F_MIN] = min(x[F_MIN], y[F_MIN])
    out[F_MAX] = max(x[F_MAX], y[F_MAX])


@numba.njit(**NJIT)
def _merge_int(out, x, y):
    # Columns: sum (wrapping), min, max; units are never empty
    out[0] = x[0] + y[0]
    out[1] = min(x[1], y[1])
    out[2] = max(x[2], y[2])


@numba.njit(**NJIT)
def _merge_var(out, x, y):
    # Chan et al.'s pairwise update: only the difference of means is squared, so a
    # large common offset never enters the arithmetic
    nx = x[V_N]
    ny = y[V_N]
    if ny == 0.0:
        out[:] = x
        return
    if nx == 0.0:
        out[:] = y
        return
    n = nx + ny
    # Close means: the hi parts subtract exactly, the lo parts restore the digits
    delta = (y[V_MHI] - x[V_MHI]) + (y[V_MLO] - x[V_MLO])
    out[V_N] = n
    out[V_MHI], out[V_MLO] = _dd_add(x[V_MHI], x[V_MLO], delta * (ny / n), 0.0)
    out[V_M2] = x[V_M2] + y[V_M2] + delta * delta * (nx * ny / n)


@numba.njit(**NJIT)
def _merge_dd(out, x, y):
    out[0], out[1] = _dd_add(x[0], x[1], y[0], y[1])


@numba.njit(**NJIT)
def _block_plan(a, b):
    """Greedy block boundaries; returns (boundary used by each window, boundaries)."""
    n_win = a.size
    mid = np.empty(n_win, np.int64)
    bounds = np.empty(n_win, np.int64)
    n_b = 0
    cur = -1
    for j in range(n_win):
        if b[j] > a[j] and a[j] >= cur:
            cur = b[j]
            bounds[n_b] = cur
            n_b += 1
        mid[j] = cur
    return mid, bounds[:n_b]


# Which merge a float driver applies (a plain int: Numba cannot cache functions that
# take other functions as arguments)
FLOAT, VAR, DD = 0, 1, 2


@numba.njit(inline="always", **NJIT)
def _merge(kind, out, x, y):
    if kind == FLOAT:
        _merge_float(out, x, y)
    elif kind == VAR:
        _merge_var(out, x, y)
    else:
        _merge_dd(out, x, y)


@numba.njit(**NJIT)
def _scan(states, bounds, kind):
    """Within-block running states from the left (``pre``) and right (``suf``)."""
    n_units = states.shape[0]
    pre = np.empty_like(states)
    suf = np.empty_like(states)
    start = 0
    for k in range(bounds.size + 1):
        stop = bounds[k] if k < bounds.size else n_units
        if stop > start:
            pre[start] = states[start]
            for u in range(start + 1, stop):
                _merge(kind, pre[u], pre[u - 1], states[u])
            suf[stop - 1] = states[stop - 1]
            for u in range(stop - 2, start - 1, -1):
                _merge(kind, suf[u], states[u], suf[u + 1])
        start = max(start, stop)
    return pre, suf


@numba.njit(**NJIT)
def _combine(states, a, b, kind, empty):
    """State of every window ``[a[j], b[j])`` of units; ``empty`` for no units."""
    mid, bounds = _block_plan(a, b)
    pre, suf = _scan(states, bounds, kind)
    out = np.empty((a.size, states.shape[1]), states.dtype)
    for j in range(a.size):
        if b[j] <= a[j]:
            out[j] = empty
        elif b[j] == mid[j]:
            out[j] = suf[a[j]]
        else:
            _merge(kind, out[j], suf[a[j]], pre[b[j] - 1])
    return out


@numba.njit(**NJIT)
def _combine_int(states, a, b):
    """Integer version of :func:`_combine` (sum, min, max); empty windows hold 0."""
    mid, bounds = _block_plan(a, b)
    n_units = states.shape[0]
    pre = np.empty_like(states)
    suf = np.empty_like(states)
    start = 0
    for k in range(bounds.size + 1):
        stop = bounds[k] if k < bounds.size else n_units
        if stop > start:
            pre[start] = states[start]
            for u in range(start + 1, stop):
                _merge_int(pre[u], pre[u - 1], states[u])
            suf[stop - 1] = states[stop - 1]
            for u in range(stop - 2, start - 1, -1):
                _merge_int(suf[u], states[u], suf[u + 1])
        start = max(start, stop)
    out = np.zeros((a.size, 3), states.dtype)
    for j in range(a.size):
        if b[j] <= a[j]:
            continue
        if b[j] == mid[j]:
            out[j] = suf[a[j]]
        else:
            _merge_int(out[j], suf[a[j]], pre[b[j] - 1])
    return out


def combine_float(states, a, b):
    """Window float states (count, nan, sum hi, sum lo, min, max) from unit states."""
    empty = np.array([0.0, 0.0, 0.0, 0.0, np.inf, -np.inf])
    return _combine(states, a, b, FLOAT, empty)


def combine_int(states, a, b):
    """Window integer states (sum, min, max); rows of empty windows are zero."""
    return _combine_int(states, a, b)


def combine_var(states, a, b):
    """Window variance states (n, mean hi, mean lo, M2) from unit states."""
    return _combine(states, a, b, VAR, np.zeros(4))


def combine_dd(states, a, b):
    """Window compensated sums (hi, lo) from unit pairs."""
    return _combine(states, a, b, DD, np.zeros(2))
