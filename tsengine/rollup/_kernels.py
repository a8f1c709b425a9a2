"""Numba kernels behind :mod:`tsengine.rollup.state` (trusted inputs, no checks).

Open windows live in a pool of state rows; row ``r`` belongs to group ``st_g[r]`` and
window ``st_w[r]``. Each aggregated field ``f`` owns ``FS[r, f, :]`` (float64) and
``IS[r, f, :]`` (int64), laid out by the column constants below.

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
from tsengine.rollup.sketch import _bin_of, _quantile
from tsengine.window._kernels.reduce import _dd_add, _two_sum

# FS columns: lane sums, lane compensations, pending tail, sequential sum, scaled
# sum, extremes, first/last values, Welford shift, mean and M2
LANE_S, LANE_C, PEND = 0, 4, 8
EX_HI, EX_LO, SC_HI, SC_LO = 11, 12, 13, 14
MN, MX, FIRST, LAST, SHIFT, WMEAN, WM2, PLAIN = 15, 16, 17, 18, 19, 20, 21, 22
N_FS = 23
# IS columns: values in the lanes, NaN count (the non-NaN count is the lanes' less
# the NaN in them), first/last times, integer count, wrapping sum, extremes,
# first/last values, fallback sums started
N_LANE, NAN_IN, EX_NAN, T_FIRST, T_LAST = 0, 1, 2, 3, 4
I_CNT, I_SUM, I_MN, I_MX, I_FIRST, I_LAST, BIG = 5, 6, 7, 8, 9, 10, 11
N_IS = 12
# route() figures
OUT_POS, OUT_LATE, OUT_BAD, OUT_TMAX, OUT_LATE_W, OUT_ORDERED, OUT_CODE = range(7)
#: Bits of a sketch code that hold the bin; the rest is ``row * n_sketch + k``.
SKETCH_SHIFT = 26
_I64_MIN = np.iinfo(np.int64).min
_I64_MAX = np.iinfo(np.int64).max
_SCALE = 2.0**-64
_BIG = 2.0**960


@numba.njit(**NJIT)
def _init_row(r, FS, IS):
    """Empty state for every field of row ``r``."""
    for f in range(FS.shape[1]):
        FS[r, f, :] = 0.0
        FS[r, f, MN] = np.inf
        FS[r, f, MX] = -np.inf
        IS[r, f, :] = 0
        IS[r, f, T_FIRST] = _I64_MAX
        IS[r, f, T_LAST] = _I64_MIN
        IS[r, f, I_MN] = _I64_MAX
        IS[r, f, I_MX] = _I64_MIN


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
    or a lookup. ``last[k]`` is the group's last (time, series rank), for the order
    check.

    ``out`` (see ``OUT_*``) accumulates the position reached, late rows, unusable
    rows, greatest usable time, greatest late window, 0 if some group's rows are
    out of order, and an unknown code. The pass stops early at a code whose group
    has no number yet (``lut`` < 0) or when the pool has no free row; the caller
    fixes that and calls again from the position reached.
    """
    origin, every, first_open = grid[0], grid[1], grid[2]
    lo_ok, hi_ok = grid[3], grid[4]
    ranked = rank.size > 0
    n_late, n_bad, tmax = out[OUT_LATE], out[OUT_BAD], out[OUT_TMAX]
    late_w, ordered = out[OUT_LATE_W], out[OUT_ORDERED]
    stop, code = t.size, -1
    for i in range(start, t.size):
        ti = t[i]
        k = lut[codes[i]]
        if k < 0:
            stop, code = i, codes[i]
            break

        # Order within the group: (time, series rank) must not decrease
        if ti < last[k, 0] or (ranked and ti == last[k, 0] and rank[i] < last[k, 1]):
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
            srow[i] = cache[k, 2]
            continue
        wi = (ti - origin) // every
        if wi < first_open:
            srow[i] = -1
            n_late += 1
            late_w = max(late_w, wi)
            continue
        key = (k, wi)
        r = index.get(key, -1)
        if r < 0:
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


@numba.njit(inline="always", **NJIT)
def _start_fallbacks(r, f, FS, IS):
    """Begin the scaled and plain sums at a window's first value that is infinite or
    of magnitude >= 2**960.

    Only such values make the sequential sum non-finite (finite ones below 2**960
    would need more than 2**63 values to overflow), so the query's fallback sums
    matter only from here on. The values so far are finite and small: scaled by a
    power of two their sum is the sequential one scaled exactly (values below
    2**-958 aside, lost next to the huge one), and their plain sum cannot overflow.
    """
    if IS[r, f, BIG] == 0:
        IS[r, f, BIG] = 1
        FS[r, f, SC_HI] = FS[r, f, EX_HI] * _SCALE
        FS[r, f, SC_LO] = FS[r, f, EX_LO] * _SCALE
        FS[r, f, PLAIN] = FS[r, f, EX_HI] + FS[r, f, EX_LO]


@numba.njit(**NJIT)
def _acc_float(order, srow, t, v, valid, FS, IS, f, nan_in_lanes, ends, moments):
    """Add a float field's rows to their windows' states.

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
            IS[r, f, EX_NAN] += 1
            continue

        # Lanes: three values wait, the fourth commits the quad
        j = IS[r, f, N_LANE]
        IS[r, f, N_LANE] = j + 1
        slot = j & 3
        if slot < 3:
            FS[r, f, PEND + slot] = x
        else:
            for lane in range(3):
                s, e = _two_sum(FS[r, f, LANE_S + lane], FS[r, f, PEND + lane])
                FS[r, f, LANE_S + lane] = s
                FS[r, f, LANE_C + lane] += e
            s, e = _two_sum(FS[r, f, LANE_S + 3], x)
            FS[r, f, LANE_S + 3] = s
            FS[r, f, LANE_C + 3] += e
        if nan:
            IS[r, f, EX_NAN] += 1
            IS[r, f, NAN_IN] += 1
            continue

        # Sequential sum (the query's fallback), scaled sum, extremes
        if abs(x) >= _BIG:
            _start_fallbacks(r, f, FS, IS)
        s, e = _two_sum(FS[r, f, EX_HI], x)
        FS[r, f, EX_HI] = s
        FS[r, f, EX_LO] += e
        if IS[r, f, BIG]:
            s, e = _two_sum(FS[r, f, SC_HI], x * _SCALE)
            FS[r, f, SC_HI] = s
            FS[r, f, SC_LO] += e
            FS[r, f, PLAIN] += x
        if x < FS[r, f, MN]:
            FS[r, f, MN] = x
        if x > FS[r, f, MX]:
            FS[r, f, MX] = x

        # Earliest and latest in time; ties keep the earlier / take the later row
        if ends:
            ti = t[i]
            if ti < IS[r, f, T_FIRST]:
                IS[r, f, T_FIRST] = ti
                FS[r, f, FIRST] = x
            if ti >= IS[r, f, T_LAST]:
                IS[r, f, T_LAST] = ti
                FS[r, f, LAST] = x

        # Welford on deviations from the window's first value: with a large common
        # offset (1e9 + noise) the deviations are small and exact
        if moments:
            n = j + 1 - IS[r, f, EX_NAN] if nan_in_lanes else j + 1
            if n == 1:
                FS[r, f, SHIFT] = x
            d = x - FS[r, f, SHIFT]
            delta = d - FS[r, f, WMEAN]
            FS[r, f, WMEAN] += delta / n
            FS[r, f, WM2] += delta * (d - FS[r, f, WMEAN])


@numba.njit(**NJIT)
def _acc_int(order, srow, t, v, valid, IS, f):
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
        IS[r, f, I_CNT] += 1
        IS[r, f, I_SUM] += x
        if x < IS[r, f, I_MN]:
            IS[r, f, I_MN] = x
        if x > IS[r, f, I_MX]:
            IS[r, f, I_MX] = x
        ti = t[i]
        if ti < IS[r, f, T_FIRST]:
            IS[r, f, T_FIRST] = ti
            IS[r, f, I_FIRST] = x
        if ti >= IS[r, f, T_LAST]:
            IS[r, f, T_LAST] = ti
            IS[r, f, I_LAST] = x


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


@numba.njit(**NJIT)
def _finish_float(rows, FS, IS, f):
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
        s0 = FS[r, f, LANE_S]
        c0 = FS[r, f, LANE_C]
        for q in range(IS[r, f, N_LANE] & 3):
            s0, e = _two_sum(s0, FS[r, f, PEND + q])
            c0 += e
        th, tl = _dd_add(s0, c0, FS[r, f, LANE_S + 1], FS[r, f, LANE_C + 1])
        th, tl = _dd_add(th, tl, FS[r, f, LANE_S + 2], FS[r, f, LANE_C + 2])
        th, tl = _dd_add(th, tl, FS[r, f, LANE_S + 3], FS[r, f, LANE_C + 3])

        # Non-finite lanes (NaN, inf, overflow): the sequential sum decides, else
        # the scaled sum (finite values) or the plain sum (infinite ones)
        mn[j] = FS[r, f, MN]
        mx[j] = FS[r, f, MX]
        if np.isfinite(th) and np.isfinite(tl):
            n = IS[r, f, N_LANE]
            hi, lo = th, tl
        else:
            n = IS[r, f, N_LANE] - IS[r, f, NAN_IN]
            hi = FS[r, f, EX_HI] + FS[r, f, EX_LO]
            lo = FS[r, f, EX_LO] - (hi - FS[r, f, EX_HI])
            if not np.isfinite(hi):
                lo = 0.0
                if np.isfinite(mn[j]) and np.isfinite(mx[j]):
                    hi = (FS[r, f, SC_HI] + FS[r, f, SC_LO]) * 2.0**64
                else:
                    hi = FS[r, f, PLAIN]
        cnt[j] = n
        if n == 0:
            continue
        total[j] = hi + lo
        mean[j] = total[j] / n
        if IS[r, f, BIG] and not np.isfinite(mean[j]):
            if np.isfinite(mn[j]) and np.isfinite(mx[j]):
                # Finite values whose plain sum overflowed: the scaled sum cannot
                scaled = FS[r, f, SC_HI] + FS[r, f, SC_LO]
                mean[j] = (scaled / n) * 2.0**64
        first[j] = FS[r, f, FIRST]
        last[j] = FS[r, f, LAST]
        m2[j] = FS[r, f, WM2]
    return cnt, total, mean, mn, mx, first, last, m2


@numba.njit(**NJIT)
def _finish_int(rows, IS, f):
    """Closed windows' integer results: count, sum, min, max, first, last (bits)."""
    m = rows.size
    out = np.zeros((6, m), np.int64)
    for j in range(m):
        r = rows[j]
        out[0, j] = IS[r, f, I_CNT]
        out[1, j] = IS[r, f, I_SUM]
        out[2, j] = IS[r, f, I_MN]
        out[3, j] = IS[r, f, I_MX]
        out[4, j] = IS[r, f, I_FIRST]
        out[5, j] = IS[r, f, I_LAST]
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
