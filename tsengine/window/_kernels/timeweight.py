"""Time-weighted average, integral and rate over a window's own rows.

Only rows inside the window take part: nothing is interpolated to the window edges, so
a window's result never depends on its neighbours. Between two consecutive rows the
signal is taken as a straight line (trapezoid rule):

- ``integral`` = sum of ``(v[i] + v[i+1]) / 2 * (t[i+1] - t[i])`` in value x seconds;
- ``twa`` = integral / (t_last - t_first); with one row, or all rows at one instant,
  the plain mean of the values;
- ``rate`` = (v_last - v_first) / (t_last - t_first) per second; null with fewer than
  two distinct instants.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT
from tsengine.window._kernels.reduce import _two_sum

_NS = 1e9


@numba.njit(parallel=True, **NJIT)
def _trapezoids(t, v):
    """Area of the trapezoid between each row and the next, in value x seconds."""
    n = max(v.size - 1, 0)
    out = np.empty(n, np.float64)
    for i in numba.prange(n):
        # Halve before adding so two values near 1e308 do not overflow
        out[i] = (0.5 * v[i] + 0.5 * v[i + 1]) * ((t[i + 1] - t[i]) / _NS)
    return out


@numba.njit(parallel=True, **NJIT)
def _finish(t, v, lo, hi, integral):
    """Turn per-window integrals into (integral, twa, rate, valid twa, valid rate)."""
    n_win = lo.size
    twa = np.full(n_win, np.nan)
    rate = np.full(n_win, np.nan)
    ok_twa = np.zeros(n_win, np.bool_)
    ok_rate = np.zeros(n_win, np.bool_)
    for j in numba.prange(n_win):
        a = lo[j]
        b = hi[j]
        if b <= a:
            continue
        span = (t[b - 1] - t[a]) / _NS
        ok_twa[j] = True
        if span > 0.0:
            twa[j] = integral[j] / span
            rate[j] = (v[b - 1] - v[a]) / span
            ok_rate[j] = True
        else:
            # All rows at one instant: no duration to weigh by
            shi = 0.0
            slo = 0.0
            for i in range(a, b):
                shi, e = _two_sum(shi, v[i])
                slo += e
            twa[j] = (shi + slo) / (b - a)
            integral[j] = 0.0
    return integral, twa, rate, ok_twa, ok_rate
