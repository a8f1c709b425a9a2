# Included by _ring.pyx before _ring_scatter.pxi: the bucketing pre-pass of the
# long-format scatter and the scratch memory it reuses between writes.


ctypedef struct _Src:
    # A batch's columns as raw pointers: the caller's arrays or the bucketed scratch.
    const int64_t* t
    const char* d[64]
    const uint8_t* v[64]    # NULL: every value present
    int sz[64]


cdef enum:
    # Series per bucket of the pre-pass is 1 << SHIFT: few enough that the ring
    # pages one bucket writes stay within the TLB, enough that the pre-pass writes
    # few streams (measured best at 6-8 for 10,000 series).
    _BUCKET_SHIFT = 7
    # Batches over fewer series are scattered straight from the caller's arrays.
    _BUCKET_MIN_GROUPS = 512
    # Scratch blocks kept for reuse between writes: at most this many, each at most
    # this many bytes (a 1M-row batch of one float64 field needs 20 MB).
    _SCRATCH_KEEP_BLOCKS = 2
    _SCRATCH_KEEP_BYTES = 96 << 20


_scratch_free = []


cdef object _take_scratch(Py_ssize_t nbytes):
    """A byte buffer of at least ``nbytes``, reused from an earlier write if one is
    free: a fresh buffer costs a page fault per 4 KB on every write."""
    while True:
        try:
            block = _scratch_free.pop()  # atomic under the GIL
        except IndexError:
            break
        if block.nbytes >= nbytes:
            return block
    return np.empty(nbytes + (nbytes >> 2), dtype=np.uint8)


cdef void _give_scratch(object block):
    if block.nbytes <= _SCRATCH_KEEP_BYTES and len(_scratch_free) < _SCRATCH_KEEP_BLOCKS:
        _scratch_free.append(block)


cdef inline Py_ssize_t _align64(Py_ssize_t n) noexcept nogil:
    return (n + 63) & ~(<Py_ssize_t> 63)


ctypedef fused bucket_code_t:
    int32_t
    int64_t


@cython.boundscheck(False)
@cython.wraparound(False)
cdef tuple _bucket_rows(_Src* src, _Src* out, const bucket_code_t* codes, Py_ssize_t n,
                        Py_ssize_t nf, const int64_t* offsets, Py_ssize_t ng):
    """Copy the rows into scratch, stably partitioned by bucket ``code >> SHIFT``.

    Scattering a row straight into its ring is a write to a random one of
    (series x columns) pages -- a TLB miss per value once there are thousands of
    series. This pass writes only (buckets x columns) sequential streams; the
    scatter that follows then touches one bucket's rings at a time. Rows of one
    series keep their order. Returns ``(block, codes)``: the scratch (``out``
    points into it; hand it back with ``_give_scratch``) and the rows' int32 codes
    in their new order (a view of the block).
    """
    cdef Py_ssize_t nb = (ng + (1 << _BUCKET_SHIFT) - 1) >> _BUCKET_SHIFT
    cdef Py_ssize_t f, i, b, j, at, total = _align64(n * 8) + _align64(n * 4)
    for f in range(nf):
        total += _align64(n * src.sz[f])
        if src.v[f] != NULL:
            total += _align64(n)
    block = _take_scratch(total)
    cursor_arr = np.empty(nb, dtype=np.int64)
    cdef int64_t[::1] cursor = cursor_arr
    cdef char* base = _ptr(block)
    cdef int64_t* ot = <int64_t*> base
    cdef int32_t* oc = <int32_t*> (base + _align64(n * 8))
    out_codes = block[_align64(n * 8):_align64(n * 8) + n * 4].view(np.int32)
    cdef char* od[64]
    cdef uint8_t* ov[64]
    at = _align64(n * 8) + _align64(n * 4)
    for f in range(nf):
        od[f] = base + at
        at += _align64(n * src.sz[f])
        ov[f] = NULL
        if src.v[f] != NULL:
            ov[f] = <uint8_t*> (base + at)
            at += _align64(n)
        out.d[f] = od[f]
        out.v[f] = ov[f]
        out.sz[f] = src.sz[f]
    out.t = ot
    for b in range(nb):
        cursor[b] = offsets[b << _BUCKET_SHIFT]
    cdef int64_t g
    cdef bint bad = False
    with nogil:
        for i in range(n):
            g = codes[i]
            if g < 0 or g >= ng:
                bad = True
                break
            b = g >> _BUCKET_SHIFT
            j = cursor[b]
            cursor[b] = j + 1
            oc[j] = <int32_t> g
            ot[j] = src.t[i]
            for f in range(nf):
                if src.sz[f] == 8:
                    (<int64_t*> od[f])[j] = (<const int64_t*> src.d[f])[i]
                else:
                    (<uint8_t*> od[f])[j] = (<const uint8_t*> src.d[f])[i]
                if ov[f] != NULL:
                    ov[f][j] = src.v[f][i]
    if bad:
        _give_scratch(block)
        raise ValueError(f"row {i!r} has group {g!r} outside [0, {ng!r})")
    return block, out_codes
