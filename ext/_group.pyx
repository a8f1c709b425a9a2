# cython: language_level=3, cdivision=True, initializedcheck=False
"""Group the rows of a long-format batch by series, in native code.

A batch arrives with one dense series code per row (0 .. ngroups-1). A counting sort
gives a stable permutation that makes every series' rows contiguous, in their original
order, in O(rows + groups) with no comparison sort.
"""

cimport cython
from libc.stdint cimport int32_t, int64_t

import numpy as np


@cython.boundscheck(False)
@cython.wraparound(False)
def group_rows(const int64_t[::1] codes, Py_ssize_t ngroups):
    """Stable counting sort of ``codes``.

    Parameters
    ----------
    codes : int64 array
        Series code per row, each in ``[0, ngroups)`` (not checked: the caller made
        them dense).
    ngroups : int
        Number of distinct codes.

    Returns
    -------
    order : int64 array
        Row indices grouped by code, original order kept within a group.
    offsets : int64 array of ngroups + 1
        Group ``g`` is ``order[offsets[g]:offsets[g + 1]]``.
    """
    cdef Py_ssize_t n = codes.shape[0], i, g
    offsets_arr = np.zeros(ngroups + 1, dtype=np.int64)
    order_arr = np.empty(n, dtype=np.int64)
    cursor_arr = np.empty(ngroups, dtype=np.int64)
    cdef int64_t[::1] offsets = offsets_arr
    cdef int64_t[::1] order = order_arr
    cdef int64_t[::1] cursor = cursor_arr
    with nogil:
        for i in range(n):
            offsets[codes[i] + 1] += 1
        for g in range(ngroups):
            offsets[g + 1] += offsets[g]
            cursor[g] = offsets[g]
        for i in range(n):
            g = codes[i]
            order[cursor[g]] = i
            cursor[g] += 1
    return order_arr, offsets_arr


@cython.boundscheck(False)
@cython.wraparound(False)
def combine_codes(const int64_t[::1] left, const int64_t[::1] right, int64_t width):
    """Row-wise ``left * width + right``: joins two per-tag codes into one."""
    cdef Py_ssize_t n = left.shape[0], i
    out_arr = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] out = out_arr
    with nogil:
        for i in range(n):
            out[i] = left[i] * width + right[i]
    return out_arr


@cython.boundscheck(False)
@cython.wraparound(False)
def is_sorted(const int64_t[::1] t):
    """Whether ``t`` is non-decreasing."""
    cdef Py_ssize_t i
    cdef bint ok = True
    with nogil:
        for i in range(1, t.shape[0]):
            if t[i] < t[i - 1]:
                ok = False
                break
    return ok


@cython.boundscheck(False)
@cython.wraparound(False)
def first_rows_and_counts(const int64_t[::1] codes, Py_ssize_t ngroups):
    """First row index and row count of every code in ``[0, ngroups)``, in one pass.

    A code that never occurs has first row -1 and count 0.
    """
    cdef Py_ssize_t n = codes.shape[0], i
    cdef int64_t g
    first_arr = np.full(ngroups, -1, dtype=np.int64)
    counts_arr = np.zeros(ngroups, dtype=np.int64)
    cdef int64_t[::1] first = first_arr
    cdef int64_t[::1] counts = counts_arr
    with nogil:
        for i in range(n):
            g = codes[i]
            if counts[g] == 0:
                first[g] = i
            counts[g] += 1
    return first_arr, counts_arr


ctypedef fused integral:
    int32_t
    int64_t


@cython.boundscheck(False)
@cython.wraparound(False)
cdef object _dense_impl(object idx_arr, const integral[::1] idx, Py_ssize_t ncodes):
    cdef Py_ssize_t n = idx.shape[0], i = 0, g, k = 0
    counts_arr = np.zeros(ncodes, dtype=np.int64)
    remap_arr = np.empty(ncodes, dtype=idx_arr.dtype)
    cdef int64_t[::1] counts = counts_arr
    cdef integral[::1] remap = remap_arr
    cdef integral[::1] codes
    cdef bint bad = False
    with nogil:
        for i in range(n):
            if idx[i] < 0 or idx[i] >= ncodes:
                bad = True
                break
            counts[idx[i]] += 1
    if bad:
        raise ValueError(f"code {idx[i]!r} at row {i} outside [0, {ncodes})")
    for g in range(ncodes):
        remap[g] = k
        if counts[g]:
            k += 1
    if k == ncodes:
        codes_arr = idx_arr  # every code occurs: they are the groups already
    else:
        codes_arr = np.empty(n, dtype=idx_arr.dtype)
        codes = codes_arr
        with nogil:
            for i in range(n):
                codes[i] = remap[idx[i]]
    present = np.flatnonzero(counts_arr)
    offsets = np.zeros(len(present) + 1, dtype=np.int64)
    np.cumsum(counts_arr[present], out=offsets[1:])
    return codes_arr, offsets, present


def dense_codes(idx, Py_ssize_t ncodes):
    """Renumber per-row codes in ``[0, ncodes)`` to dense group numbers.

    Codes that occur keep their relative order; codes that never occur (unused
    dictionary entries) get no group. One pass over the rows when every code
    occurs (``idx`` itself is returned), two otherwise; no sort.

    Parameters
    ----------
    idx : int32 or int64 array
        Code per row (for example Arrow dictionary indices).
    ncodes : int
        Number of possible codes.

    Returns
    -------
    codes : array of ``idx``'s type (int32 or int64)
        Group of every row (may be ``idx`` itself: treat as read-only).
    offsets : int64 array
        Group ``g`` has ``offsets[g + 1] - offsets[g]`` rows.
    present : int64 array
        The original code of every group.
    """
    if idx.dtype != np.int32:
        idx = np.asarray(idx, dtype=np.int64)
    idx = np.ascontiguousarray(idx)
    if idx.dtype == np.int32:
        return _dense_impl[int32_t](idx, idx, ncodes)
    return _dense_impl[int64_t](idx, idx, ncodes)
