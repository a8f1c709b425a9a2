# cython: language_level=3, cdivision=True, initializedcheck=False
"""Group the rows of a long-format batch by series, in native code.

A batch arrives with one dense series code per row (0 .. ngroups-1). A counting sort
gives a stable permutation that makes every series' rows contiguous, in their original
order, in O(rows + groups) with no comparison sort.
"""

cimport cython
from libc.stdint cimport int64_t

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
