"""Segment reductions: one state per contiguous row range ``[lo[j], hi[j])``.

Float states are (count, NaN count, sum as an unevaluated pair ``hi + lo``, min, max).
The pair is a compensated sum: every addition's rounding error is recovered exactly
(Knuth's two-sum) and accumulated apart, so cancellation between large values leaves
the small ones intact. Min and max skip NaN; the caller decides from the NaN count
whether a window's result is NaN (``skip_nan=False``) or not.

The common segment (finite values, no NaN) runs a branch-light loop with four
independent accumulators; anything else falls back to an exact per-value loop.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT


@numba.njit(inline="always", **NJIT)
def _two_sum(a, b):
    """``a + b`` as (rounded sum, exact rounding error)."""
    s = a + b
    bp = s - a
    err = (a - (s - bp)) + (b - bp)
    return s, err


@numba.njit(inline="always", **NJIT)
def _dd_add(ahi, alo, bhi, blo):
    """Add two compensated pairs, returning a normalised pair.

    An infinite or NaN sum has no rounding error to keep: it is returned with 0.
    """
    s, e = _two_sum(ahi, bhi)
    if not np.isfinite(s):
        return s, 0.0
    e += alo + blo
    hi = s + e
    return hi, e - (hi - s)


@numba.njit(**NJIT)
def _exact_segment(v, a, b):
    """Reference path: skip NaN, count it, keep inf and overflow visible."""
    n = 0
    nan = 0
    shi = 0.0
    slo = 0.0
    plain = 0.0
    mn = np.inf
    mx = -np.inf
    for i in range(a, b):
        x = v[i]
        if x != x:
            nan += 1
            continue
        n += 1
        s, e = _two_sum(shi, x)
        shi = s
        slo += e
        plain += x
        if x < mn:
            mn = x
        if x > mx:
            mx = x
    hi = shi + slo
    if np.isfinite(hi):
        return n, nan, hi, slo - (hi - shi), mn, mx
    if np.isfinite(mn) and np.isfinite(mx):
        # Finite values whose running sum overflowed: sum them scaled by 2**-64
        # (exact), so a representable total such as 1e308 + 1e308 - 1e308 survives
        shi = 0.0
        slo = 0.0
        for i in range(a, b):
            x = v[i]
            if x == x:
                shi, e = _two_sum(shi, x * 2.0**-64)
                slo += e
        return n, nan, (shi + slo) * 2.0**64, 0.0, mn, mx
    # Infinite values: the plain sum has the IEEE answer (inf, or NaN for inf - inf)
    return n, nan, plain, 0.0, mn, mx


@numba.njit(**NJIT)
def _lanes_sum(v, a, b):
    """Compensated sum of ``v[a:b]`` in four independent two-sum lanes."""
    s0 = s1 = s2 = s3 = 0.0
    c0 = c1 = c2 = c3 = 0.0
    i = a
    while i + 4 <= b:
        u0 = v[i]
        u1 = v[i + 1]
        u2 = v[i + 2]
        u3 = v[i + 3]
        t0 = s0 + u0
        t1 = s1 + u1
        t2 = s2 + u2
        t3 = s3 + u3
        b0 = t0 - s0
        b1 = t1 - s1
        b2 = t2 - s2
        b3 = t3 - s3
        c0 += (s0 - (t0 - b0)) + (u0 - b0)
        c1 += (s1 - (t1 - b1)) + (u1 - b1)
        c2 += (s2 - (t2 - b2)) + (u2 - b2)
        c3 += (s3 - (t3 - b3)) + (u3 - b3)
        s0 = t0
        s1 = t1
        s2 = t2
        s3 = t3
        i += 4
    while i < b:
        s0, e0 = _two_sum(s0, v[i])
        c0 += e0
        i += 1
    th, tl = _dd_add(s0, c0, s1, c1)
    th, tl = _dd_add(th, tl, s2, c2)
    return _dd_add(th, tl, s3, c3)


@numba.njit(**NJIT)
def _lanes_sum_extremes(v, a, b):
    """Compensated sum, min and max of ``v[a:b]`` in one pass (valid without NaN).

    Four two-sum lanes and two min/max lanes (each taking a pair of values per step):
    more lanes spill registers and run slower.
    """
    s0 = s1 = s2 = s3 = 0.0
    c0 = c1 = c2 = c3 = 0.0
    m0 = m1 = np.inf
    x0 = x1 = -np.inf
    i = a
    while i + 4 <= b:
        u0 = v[i]
        u1 = v[i + 1]
        u2 = v[i + 2]
        u3 = v[i + 3]
        t0 = s0 + u0
        t1 = s1 + u1
        t2 = s2 + u2
        t3 = s3 + u3
        b0 = t0 - s0
        b1 = t1 - s1
        b2 = t2 - s2
        b3 = t3 - s3
        c0 += (s0 - (t0 - b0)) + (u0 - b0)
        c1 += (s1 - (t1 - b1)) + (u1 - b1)
        c2 += (s2 - (t2 - b2)) + (u2 - b2)
        c3 += (s3 - (t3 - b3)) + (u3 - b3)
        s0 = t0
        s1 = t1
        s2 = t2
        s3 = t3
        m0 = min(m0, min(u0, u2))
        m1 = min(m1, min(u1, u3))
        x0 = max(x0, max(u0, u2))
        x1 = max(x1, max(u1, u3))
        i += 4
    while i < b:
        s0, e0 = _two_sum(s0, v[i])
        c0 += e0
        m0 = min(m0, v[i])
        x0 = max(x0, v[i])
        i += 1
    th, tl = _dd_add(s0, c0, s1, c1)
    th, tl = _dd_add(th, tl, s2, c2)
    th, tl = _dd_add(th, tl, s3, c3)
    return th, tl, min(m0, m1), max(x0, x1)


@numba.njit(parallel=True, **NJIT)
def _segments_float(v, lo, hi, extremes):
    """Float states of every segment; parallel over segments.

    Extremes are computed only when ``extremes`` is true. A non-finite sum (NaN, inf
    or overflow in the segment) sends the segment to the exact per-value path.
    """
    n_seg = lo.size
    cnt = np.empty(n_seg, np.int64)
    nan = np.empty(n_seg, np.int64)
    shi = np.empty(n_seg, np.float64)
    slo = np.empty(n_seg, np.float64)
    mn = np.full(n_seg, np.inf)
    mx = np.full(n_seg, -np.inf)
    for j in numba.prange(n_seg):
        a = lo[j]
        b = hi[j]
        if extremes:
            th, tl, lo_v, hi_v = _lanes_sum_extremes(v, a, b)
        else:
            th, tl = _lanes_sum(v, a, b)
            lo_v, hi_v = np.inf, -np.inf
        if np.isfinite(th) and np.isfinite(tl):
            cnt[j] = b - a
            nan[j] = 0
            shi[j] = th
            slo[j] = tl
            mn[j] = lo_v
            mx[j] = hi_v
        else:
            r = _exact_segment(v, a, b)
            cnt[j], nan[j], shi[j], slo[j], mn[j], mx[j] = r
    return cnt, nan, shi, slo, mn, mx


@numba.njit(parallel=True, **NJIT)
def _segments_int(v, lo, hi):
    """Integer states (sum modulo 2**64 in the input type, min, max)."""
    n_seg = lo.size
    s = np.zeros(n_seg, v.dtype)
    mn = np.zeros(n_seg, v.dtype)
    mx = np.zeros(n_seg, v.dtype)
    for j in numba.prange(n_seg):
        a = lo[j]
        b = hi[j]
        if b <= a:
            continue
        acc = v[a]
        lo_v = v[a]
        hi_v = v[a]
        for i in range(a + 1, b):
            x = v[i]
            acc += x
            lo_v = min(lo_v, x)
            hi_v = max(hi_v, x)
        s[j] = acc
        mn[j] = lo_v
        mx[j] = hi_v
    return s, mn, mx


@numba.njit(inline="always", **NJIT)
def _two_prod(a, b):
    """``a * b`` as (rounded product, exact rounding error), by Dekker's splitting."""
    p = a * b
    if not np.isfinite(p) or abs(a) > 1e300 or abs(b) > 1e300:
        return p, 0.0
    c = 134217729.0 * a
    ah = c - (c - a)
    al = a - ah
    c = 134217729.0 * b
    bh = c - (c - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


@numba.njit(**NJIT)
def _dd_means(shi, slo, n):
    """Means of compensated sums as (hi, lo) pairs: ``(shi + slo) / n``, unrounded.

    The pair keeps the digits a rounded mean of 1e9 + 1e-3 noise would lose, so
    merging partial variances (which squares differences of means) stays exact.
    """
    m_hi = np.zeros(n.size)
    m_lo = np.zeros(n.size)
    for j in range(n.size):
        if n[j] <= 0:
            continue
        q = (shi[j] + slo[j]) / n[j]
        p, pe = _two_prod(q, n[j])
        m_hi[j] = q
        if np.isfinite(q):
            m_lo[j] = (((shi[j] - p) - pe) + slo[j]) / n[j]
    return m_hi, m_lo


@numba.njit(parallel=True, **NJIT)
def _segments_m2(v, lo, hi, mean, mean_lo):
    """Sum of squared deviations from each segment's mean ``mean + mean_lo``.

    Second pass of a two-pass variance: deviations are taken from the segment's own
    mean, so a large common offset (1e9 + small noise) does not cancel away the
    noise. The ``(sum of deviations)**2 / n`` term corrects the mean's rounding.
    NaN is skipped.
    """
    n_seg = lo.size
    m2 = np.zeros(n_seg, np.float64)
    for j in numba.prange(n_seg):
        n = 0
        dsum = 0.0
        qhi = 0.0
        qlo = 0.0
        for i in range(lo[j], hi[j]):
            x = v[i]
            if x != x:
                continue
            d = (x - mean[j]) - mean_lo[j]
            n += 1
            dsum += d
            qhi, e = _two_sum(qhi, d * d)
            qlo += e
        if n:
            m2[j] = max(0.0, (qhi + qlo) - dsum * dsum / n)
    return m2


@numba.njit(parallel=True, **NJIT)
def _segments_scaled_mean(v, lo, hi, which):
    """Mean of segments ``which`` computed on values scaled by 2**-64.

    Used only where the plain sum overflowed although the values are finite
    (e.g. two values of 1e308): the scaled sum cannot overflow, and scaling by a
    power of two is exact.
    """
    out = np.empty(which.size, np.float64)
    scale = 2.0**-64
    for w in numba.prange(which.size):
        j = which[w]
        n = 0
        shi = 0.0
        slo = 0.0
        for i in range(lo[j], hi[j]):
            x = v[i]
            if x != x:
                continue
            n += 1
            shi, e = _two_sum(shi, x * scale)
            slo += e
        out[w] = ((shi + slo) / n) * 2.0**64 if n else np.nan
    return out


@numba.njit(parallel=True, **NJIT)
def _segments_ddsum(v, lo, hi):
    """Compensated sum of each segment (no NaN skipping), as one float."""
    n_seg = lo.size
    out = np.zeros(n_seg, np.float64)
    for j in numba.prange(n_seg):
        shi = 0.0
        slo = 0.0
        for i in range(lo[j], hi[j]):
            shi, e = _two_sum(shi, v[i])
            slo += e
        out[j] = shi + slo
    return out


@numba.njit(parallel=True, **NJIT)
def _count_nan(v):
    """Number of NaN values (parallel scan)."""
    total = 0
    for i in numba.prange(v.size):
        if v[i] != v[i]:
            total += 1
    return total
