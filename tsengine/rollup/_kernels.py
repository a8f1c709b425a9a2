"""Numba kernels that route rows to open windows and add them to their states
(trusted inputs, no checks). Closing is in :mod:`tsengine.rollup._finish`.

Open windows live in a pool of state rows; row ``r`` belongs to group ``st_g[r]`` and
window ``st_w[r]``. Aggregated field ``f`` keeps row ``r``'s state in ``FS[f, r, :]``
(float64) and ``IS[f, r, :]`` (int64), laid out by the column constants below; the
accumulating kernels take one field's planes ``FS[f]`` and ``IS[f]``, contiguous.

Sums must come out bit for bit as the query kernels compute them
(:func:`tsengine.window._kernels.reduce._segments_float`): that kernel adds a window's
values in four interleaved compensated lanes, quad by quad, sends the last
``n mod 4`` values to lane 0, and falls back to one sequential compensated sum (NaN
skipped) when the lanes are not finite. The state keeps exactly those lanes (a quad is
committed when its fourth value arrives; up to three wait in ``PEND``), plus the
sequential sum and, from the first huge or infinite value on, the two sums the query
falls back to when that sequential sum is not finite: the sum of values scaled by
2**-64 (finite values whose sum overflowed) and the plain IEEE sum (infinite values)
-- so closing a window reproduces the query's arithmetic whatever the batch
boundaries.

Kernels that take ``order`` visit rows in that order, or in batch order when it is
empty.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT
from tsengine.rollup.sketch import _bin_of
from tsengine.window._kernels.reduce import _two_sum

# FS columns: lane sums, lane compensations, pending tail, sequential sum, scaled
# sum, extremes, first/last values, Welford shift, mean and M2, plain sum, values in
# the lanes and 1.0 once the fallback sums run (kept here, not in IS, so the hot path
# touches one row: counts stay exact in float64 up to 2**53 values per window)
LANE_S, LANE_C, PEND = 0, 4, 8
EX_HI, EX_LO, SC_HI, SC_LO = 11, 12, 13, 14
MN, MX, FIRST, LAST, SHIFT, WMEAN, WM2, PLAIN = 15, 16, 17, 18, 19, 20, 21, 22
N_LANE, BIG = 23, 24
N_FS = 25
# IS columns: NaN in the lanes, NaN seen, first/last times, integer count, wrapping
# sum, extremes, first/last values
NAN_IN, EX_NAN, T_FIRST, T_LAST = 0, 1, 2, 3
I_CNT, I_SUM, I_MN, I_MX, I_FIRST, I_LAST = 4, 5, 6, 7, 8, 9
N_IS = 10
# _route() figures
OUT_POS, OUT_LATE, OUT_BAD, OUT_TMAX, OUT_LATE_W, OUT_ORDERED, OUT_CODE = range(7)
OUT_CHECK = 7
#: Bits of a sketch code that hold the bin; the rest is ``row * n_sketch + k``.
SKETCH_SHIFT = 26
_I64_MIN = np.iinfo(np.int64).min
_I64_MAX = np.iinfo(np.int64).max
_SCALE = 2.0**-64
_BIG = 2.0**960


@numba.njit(**NJIT)
def _init_row(r, FS, IS):
    """Empty state for every field of row ``r``."""
    for f in range(FS.shape[0]):
        FS[f, r, :] = 0.0
        FS[f, r, MN] = np.inf
        FS[f, r, MX] = -np.inf
        IS[f, r, :] = 0
        IS[f, r, T_FIRST] = _I64_MAX
        IS[f, r, T_LAST] = _I64_MIN
        IS[f, r, I_MN] = _I64_MAX
        IS[f, r, I_MX] = _I64_MIN


@numba.njit(**NJIT)
def _remember_order(t, codes, lut, rank, start, stop, last):
    """Set each group's last (time, series rank) from rows ``[start, stop)``, which
    came in time order (so the last row of a group is its latest)."""
    ranked = rank.size > 0
    for i in range(start, stop):
        k = lut[codes[i]]
        last[k, 0] = t[i]
        if ranked:
            last[k, 1] = rank[i]


@numba.njit(**NJIT)
def _route(
    t, codes, lut, rank, grid, start, index, cache, st_g, st_w, free, n_free,
    srow, last, FS, IS, out,
):  # fmt: skip
    """One pass over a batch: each row's state row, and the batch's figures.

    ``grid`` is (origin, every, first open window, lowest and highest usable time).
    ``srow[i]`` becomes the state row of row ``i``'s group ``lut[codes[i]]`` and
    window, -1 for a late row (window before the first open one), -2 for a time
    outside the usable range. ``cache[k]`` holds group ``k``'s current window
    (start, end, state row): most rows find their window there without a division
    or a lookup. ``last[k]`` keeps the group's last (time, series rank) to tell
    whether rows come in order -- kept only once the batch's times have gone back at
    least once: until then every group is in order.

    ``out`` (see ``OUT_*``) accumulates the position reached, late rows, unusable
    rows, greatest usable time, greatest late window, 0 if some group's rows are
    out of order, an unknown code, and whether groups are being checked. The pass
    stops early at a code whose group has no number yet (``lut`` < 0) or when the
    pool has no free row; the caller fixes that and calls again from there.
    """
    origin, every, first_open = grid[0], grid[1], grid[2]
    lo_ok, hi_ok = grid[3], grid[4]
    ranked = rank.size > 0
    n_late, n_bad, tmax = out[OUT_LATE], out[OUT_BAD], out[OUT_TMAX]
    late_w, ordered = out[OUT_LATE_W], out[OUT_ORDERED]
    stop, code = t.size, -1
    check = out[OUT_CHECK] != 0
    prev = t[start - 1] if start > 0 else _I64_MIN
    for i in range(start, t.size):
        ti = t[i]
        k = lut[codes[i]]
        if k < 0:
            stop, code = i, codes[i]
            break

        # Order within the group: (time, series rank) must not decrease; checked
        # group by group once the batch's times have gone back
        if not check and (ti < prev or (ranked and ti == prev)):
            check = True
            _remember_order(t, codes, lut, rank, 0, i, last)
        prev = ti
        if check:
            if ti < last[k, 0] or (
                ranked and ti == last[k, 0] and rank[i] < last[k, 1]
            ):
                ordered = 0
            last[k, 0] = ti
            if ranked:
                last[k, 1] = rank[i]

        # Unusable time; the group's current window; late; state lookup
        if ti < lo_ok or ti > hi_ok:
            srow[i] = -2
            n_bad += 1
            continue
        tmax = max(tmax, ti)
        if cache[k, 0] <= ti and ti < cache[k, 1]:
            r = cache[k, 2]
        else:
            wi = (ti - origin) // every
            if wi < first_open:
                srow[i] = -1
                n_late += 1
                late_w = max(late_w, wi)
                continue
            key = (k, wi)
            if key in index:
                r = index[key]
            else:
                if n_free[0] == 0:
                    stop = i
                    break
                n_free[0] -= 1
                r = free[n_free[0]]
                index[key] = r
                st_g[r] = k
                st_w[r] = wi
                _init_row(r, FS, IS)
            cache[k, 0] = origin + wi * every
            cache[k, 1] = cache[k, 0] + every
            cache[k, 2] = r
        srow[i] = r
    out[OUT_POS], out[OUT_LATE], out[OUT_BAD], out[OUT_TMAX] = stop, n_late, n_bad, tmax
    out[OUT_LATE_W], out[OUT_ORDERED], out[OUT_CODE] = late_w, ordered, code
    out[OUT_CHECK] = check


@numba.njit(**NJIT)
def _start_fallbacks(r, FS, IS):
    """Begin the scaled and plain sums at a window's first value that is infinite or
    of magnitude >= 2**960.

    Only such values make the sequential sum non-finite (finite ones below 2**960
    would need more than 2**63 values to overflow), so the query's fallback sums
    matter only from here on. The values so far are finite and small: scaled by a
    power of two their sum is the sequential one scaled exactly (values below
    2**-958 aside, lost next to the huge one), and their plain sum cannot overflow.
    """
    if FS[r, BIG] == 0.0:
        FS[r, BIG] = 1.0
        FS[r, SC_HI] = FS[r, EX_HI] * _SCALE
        FS[r, SC_LO] = FS[r, EX_LO] * _SCALE
        FS[r, PLAIN] = FS[r, EX_HI] + FS[r, EX_LO]


@numba.njit(**NJIT)
def _acc_float(order, srow, t, v, valid, FS, IS, nan_in_lanes, ends, moments):
    """Add a float field's rows to their windows' states (one field's planes).

    ``valid`` (uint8) is empty when the field has no nulls. ``nan_in_lanes``: NaN
    takes a lane slot (the query keeps NaN rows when only mergeable aggregates are
    asked) or is left out (when first/last/quantiles are asked too). ``ends``
    tracks first/last; ``moments`` the Welford mean and M2.
    """
    has_valid = valid.size > 0
    n_rows = order.size if order.size else srow.size
    for p in range(n_rows):
        i = order[p] if order.size else p
        r = srow[i]
        if r < 0 or (has_valid and valid[i] == 0):
            continue
        x = v[i]
        nan = x != x
        if nan and not nan_in_lanes:
            IS[r, EX_NAN] += 1
            continue

        # Lanes: three values wait, the fourth commits the quad
        j = int(FS[r, N_LANE])
        FS[r, N_LANE] = j + 1
        slot = j & 3
        if slot < 3:
            FS[r, PEND + slot] = x
        else:
            for lane in range(3):
                s, e = _two_sum(FS[r, LANE_S + lane], FS[r, PEND + lane])
                FS[r, LANE_S + lane] = s
                FS[r, LANE_C + lane] += e
            s, e = _two_sum(FS[r, LANE_S + 3], x)
            FS[r, LANE_S + 3] = s
            FS[r, LANE_C + 3] += e
        if nan:
            IS[r, EX_NAN] += 1
            IS[r, NAN_IN] += 1
            continue

        # Sequential sum (the query's fallback), fallback sums, extremes
        if abs(x) >= _BIG:
            _start_fallbacks(r, FS, IS)
        s, e = _two_sum(FS[r, EX_HI], x)
        FS[r, EX_HI] = s
        FS[r, EX_LO] += e
        if FS[r, BIG] != 0.0:
            s, e = _two_sum(FS[r, SC_HI], x * _SCALE)
            FS[r, SC_HI] = s
            FS[r, SC_LO] += e
            FS[r, PLAIN] += x
        if x < FS[r, MN]:
            FS[r, MN] = x
        if x > FS[r, MX]:
            FS[r, MX] = x

        # Earliest and latest in time; ties keep the earlier / take the later row
        if ends:
            ti = t[i]
            if ti < IS[r, T_FIRST]:
                IS[r, T_FIRST] = ti
                FS[r, FIRST] = x
            if ti >= IS[r, T_LAST]:
                IS[r, T_LAST] = ti
                FS[r, LAST] = x

        # Welford on deviations from the window's first value: with a large common
        # offset (1e9 + noise) the deviations are small and exact
        if moments:
            n = j + 1 - IS[r, NAN_IN]
            if n == 1:
                FS[r, SHIFT] = x
            d = x - FS[r, SHIFT]
            delta = d - FS[r, WMEAN]
            FS[r, WMEAN] += delta / n
            FS[r, WM2] += delta * (d - FS[r, WMEAN])


@numba.njit(**NJIT)
def _acc_int(order, srow, t, v, valid, IS):
    """Add an integer field's rows (int64 bits; uint64 with the sign bit flipped so
    signed order is unsigned order): count, wrapping sum, extremes, first/last."""
    has_valid = valid.size > 0
    n_rows = order.size if order.size else srow.size
    for p in range(n_rows):
        i = order[p] if order.size else p
        r = srow[i]
        if r < 0 or (has_valid and valid[i] == 0):
            continue
        x = v[i]
        IS[r, I_CNT] += 1
        IS[r, I_SUM] += x
        if x < IS[r, I_MN]:
            IS[r, I_MN] = x
        if x > IS[r, I_MX]:
            IS[r, I_MX] = x
        ti = t[i]
        if ti < IS[r, T_FIRST]:
            IS[r, T_FIRST] = ti
            IS[r, I_FIRST] = x
        if ti >= IS[r, T_LAST]:
            IS[r, T_LAST] = ti
            IS[r, I_LAST] = x


@numba.njit(**NJIT)
def _acc_sketch(order, srow, v, valid, bins, n_sketch, k, inv_log_gamma, kmax):
    """Count a field's non-NaN values into sketch ``k`` of their windows."""
    has_valid = valid.size > 0
    n_rows = order.size if order.size else srow.size
    for p in range(n_rows):
        i = order[p] if order.size else p
        r = srow[i]
        if r < 0 or (has_valid and valid[i] == 0):
            continue
        x = v[i]
        if x != x:
            continue
        code = ((r * n_sketch + k) << SKETCH_SHIFT) | _bin_of(x, inv_log_gamma, kmax)
        bins[code] = bins.get(code, 0) + 1
