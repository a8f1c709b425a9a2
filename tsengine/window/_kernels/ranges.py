"""Window enumeration and window -> row-range kernels.

Rows are grouped: group ``g`` owns rows ``[g_lo[g], g_hi[g])`` of a time array
sorted within each group. Windows are grouped the same way: group ``g`` owns windows
``[w_off[g], w_off[g + 1])``, ordered by start, with non-decreasing ends. A row with
time ``t`` is in window ``[ws, we)`` when ``ws <= t - shift < we``; ``shift`` is 1 for
right-closed windows, which turns ``(ws, we]`` into the same half-open test.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT


@numba.njit(**NJIT)
def _gallop(t, start, stop, x):
    """First index ``i`` in ``[start, stop)`` with ``t[i] >= x`` (``stop`` if none).

    Steps 1, 2, 4, ... from ``start`` and then bisects, so the cost is logarithmic in
    the distance travelled: nearby answers touch few cache lines.
    """
    if start >= stop or t[start] >= x:
        return start
    lo = start
    step = 1
    hi = stop
    while True:
        probe = lo + step
        if probe >= stop:
            break
        if t[probe] >= x:
            hi = probe
            break
        lo = probe
        step *= 2
    # Invariant: t[lo] < x, and t[hi] >= x or hi == stop
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if t[mid] >= x:
            hi = mid
        else:
            lo = mid
    return hi


@numba.njit(**NJIT)
def _gallop_back(t, start, stop, x):
    """First ``i`` in ``[start, stop)`` with ``t[i] >= x``, given ``t[stop - 1] >= x``.

    Steps back 1, 2, 4, ... from ``stop - 1`` and then bisects.
    """
    hi = stop - 1
    step = 1
    lo = start - 1
    while True:
        probe = hi - step
        if probe < start:
            break
        if t[probe] < x:
            lo = probe
            break
        hi = probe
        step *= 2
    # Invariant: t[hi] >= x, and t[lo] < x or lo == start - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if t[mid] >= x:
            hi = mid
        else:
            lo = mid
    return hi


@numba.njit(**NJIT)
def _seek(t, start, stop, x, guess):
    """First index in ``[start, stop)`` with ``t[i] >= x``, searched from ``guess``.

    Regular data puts the answer at or next to the guess (the previous window's
    stride), so a search costs one or two cache lines instead of a gallop across the
    window.
    """
    g = min(max(guess, start), stop)
    if g > start and t[g - 1] >= x:
        return _gallop_back(t, start, g, x)
    return _gallop(t, g, stop, x)


@numba.njit(**NJIT)
def _unsorted_groups(t, g_lo, g_hi):
    """Flag each group whose rows are not in non-decreasing time order.

    Blocks of rows are tested with a branch-free count of descents, which the compiler
    vectorises; the scan stops at a group's first unsorted block.
    """
    bad = np.zeros(g_lo.size, np.bool_)
    for g in range(g_lo.size):
        for b0 in range(g_lo[g] + 1, g_hi[g], 4096):
            b1 = min(g_hi[g], b0 + 4096)
            now = t[b0:b1]
            before = t[b0 - 1 : b1 - 1]
            descents = 0
            for k in range(now.size):
                descents += now[k] < before[k]
            if descents:
                bad[g] = True
                break
    return bad


@numba.njit(**NJIT)
def _window_rows(t, g_lo, g_hi, w_off, ws, we, shift):
    """Row range ``[lo, hi)`` of every window; windows are monotone within a group.

    Serial on purpose: with stride-guided searches a window costs a few cache lines,
    less than waking a second thread on a busy machine.
    """
    lo = np.empty(ws.size, np.int64)
    hi = np.empty(ws.size, np.int64)
    for g in range(w_off.size - 1):
        pos_lo = pos_hi = g_lo[g]
        step_lo = step_hi = 0
        for j in range(w_off[g], w_off[g + 1]):
            # Search near where the previous window's strides predict
            new_lo = _seek(t, pos_lo, g_hi[g], ws[j] + shift, pos_lo + step_lo)
            start_hi = max(pos_hi, new_lo)
            new_hi = _seek(t, start_hi, g_hi[g], we[j] + shift, pos_hi + step_hi)
            step_lo, step_hi = new_lo - pos_lo, new_hi - pos_hi
            pos_lo, pos_hi = new_lo, new_hi
            lo[j] = pos_lo
            hi[j] = pos_hi
    return lo, hi


@numba.njit(**NJIT)
def _fixed_nonempty(t, g_lo, g_hi, k0, k1, origin, every, period, shift, limit, out):
    """Indices ``k`` of fixed windows that hold at least one row, per group.

    Window ``k`` is ``[origin + k * every, origin + k * every + period)``; group ``g``
    considers ``k`` in ``[k0[g], k1[g]]``. With ``out`` empty only counts are returned,
    and counting stops once it passes ``limit`` (the caller refuses that many);
    otherwise ``out`` receives the indices. Cost is O(windows emitted * log(rows)),
    because rows between window edges are skipped by galloping.
    """
    n_groups = g_lo.size
    counts = np.zeros(n_groups, np.int64)
    pos = 0
    for g in range(n_groups):
        last = k0[g] - 1
        i = g_lo[g]
        while i < g_hi[g]:
            # Windows holding this row: starts in (key - period, key]
            key = t[i] - shift
            k_hi = (key - origin) // every
            k_lo = (key - period - origin) // every + 1
            k_from = max(max(k_lo, last + 1), k0[g])
            k_to = min(k_hi, k1[g])
            if not out.size and k_to >= k_from:
                counts[g] += k_to - k_from + 1
                pos += k_to - k_from + 1
                if pos > limit:
                    return counts
            for k in range(k_from, k_to + 1 if out.size else k_from):
                out[pos] = k
                pos += 1
                counts[g] += 1
            last = max(last, k_to)
            # Rows before the next window start add no window: skip them
            i = _gallop(t, i + 1, g_hi[g], origin + (k_hi + 1) * every + shift)
    return counts


@numba.njit(**NJIT)
def _sessions(t, g_lo, g_hi, gap, ws, we):
    """Session windows: a new session starts after ``gap`` ns without rows.

    With ``ws`` empty only per-group counts are returned; otherwise ``ws``/``we``
    receive ``[first row, last row + gap)`` of every session.
    """
    n_groups = g_lo.size
    counts = np.zeros(n_groups, np.int64)
    pos = 0
    for g in range(n_groups):
        if g_hi[g] <= g_lo[g]:
            continue
        first = t[g_lo[g]]
        for i in range(g_lo[g] + 1, g_hi[g] + 1):
            if i == g_hi[g] or t[i] - t[i - 1] >= gap:
                if ws.size:
                    ws[pos] = first
                    we[pos] = t[i - 1] + gap
                pos += 1
                counts[g] += 1
                if i < g_hi[g]:
                    first = t[i]
    return counts


@numba.njit(**NJIT)
def _merge_edges(ws, we, w_off):
    """Sorted distinct window edges (starts and ends) of every group.

    Returns the edges and per-group offsets into them. Starts and ends are each
    non-decreasing within a group, so this is a linear merge.
    """
    n_groups = w_off.size - 1
    edges = np.empty(2 * ws.size, np.int64)
    e_off = np.zeros(n_groups + 1, np.int64)
    pos = 0
    for g in range(n_groups):
        i = w_off[g]
        k = w_off[g]
        stop = w_off[g + 1]
        first = pos
        while i < stop or k < stop:
            if k >= stop or (i < stop and ws[i] <= we[k]):
                x = ws[i]
                i += 1
            else:
                x = we[k]
                k += 1
            if pos == first or edges[pos - 1] != x:
                edges[pos] = x
                pos += 1
        e_off[g + 1] = pos
    return edges[:pos], e_off
