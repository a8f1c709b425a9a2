"""Numba kernels that close windows (trusted inputs, no checks).

A closing window's state (laid out as in :mod:`tsengine.rollup._kernels`) becomes its
results exactly as the query kernels would compute them from the window's values; the
window's sketch bins leave the shared bin map; its state row returns to the pool.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT
from tsengine.rollup._kernels import (
    BIG,
    EX_HI,
    EX_LO,
    FIRST,
    I_CNT,
    I_FIRST,
    I_LAST,
    I_MN,
    I_MX,
    I_SUM,
    LANE_C,
    LANE_S,
    LAST,
    MN,
    MX,
    N_LANE,
    NAN_IN,
    PEND,
    PLAIN,
    SC_HI,
    SC_LO,
    SKETCH_SHIFT,
    WM2,
)
from tsengine.rollup.sketch import _quantile
from tsengine.window._kernels.reduce import _dd_add, _two_sum

_I64_MIN = np.iinfo(np.int64).min
_I64_MAX = np.iinfo(np.int64).max


@numba.njit(**NJIT)
def _finish_float(rows, FS, IS):
    """Closed windows' float results: count, sum, mean, min, max, first, last, and
    Welford M2, following the query kernel's lane/fallback choice exactly."""
    m = rows.size
    cnt = np.zeros(m, np.int64)
    total = np.full(m, np.nan)
    mean = np.full(m, np.nan)
    mn = np.full(m, np.nan)
    mx = np.full(m, np.nan)
    first = np.full(m, np.nan)
    last = np.full(m, np.nan)
    m2 = np.full(m, np.nan)
    for j in range(m):
        r = rows[j]

        # The tail goes to lane 0, then the lanes merge
        s0 = FS[r, LANE_S]
        c0 = FS[r, LANE_C]
        lanes = int(FS[r, N_LANE])
        for q in range(lanes & 3):
            s0, e = _two_sum(s0, FS[r, PEND + q])
            c0 += e
        th, tl = _dd_add(s0, c0, FS[r, LANE_S + 1], FS[r, LANE_C + 1])
        th, tl = _dd_add(th, tl, FS[r, LANE_S + 2], FS[r, LANE_C + 2])
        th, tl = _dd_add(th, tl, FS[r, LANE_S + 3], FS[r, LANE_C + 3])

        # Non-finite lanes (NaN, inf, overflow): the sequential sum decides, else
        # the scaled sum (finite values) or the plain sum (infinite ones)
        mn[j] = FS[r, MN]
        mx[j] = FS[r, MX]
        if np.isfinite(th) and np.isfinite(tl):
            n = lanes
            hi, lo = th, tl
        else:
            n = lanes - IS[r, NAN_IN]
            hi = FS[r, EX_HI] + FS[r, EX_LO]
            lo = FS[r, EX_LO] - (hi - FS[r, EX_HI])
            if not np.isfinite(hi):
                lo = 0.0
                if np.isfinite(mn[j]) and np.isfinite(mx[j]):
                    hi = (FS[r, SC_HI] + FS[r, SC_LO]) * 2.0**64
                else:
                    hi = FS[r, PLAIN]
        cnt[j] = n
        if n == 0:
            continue
        total[j] = hi + lo
        mean[j] = total[j] / n
        if FS[r, BIG] != 0.0 and not np.isfinite(mean[j]):
            if np.isfinite(mn[j]) and np.isfinite(mx[j]):
                # Finite values whose plain sum overflowed: the scaled sum cannot
                scaled = FS[r, SC_HI] + FS[r, SC_LO]
                mean[j] = (scaled / n) * 2.0**64
        first[j] = FS[r, FIRST]
        last[j] = FS[r, LAST]
        m2[j] = FS[r, WM2]
    return cnt, total, mean, mn, mx, first, last, m2


@numba.njit(**NJIT)
def _finish_int(rows, IS):
    """Closed windows' integer results: count, sum, min, max, first, last (bits)."""
    m = rows.size
    out = np.zeros((6, m), np.int64)
    for j in range(m):
        r = rows[j]
        out[0, j] = IS[r, I_CNT]
        out[1, j] = IS[r, I_SUM]
        out[2, j] = IS[r, I_MN]
        out[3, j] = IS[r, I_MX]
        out[4, j] = IS[r, I_FIRST]
        out[5, j] = IS[r, I_LAST]
    return out


@numba.njit(**NJIT)
def _take_sketches(bins, closing, n_sketch):
    """Remove the bins of closing rows (``closing[row]``) from the sketch map.

    Returns (sketch id ``row * n_sketch + k``, bin, count), sorted by id then bin.
    """
    n = 0
    for code in bins.keys():
        if closing[(code >> SKETCH_SHIFT) // n_sketch]:
            n += 1
    codes = np.empty(n, np.int64)
    j = 0
    for code in bins.keys():
        if closing[(code >> SKETCH_SHIFT) // n_sketch]:
            codes[j] = code
            j += 1
    codes.sort()
    counts = np.empty(n, np.int64)
    for j in range(n):
        counts[j] = bins.pop(codes[j])
    mask = (np.int64(1) << SKETCH_SHIFT) - 1
    return codes >> SKETCH_SHIFT, codes & mask, counts


@numba.njit(**NJIT)
def _sketch_quantiles(ids, bins, counts, targets, q, inv_log_gamma, kmax, vmin, vmax):
    """Quantile ``q`` of sketches ``targets`` from (id, bin, count) sorted by id."""
    out = np.full(targets.size, np.nan)
    for j in range(targets.size):
        lo = np.searchsorted(ids, targets[j])
        hi = np.searchsorted(ids, targets[j], side="right")
        out[j] = _quantile(
            bins, counts, lo, hi, q, inv_log_gamma, kmax, vmin[j], vmax[j]
        )
    return out


@numba.njit(**NJIT)
def _release(rows, index, st_g, st_w, cache, free, n_free):
    """Return closed rows to the free list and forget their (group, window)."""
    for j in range(rows.size):
        r = rows[j]
        k = st_g[r]
        index.pop((k, st_w[r]))
        if cache[k, 2] == r:
            cache[k, 0] = _I64_MAX
            cache[k, 1] = _I64_MIN
            cache[k, 2] = -1
        st_w[r] = _I64_MIN
        free[n_free[0]] = r
        n_free[0] += 1
