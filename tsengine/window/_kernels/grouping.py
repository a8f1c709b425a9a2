"""Tag-column run detection and block permutations for grouping rows.

Rows read from the engine arrive series by series, so a tag column is mostly long runs
of one value. Detecting where the value changes reads each string's bytes once, and
only one row per run then needs hashing, instead of every row.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT

# Rows per block of the bulk string comparison
_BLOCK = 256


@numba.njit(**NJIT)
def _row_differs(offsets, data, nulls, valid, i):
    """Whether row ``i``'s string (or null) differs from row ``i - 1``'s."""
    if nulls and valid[i] != valid[i - 1]:
        return True
    if nulls and not valid[i]:
        return False
    # Unsigned positions: no negative-index wraparound in the byte loop
    a0 = np.uint64(offsets[i - 1])
    a1 = np.uint64(offsets[i])
    b1 = np.uint64(offsets[i + 1])
    if b1 - a1 != a1 - a0:
        return True
    for k in range(b1 - a1):
        if data[a1 + np.uint64(k)] != data[a0 + np.uint64(k)]:
            return True
    return False


@numba.njit(**NJIT)
def _string_changes(offsets, data, nulls, valid, changed):
    """Mark rows whose string differs from the previous row's (nulls compare equal).

    ``offsets`` has one entry more than rows; ``valid`` (bool per row) is read only
    when ``nulls`` is true. ``changed`` is updated with ``|=`` so several columns
    combine; row 0 is always a change.

    Rows come in blocks: when every string of a block (and the row before it) has the
    same length ``L`` and no null, the whole block equals its predecessor rows iff its
    bytes equal the same bytes shifted by ``L`` -- one branch-free loop the compiler
    vectorises. Only blocks where that fails (a run boundary) are compared row by row.
    """
    n = offsets.size - 1
    if n > 0:
        changed[0] = True
    for b0 in range(1, n, _BLOCK):
        b1 = min(n, b0 + _BLOCK)

        # Bulk test: same length everywhere, no nulls, bytes periodic with period L
        size = offsets[b0] - offsets[b0 - 1]
        uniform = size > 0
        for i in range(b0, b1):
            uniform &= (offsets[i + 1] - offsets[i]) == size
        if nulls:
            for i in range(b0 - 1, b1):
                uniform &= valid[i]
        if uniform:
            x0 = np.int64(offsets[b0])
            x1 = np.int64(offsets[b1])
            now = data[x0:x1]
            before = data[x0 - size : x1 - size]
            acc = np.uint8(0)
            for k in range(now.size):
                acc |= now[k] ^ before[k]
            if acc == 0:
                continue

        # A boundary (or mixed lengths, or nulls) inside: row by row
        for i in range(b0, b1):
            if _row_differs(offsets, data, nulls, valid, i):
                changed[i] = True


@numba.njit(**NJIT)
def _value_changes(codes, nulls, valid, changed):
    """Mark rows whose integer value (or null) differs from the previous row's."""
    n = codes.size
    if n > 0:
        changed[0] = True
    for i in range(1, n):
        # Unconditional store: the loop vectorises
        differs = codes[i] != codes[i - 1]
        if nulls:
            differs |= valid[i] != valid[i - 1]
        changed[i] |= differs


@numba.njit(**NJIT)
def _block_perm(starts, stops, order):
    """Row permutation concatenating row blocks ``order[0], order[1], ...``."""
    total = 0
    for r in order:
        total += stops[r] - starts[r]
    perm = np.empty(total, np.int64)
    pos = 0
    for r in order:
        for i in range(starts[r], stops[r]):
            perm[pos] = i
            pos += 1
    return perm


@numba.njit(parallel=True, **NJIT)
def _gather(values, perm):
    """``values[perm]`` in parallel (numpy's take runs on one core)."""
    out = np.empty(perm.size, values.dtype)
    for i in numba.prange(perm.size):
        out[i] = values[perm[i]]
    return out
