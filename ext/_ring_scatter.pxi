# Included by _ring.pyx: native write paths that fill many series rings from one
# long-format batch. The caller (tsengine.core.table) holds the table's write lock
# and publishes the touched rings afterwards; nothing here is visible to readers
# before that.


@cython.boundscheck(False)
@cython.wraparound(False)
def scatter_in_order(list buffers, const int64_t[::1] offsets, const int64_t[::1] t,
                     list cols, list valids):
    """Append group ``g`` = rows ``[offsets[g], offsets[g+1])`` to ``buffers[g]``
    wherever that group is in order and fits; return the indices of the groups that
    need the slow path (merge or seal). Rows must already be grouped."""
    cdef Py_ssize_t g, lo, hi
    cdef SeriesBuffer buf
    slow = []
    for g in range(len(buffers)):
        buf = <SeriesBuffer> buffers[g]
        lo = offsets[g]
        hi = offsets[g + 1]
        if hi - lo > buf.capacity - buf.count or not buf._in_order(&t[lo], hi - lo):
            slow.append(g)
            continue
        buf.append_block(t, cols, valids, lo, hi)
    return slow


cdef class CommitClock:
    """Commit sequence of one table, and whether its writes may take native paths.

    ``committed`` is what readers pin; ``next_seq`` the sequence the next write
    publishes under. Only the holder of the table's write lock changes them.
    """

    cdef public long long committed
    cdef public long long next_seq
    cdef public bint fast_ok

    def __init__(self):
        self.committed = -1
        self.next_seq = 0
        self.fast_ok = True

    cdef inline long long commit(self, SeriesBuffer buf):
        cdef long long seq = self.next_seq
        self.next_seq = seq + 1
        buf.publish(seq)
        self.committed = seq
        return seq


def publish_all(list buffers, CommitClock clock):
    """Publish every ring of a write under one new sequence, then commit it."""
    cdef SeriesBuffer buf
    cdef long long seq = clock.next_seq
    clock.next_seq = seq + 1
    for buf in buffers:
        buf.publish(seq)
    clock.committed = seq
    return seq


ctypedef struct _Lane:
    # Everything one row of the batch touches for its series, in one cache line.
    int64_t* tp
    char* d0
    char* d1
    uint8_t* v0
    uint8_t* v1
    int64_t pos
    int64_t cap     # 0: this series takes the slow path
    int64_t last    # greatest time so far; meaningful once ``seen``
    # (``seen`` lives in the top bit of ``pos``'s sign: pos < 0 means not seen yet,
    # the real cursor being ~pos)


ctypedef fused code_t:
    int32_t
    int64_t


@cython.boundscheck(False)
@cython.wraparound(False)
cdef list _scatter_lanes(list buffers, const int64_t* offsets, _Src* src,
                         const code_t* codes, Py_ssize_t n, Py_ssize_t nf):
    """``scatter_direct`` for tables of one or two numeric fields: the per-series
    state is packed so a row costs one cache line of state, not eight."""
    cdef Py_ssize_t ng = len(buffers), g, i
    cdef SeriesBuffer buf
    cdef _Lane* lanes = <_Lane*> PyMem_Malloc(max(ng, 1) * sizeof(_Lane))
    cdef _Lane* ln
    cdef const int64_t* t = src.t
    cdef const char* s0 = src.d[0] if nf > 0 else NULL
    cdef const char* s1 = src.d[1] if nf > 1 else NULL
    cdef const uint8_t* sv0 = src.v[0] if nf > 0 else NULL
    cdef const uint8_t* sv1 = src.v[1] if nf > 1 else NULL
    cdef int z0 = src.sz[0] if nf > 0 else 8
    cdef int z1 = src.sz[1] if nf > 1 else 8
    cdef bint allow_equal = False
    cdef int64_t p
    if lanes == NULL:
        raise MemoryError()
    try:
        for g in range(ng):
            buf = <SeriesBuffer> buffers[g]
            ln = &lanes[g]
            ln.cap = 0
            if buf.nfields != nf or offsets[g + 1] - offsets[g] > buf.capacity - buf.count:
                continue
            allow_equal = buf.allow_equal
            ln.tp = buf.tp
            ln.cap = buf.capacity
            ln.last = buf.last_time
            p = (buf.head + buf.count) % buf.capacity
            ln.pos = ~p if buf.empty else p
            ln.d0 = buf.dptr[0] if nf > 0 else NULL
            ln.d1 = buf.dptr[1] if nf > 1 else NULL
            ln.v0 = NULL
            ln.v1 = NULL
            if nf > 0:
                ln.v0 = buf._valid_ptr(0) if sv0 != NULL else buf.vptr[0]
            if nf > 1:
                ln.v1 = buf._valid_ptr(1) if sv1 != NULL else buf.vptr[1]
        with nogil:
            for i in range(n):
                ln = &lanes[codes[i]]
                if ln.cap == 0:
                    continue
                p = ln.pos
                if p >= 0:
                    if t[i] < ln.last or (t[i] == ln.last and not allow_equal):
                        ln.cap = 0
                        continue
                else:
                    p = ~p
                ln.tp[p] = t[i]
                if nf > 0:
                    if z0 == 8:
                        (<int64_t*> ln.d0)[p] = (<const int64_t*> s0)[i]
                    else:
                        (<uint8_t*> ln.d0)[p] = (<const uint8_t*> s0)[i]
                    if ln.v0 != NULL:
                        ln.v0[p] = 1 if sv0 == NULL else sv0[i]
                if nf > 1:
                    if z1 == 8:
                        (<int64_t*> ln.d1)[p] = (<const int64_t*> s1)[i]
                    else:
                        (<uint8_t*> ln.d1)[p] = (<const uint8_t*> s1)[i]
                    if ln.v1 != NULL:
                        ln.v1[p] = 1 if sv1 == NULL else sv1[i]
                p += 1
                if p == ln.cap:
                    p = 0
                ln.pos = p
                ln.last = t[i]
        slow = []
        for g in range(ng):
            ln = &lanes[g]
            if ln.cap == 0:
                slow.append(g)
                continue
            buf = <SeriesBuffer> buffers[g]
            if offsets[g + 1] > offsets[g]:
                buf.count += offsets[g + 1] - offsets[g]
                buf.last_time = ln.last
                buf.empty = False
        return slow
    finally:
        PyMem_Free(lanes)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef list _scatter_fields(list buffers, const int64_t* offsets, _Src* src,
                          const code_t* codes, Py_ssize_t n, Py_ssize_t nf):
    """``scatter_direct`` for any number of numeric or bool fields."""
    cdef Py_ssize_t ng = len(buffers), g, i, f, p
    cdef SeriesBuffer buf
    ok_arr = np.zeros(ng, dtype=np.uint8)
    pos_arr = np.zeros(ng, dtype=np.int64)
    last_arr = np.zeros(ng, dtype=np.int64)
    seen_arr = np.zeros(ng, dtype=np.uint8)
    tps_arr = np.zeros(ng, dtype=np.intp)
    dps_arr = np.zeros((ng, max(nf, 1)), dtype=np.intp)
    vps_arr = np.zeros((ng, max(nf, 1)), dtype=np.intp)
    caps_arr = np.zeros(ng, dtype=np.int64)
    cdef uint8_t[::1] ok = ok_arr, seen = seen_arr
    cdef int64_t[::1] pos = pos_arr, last = last_arr, caps = caps_arr
    cdef Py_ssize_t[::1] tps = tps_arr
    cdef Py_ssize_t[:, ::1] dps = dps_arr, vps = vps_arr
    cdef uint8_t allow_equal = 0
    cdef const int64_t* t = src.t
    # Per group: where its ring's free slots start and what it last holds.
    for g in range(ng):
        buf = <SeriesBuffer> buffers[g]
        if buf.nfields != nf or offsets[g + 1] - offsets[g] > buf.capacity - buf.count:
            continue
        ok[g] = 1
        allow_equal = buf.allow_equal
        pos[g] = (buf.head + buf.count) % buf.capacity
        caps[g] = buf.capacity
        last[g] = buf.last_time
        seen[g] = 0 if buf.empty else 1
        tps[g] = <Py_ssize_t> buf.tp
        for f in range(nf):
            dps[g, f] = <Py_ssize_t> buf.dptr[f]
            vps[g, f] = <Py_ssize_t> (buf._valid_ptr(f) if src.v[f] != NULL
                                      else buf.vptr[f])
    with nogil:
        for i in range(n):
            g = codes[i]
            if not ok[g]:
                continue
            if seen[g] and (t[i] < last[g] or (t[i] == last[g] and not allow_equal)):
                ok[g] = 0
                continue
            p = pos[g]
            (<int64_t*> tps[g])[p] = t[i]
            for f in range(nf):
                if src.sz[f] == 8:
                    (<int64_t*> dps[g, f])[p] = (<const int64_t*> src.d[f])[i]
                else:
                    (<uint8_t*> dps[g, f])[p] = (<const uint8_t*> src.d[f])[i]
                if vps[g, f] != 0:
                    (<uint8_t*> vps[g, f])[p] = 1 if src.v[f] == NULL else src.v[f][i]
            p += 1
            if p == caps[g]:
                p = 0
            pos[g] = p
            last[g] = t[i]
            seen[g] = 1
    slow = []
    for g in range(ng):
        buf = <SeriesBuffer> buffers[g]
        if not ok[g]:
            slow.append(g)
            continue
        k = offsets[g + 1] - offsets[g]
        if k:
            buf.count += k
            buf.last_time = last[g]
            buf.empty = False
    return slow


cdef list _scatter(list buffers, const int64_t* offsets, _Src* src,
                   const code_t* codes, Py_ssize_t n, Py_ssize_t nf):
    if nf <= 2:
        return _scatter_lanes(buffers, offsets, src, codes, n, nf)
    return _scatter_fields(buffers, offsets, src, codes, n, nf)


@cython.boundscheck(False)
@cython.wraparound(False)
def scatter_direct(list buffers, codes, const int64_t[::1] offsets,
                   const int64_t[::1] t, list cols, list valids):
    """Append every row to its series' ring.

    ``codes[i]`` (int32 or int64) is the group of row ``i`` and group ``g`` has
    ``offsets[g + 1] - offsets[g]`` rows. With many series the rows are first
    partitioned into buckets of neighbouring series (``_bucket_rows``) so the
    scatter into the rings stays TLB-friendly; either way each ring is written at
    its own cursor, rows of a series in arrival order. A group that turns out to be
    out of order (or does not fit) is left untouched -- what was copied into its
    free slots is never published -- and returned for the merge path.
    Numeric and bool fields only.
    """
    cdef Py_ssize_t ng = len(buffers), nf = len(cols), n = t.shape[0], f
    cdef _Src src, bucketed
    cdef const int32_t[::1] c32
    cdef const int64_t[::1] c64
    if nf > 64:
        raise ValueError(f"{nf!r} fields exceed the limit of 64 per table")
    if len(codes) != n or offsets.shape[0] != ng + 1:
        raise ValueError("codes, offsets and times do not describe the same rows")
    if n == 0:
        return [g for g in range(ng) if (<SeriesBuffer> buffers[g]).nfields != nf]
    src.t = &t[0]
    for f in range(nf):
        if len(cols[f]) != n or (valids[f] is not None and len(valids[f]) != n):
            raise ValueError(f"field column {f!r} does not have {n!r} rows")
        src.d[f] = _ptr(cols[f])
        src.v[f] = NULL if valids[f] is None else <uint8_t*> _ptr(valids[f])
        src.sz[f] = cols[f].dtype.itemsize
    if ng >= _BUCKET_MIN_GROUPS and ng < (1 << 31):
        if codes.dtype == np.int32:
            c32 = codes
            block, out_codes = _bucket_rows(&src, &bucketed, &c32[0], n, nf,
                                            &offsets[0], ng)
        else:
            c64 = codes
            block, out_codes = _bucket_rows(&src, &bucketed, &c64[0], n, nf,
                                            &offsets[0], ng)
        try:
            return _scatter(buffers, &offsets[0], &bucketed,
                            <const int32_t*> _ptr(out_codes), n, nf)
        finally:
            _give_scratch(block)
    if codes.dtype == np.int32:
        c32 = codes
        return _scatter(buffers, &offsets[0], &src, &c32[0], n, nf)
    c64 = codes
    return _scatter(buffers, &offsets[0], &src, &c64[0], n, nf)


@cython.boundscheck(False)
@cython.wraparound(False)
def short_of_room(list buffers, const int64_t[::1] offsets):
    """Groups whose rows do not fit in their ring's free slots but fit in the ring.

    Group ``g`` has ``offsets[g + 1] - offsets[g]`` rows for ``buffers[g]``. Sealing
    the oldest points of these rings first lets one scatter store every in-order
    group, instead of sending each full ring down the per-series path.
    """
    cdef Py_ssize_t g, n
    cdef SeriesBuffer buf
    cdef list out = []
    for g in range(len(buffers)):
        buf = <SeriesBuffer> buffers[g]
        n = offsets[g + 1] - offsets[g]
        if buf.capacity - buf.count < n <= buf.capacity:
            out.append(g)
    return out
