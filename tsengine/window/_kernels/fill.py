"""Filling empty windows within each group: carry forward, or interpolate linearly.

Window ``j`` of group ``g`` lies in ``[w_off[g], w_off[g + 1])``. ``empty[j]`` marks the
windows to fill (the field had no value there); ``valid[j]`` marks aggregate values that
exist. A seed (a value before the range) acts as a window ahead of the first one.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT


@numba.njit(**NJIT)
def _fill_previous(values, valid, empty, w_off, seed, seed_ok):
    """Empty windows take the latest valid value of an earlier window (or the seed)."""
    out = values.copy()
    ok = valid.copy()
    for g in range(w_off.size - 1):
        have = seed_ok[g]
        carry = seed[g]
        for j in range(w_off[g], w_off[g + 1]):
            if empty[j]:
                if have:
                    out[j] = carry
                    ok[j] = True
            elif valid[j]:
                carry = values[j]
                have = True
    return out, ok


@numba.njit(**NJIT)
def _fill_linear(values, valid, empty, x, w_off, seed, seed_x, seed_ok):
    """Empty windows take the straight line between the valid values around them.

    ``x`` is each window's label time (ns). Windows with no valid value after them
    stay empty; the seed, at its own time, may serve as the value before (windows
    labelled before the seed's time then take the seed's value: no extrapolation).
    """
    out = values.astype(np.float64)
    ok = valid.copy()
    for g in range(w_off.size - 1):
        have = seed_ok[g]
        x0 = seed_x[g]
        y0 = seed[g]
        j = w_off[g]
        stop = w_off[g + 1]
        while j < stop:
            if not empty[j]:
                if valid[j]:
                    have = True
                    x0 = x[j]
                    y0 = out[j]
                j += 1
                continue
            # A run of empty windows: find the valid value that closes it
            k = j
            while k < stop and (empty[k] or not valid[k]):
                k += 1
            if have and k < stop:
                x1 = x[k]
                y1 = out[k]
                for m in range(j, k):
                    if empty[m]:
                        # Windows not after the seed's time take the seed's value
                        frac = max(0.0, (x[m] - x0) / (x1 - x0))
                        out[m] = y0 + (y1 - y0) * frac
                        ok[m] = True
            j = k
    return out, ok
