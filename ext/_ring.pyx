# cython: language_level=3, cdivision=True, initializedcheck=False
"""Columnar ring buffer holding the hot tier of one series.

The ring keeps points in time order: one int64 time column plus one column per field,
each with a lazily allocated validity column (1 = present; absent means all present).
Capacity is fixed at construction. Writers append in place with the GIL released for
numeric columns; when room is needed the caller pops the oldest points and seals them.

Concurrency contract (the caller holds the table's write lock for every mutation):

* ``publish(seq)`` makes the live state visible to readers and keeps the one before it,
  so a reader pinned to an older committed sequence still finds a whole state;
* ``gen`` is bumped *before* any mutation that can overwrite slots readers may be
  copying (popping, truncating); a reader copies, then re-checks ``gen`` and retries if
  it moved (a seqlock). Appending into free slots never disturbs readers.
"""

cimport cython
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport PyObject

import numpy as np

from tsengine.errors import SchemaError

cimport numpy as cnp

cnp.import_array()

include "_ring_kinds.pxi"


cdef extern from "ring_copy.h":
    void tse_ring_copy(void* dst, const void* src, size_t n) nogil
    int tse_copy_times(int64_t* dst, const int64_t* src, size_t n,
                       int allow_equal) nogil


cdef inline char* _ptr(object arr):
    return <char*> cnp.PyArray_DATA(<cnp.ndarray> arr)


cdef class SeriesBuffer:
    """Hot ring of one series; see the module docstring for the locking contract.

    Parameters
    ----------
    capacity : int
        Points the ring holds (> 0).
    kinds : list of str
        Field types in column order: ``"float64"``, ``"int64"``, ``"uint64"``,
        ``"bool"``, ``"string"``.
    allow_equal : bool
        Whether a point whose time equals the latest stored time may take the fast
        in-order path (the ``"keep"`` duplicate policy).
    """

    # Declaration order is memory order: what a write touches per series (cursor,
    # first field pointers, publication) comes first, in few cache lines -- a
    # 10,000-series batch visits every ring's header.
    cdef readonly Py_ssize_t capacity, head, count, nfields
    cdef int64_t* tp
    cdef readonly long long gen
    cdef readonly long long last_time
    cdef readonly bint empty
    cdef readonly bint allow_equal
    cdef readonly Py_ssize_t pub_head, pub_count, prev_head, prev_count
    cdef readonly long long pub_seq, prev_seq, pub_gen, prev_gen
    cdef readonly object pub_sealed, prev_sealed
    cdef public object sealed
    cdef public object key
    cdef readonly object times
    cdef readonly list cols, valid
    cdef char* dptr[64]       # data of each field column (NULL for strings)
    cdef uint8_t* vptr[64]    # validity of each field (NULL: all present)
    cdef int kinds[64]
    cdef int itemsize[64]

    def __init__(self, Py_ssize_t capacity, list kinds, bint allow_equal=False):
        if capacity <= 0:
            raise ValueError(f"ring capacity {capacity!r} must be positive")
        if len(kinds) > 64:
            raise ValueError(f"{len(kinds)!r} fields exceed the limit of 64 per table")
        self.capacity = capacity
        self.nfields = len(kinds)
        self.times = np.empty(capacity, dtype=np.int64)
        self.tp = <int64_t*> _ptr(self.times)
        self.cols = []
        self.valid = []
        for i, name in enumerate(kinds):
            code = KIND_CODES[name]
            self.kinds[i] = code
            self.itemsize[i] = 1 if code == K_B1 else 8
            self.cols.append(np.empty(capacity, dtype=_DTYPES[code]))
            self.valid.append(None)
            self.dptr[i] = NULL if code == K_OBJ else _ptr(self.cols[i])
            self.vptr[i] = NULL
        self.head = 0
        self.count = 0
        self.gen = 0
        self.empty = True
        self.last_time = 0
        self.allow_equal = allow_equal
        self.sealed = ()
        self.pub_sealed = ()
        self.prev_sealed = ()
        self.pub_seq = -1
        self.prev_seq = -1

    # -- publication -------------------------------------------------------------

    cpdef publish(self, long long seq):
        """Make the live state visible to readers as of commit ``seq``."""
        self.prev_head = self.pub_head
        self.prev_count = self.pub_count
        self.prev_seq = self.pub_seq
        self.prev_sealed = self.pub_sealed
        self.prev_gen = self.pub_gen
        self.pub_gen = self.gen
        self.pub_head = self.head
        self.pub_count = self.count
        self.pub_seq = seq
        self.pub_sealed = self.sealed

    cpdef object snapshot(self, long long committed):
        """Return ``(head, count, sealed, gen)`` of the newest state at or before
        ``committed`` -- the published one, or the one before it while a write that
        has not committed yet is publishing -- or None if both are newer.

        The state's ring region is intact only while ``self.gen`` equals the
        returned ``gen``."""
        if self.pub_seq <= committed:
            return (self.pub_head, self.pub_count, self.pub_sealed, self.pub_gen)
        if self.prev_seq <= committed:
            return (self.prev_head, self.prev_count, self.prev_sealed, self.prev_gen)
        return None

    def set_last_time(self, long long t, bint empty=False):
        """Record the greatest time stored anywhere in the series (ring or sealed)."""
        self.last_time = t
        self.empty = empty

    # -- appends -----------------------------------------------------------------

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef bint _in_order(self, const int64_t* t, Py_ssize_t n) noexcept nogil:
        cdef Py_ssize_t i
        if n == 0:
            return True
        if not self.empty:
            if t[0] < self.last_time or (t[0] == self.last_time and not self.allow_equal):
                return False
        for i in range(1, n):
            if t[i] < t[i - 1] or (t[i] == t[i - 1] and not self.allow_equal):
                return False
        return True

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def append_block(self, const int64_t[::1] t, list cols, list valids,
                     Py_ssize_t start, Py_ssize_t stop):
        """Append rows ``[start, stop)``; they must be in order and fit.

        ``cols[i]`` is a contiguous numpy array of field ``i`` (uint8 for bool);
        ``valids[i]`` is None (all present) or a uint8 array. The GIL is released
        while numeric columns are copied.
        """
        cdef Py_ssize_t n = stop - start
        if n <= 0:
            return
        if n > self.capacity - self.count:
            raise ValueError(f"{n!r} points do not fit in {self.capacity - self.count!r}")
        self._append_time(&t[start], n)
        cdef Py_ssize_t f
        for f in range(self.nfields):
            self._append_field(f, cols[f], valids[f], start, n)
        self.count += n
        self.last_time = t[stop - 1]
        self.empty = False

    cdef void _append_time(self, const int64_t* src, Py_ssize_t n) noexcept:
        cdef Py_ssize_t pos = (self.head + self.count) % self.capacity
        cdef Py_ssize_t first = min(n, self.capacity - pos)
        with nogil:
            tse_ring_copy(self.tp + pos, src, first * 8)
            if first < n:
                tse_ring_copy(self.tp, src + first, (n - first) * 8)

    cdef _append_field(self, Py_ssize_t f, object col, object valid,
                       Py_ssize_t start, Py_ssize_t n):
        cdef Py_ssize_t pos = (self.head + self.count) % self.capacity
        cdef Py_ssize_t first = min(n, self.capacity - pos)
        cdef Py_ssize_t size = self.itemsize[f]
        cdef Py_ssize_t i
        cdef char* dst
        cdef const char* src
        ring_col = self.cols[f]
        if self.kinds[f] == K_OBJ:
            ring_col[pos:pos + first] = col[start:start + first]
            if first < n:
                ring_col[0:n - first] = col[start + first:start + n]
        else:
            dst = _ptr(ring_col)
            src = _ptr(col) + start * size
            with nogil:
                tse_ring_copy(dst + pos * size, src, first * size)
                if first < n:
                    tse_ring_copy(dst, src + first * size, (n - first) * size)
        if valid is None and self.vptr[f] == NULL:
            return
        dst = <char*> self._valid_ptr(f)
        if valid is None:
            with nogil:
                for i in range(first):
                    dst[pos + i] = 1
                for i in range(n - first):
                    dst[i] = 1
        else:
            src = _ptr(valid) + start
            with nogil:
                memcpy(dst + pos, src, first)
                if first < n:
                    memcpy(dst, src + first, n - first)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def append_checked(self, const int64_t[::1] t, list cols):
        """Append all of ``t`` and ``cols`` (no nulls) if in order and they fit.

        The order check runs while the times are copied into free slots, so the
        batch is read once; nothing is stored when it fails (the free slots
        written are not counted, and readers never look past the count) and False
        returns. The GIL is released for the copies.
        """
        cdef Py_ssize_t n = t.shape[0], f
        cdef Py_ssize_t pos, first
        cdef bint ok = True
        cdef bint allow_equal = self.allow_equal
        cdef const int64_t* src
        cdef int64_t prev
        if n == 0:
            return True
        if n > self.capacity - self.count or len(cols) != self.nfields:
            return False
        for f in range(self.nfields):
            if self.kinds[f] == K_OBJ or self.vptr[f] != NULL:
                return False
        src = &t[0]
        prev = src[0]
        if not self.empty and (prev < self.last_time or
                               (prev == self.last_time and not allow_equal)):
            return False

        # Copy and check in one pass; a batch the fast check cannot prove in order
        # (out of order, or times beyond years 1824-2116) gets the exact scan.
        pos = (self.head + self.count) % self.capacity
        first = min(n, self.capacity - pos)
        with nogil:
            ok = tse_copy_times(self.tp + pos, src, first, allow_equal)
            if first < n:
                ok = ok & tse_copy_times(self.tp, src + first, n - first, allow_equal)
                ok = ok and (src[first] > src[first - 1] or
                             (allow_equal and src[first] == src[first - 1]))
            if not ok:
                ok = _sorted_scan(src, n, allow_equal)
        if not ok:
            return False

        # Values, then the count: only now do the new points exist.
        for f in range(self.nfields):
            self._append_field(f, cols[f], None, 0, n)
        self.count += n
        self.last_time = src[n - 1]
        self.empty = False
        return True

    cdef uint8_t* _valid_ptr(self, Py_ssize_t f):
        """Validity column of field ``f``, allocated (all present) on first use."""
        if self.vptr[f] == NULL:
            self.valid[f] = np.ones(self.capacity, dtype=np.uint8)
            self.vptr[f] = <uint8_t*> _ptr(self.valid[f])
        return self.vptr[f]

    cdef inline void _set_valid(self, Py_ssize_t f, Py_ssize_t pos, bint present):
        if self.vptr[f] == NULL and present:
            return
        self._valid_ptr(f)[pos] = 1 if present else 0

    def add_field(self, str kind):
        """Add a field column; existing points are null in it."""
        cdef Py_ssize_t f = self.nfields
        if f >= 64:
            raise ValueError("a table holds at most 64 fields")
        code = KIND_CODES[kind]
        self.kinds[f] = code
        self.itemsize[f] = 1 if code == K_B1 else 8
        self.valid.append(np.zeros(self.capacity, dtype=np.uint8))
        self.cols.append(np.zeros(self.capacity, dtype=_DTYPES[code]))
        self.dptr[f] = NULL if code == K_OBJ else _ptr(self.cols[f])
        self.vptr[f] = <uint8_t*> _ptr(self.valid[f])
        self.nfields += 1

    # -- removal -----------------------------------------------------------------

    def pop_oldest(self, Py_ssize_t n):
        """Remove the ``n`` oldest points and return copies of them.

        Returns ``(times, cols, valids)`` as from :meth:`copy_range`.
        """
        n = min(n, self.count)
        out = self.copy_range(self.head, self.count, 0, n)
        self.gen += 1
        self.head = (self.head + n) % self.capacity
        self.count -= n
        return out

    def truncate(self, Py_ssize_t keep):
        """Drop every point from logical index ``keep`` on (used before a merge)."""
        if keep < 0 or keep > self.count:
            raise ValueError(f"truncate to {keep!r} outside [0, {self.count!r}]")
        self.gen += 1
        self.count = keep

    # -- reads -------------------------------------------------------------------

    def copy_range(self, Py_ssize_t head, Py_ssize_t count, Py_ssize_t lo, Py_ssize_t hi):
        """Copy logical rows ``[lo, hi)`` of the state ``(head, count)``.

        Returns ``(times, cols, valids)``: new numpy arrays owned by the caller;
        ``valids[i]`` is None where field ``i`` has no nulls in the ring.
        """
        lo = max(0, min(lo, count))
        hi = max(lo, min(hi, count))
        cdef Py_ssize_t n = hi - lo
        cdef Py_ssize_t pos = (head + lo) % self.capacity
        cdef Py_ssize_t first = min(n, self.capacity - pos)
        times = _copy_wrapped(self.times, pos, first, n)
        cols = [_copy_wrapped(c, pos, first, n) for c in self.cols]
        valids = [None if v is None else _copy_wrapped(v, pos, first, n)
                  for v in self.valid]
        return times, cols, valids

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def search(self, Py_ssize_t head, Py_ssize_t count, long long t, bint right=False):
        """Logical index of the first time ``>= t`` (``> t`` when ``right``)."""
        cdef Py_ssize_t lo = 0, hi = count, mid
        cdef long long v
        while lo < hi:
            mid = (lo + hi) >> 1
            v = self.tp[(head + mid) % self.capacity]
            if v < t or (right and v == t):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def time_at(self, Py_ssize_t head, Py_ssize_t i):
        """Time of logical row ``i`` of a state starting at ``head``."""
        return self.tp[(head + i) % self.capacity]

    @property
    def nbytes(self):
        """Bytes held by the ring's columns (allocated capacity, not points)."""
        total = self.times.nbytes + sum(c.nbytes for c in self.cols)
        return total + sum(v.nbytes for v in self.valid if v is not None)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef bint _sorted_scan(const int64_t* t, Py_ssize_t n, bint allow_equal) noexcept nogil:
    """Whether ``t`` is non-decreasing (strictly increasing unless allow_equal)."""
    cdef Py_ssize_t i
    cdef int64_t bad = 0
    if allow_equal:
        for i in range(1, n):
            bad |= t[i] < t[i - 1]
    else:
        for i in range(1, n):
            bad |= t[i] <= t[i - 1]
    return bad == 0


cdef object _copy_wrapped(object arr, Py_ssize_t pos, Py_ssize_t first, Py_ssize_t n):
    if first == n:
        return arr[pos:pos + n].copy()
    return np.concatenate((arr[pos:pos + first], arr[0:n - first]))


include "_ring_bucket.pxi"
include "_ring_scatter.pxi"
include "_ring_point.pxi"
