"""Tag-column run detection and block permutations for grouping rows.

Rows read from the engine arrive series by series, so a tag column is mostly long runs
of one value. Detecting where the value changes reads each string's bytes once, and
only one row per run then needs hashing, instead of every row.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT


@numba.njit(**NJIT)
def _string_changes(offsets, data, valid, changed):
    """Mark rows whose string differs from the previous row's (nulls compare equal).

    ``offsets`` has one entry more than rows; ``valid`` is a bool per row. ``changed``
    is updated in place with ``|=`` so several columns can be combined.
    """
    n = offsets.size - 1
    if n > 0:
        changed[0] = True
    for i in range(1, n):
        if valid[i] != valid[i - 1]:
            changed[i] = True
            continue
        if not valid[i]:
            continue
        a0 = offsets[i - 1]
        a1 = offsets[i]
        b1 = offsets[i + 1]
        if b1 - a1 != a1 - a0:
            changed[i] = True
            continue
        for k in range(b1 - a1):
            if data[a1 + k] != data[a0 + k]:
                changed[i] = True
                break


@numba.njit(**NJIT)
def _value_changes(codes, valid, changed):
    """Mark rows whose integer value (or null) differs from the previous row's."""
    n = codes.size
    if n > 0:
        changed[0] = True
    for i in range(1, n):
        if valid[i] != valid[i - 1] or (valid[i] and codes[i] != codes[i - 1]):
            changed[i] = True


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
