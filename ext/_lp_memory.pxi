# Included by _lineproto.pyx: growable byte buffers, a string intern table, and the
# object that hands a finished buffer to Python (and so to Arrow) without a copy.
#
# Every function here is ``noexcept nogil`` and reports running out of memory through
# its return value (-1); the parser turns that into MemoryError once it holds the GIL.

from cpython.buffer cimport PyBUF_WRITABLE
from libc.stdint cimport INT64_MAX, INT64_MIN, int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset


ctypedef struct Buf:
    uint8_t* data
    Py_ssize_t len     # bytes in use
    Py_ssize_t cap     # bytes allocated; bytes in [len, cap) are zero


cdef inline int buf_reserve(Buf* b, Py_ssize_t need) noexcept nogil:
    """Make room for ``need`` bytes in total; new bytes are zeroed."""
    cdef Py_ssize_t cap
    cdef uint8_t* grown
    if need <= b.cap:
        return 0
    cap = b.cap * 2
    if cap < need:
        cap = need
    if cap < 64:
        cap = 64
    grown = <uint8_t*>realloc(b.data, cap)
    if grown == NULL:
        return -1
    # zeroed tails are what makes an unwritten row read as null / zero
    memset(grown + b.cap, 0, cap - b.cap)
    b.data = grown
    b.cap = cap
    return 0


cdef inline int buf_append(Buf* b, const void* src, Py_ssize_t n) noexcept nogil:
    if n == 0:
        return 0    # also keeps memcpy away from a buffer never allocated
    if buf_reserve(b, b.len + n) < 0:
        return -1
    memcpy(b.data + b.len, src, n)
    b.len += n
    return 0


cdef inline int buf_push_i64(Buf* b, int64_t v) noexcept nogil:
    if buf_reserve(b, b.len + 8) < 0:
        return -1
    (<int64_t*>(b.data + b.len))[0] = v
    b.len += 8
    return 0


cdef inline void buf_free(Buf* b) noexcept nogil:
    free(b.data)
    b.data = NULL
    b.len = 0
    b.cap = 0


cdef inline bint same_bytes(const uint8_t* a, const uint8_t* b,
                            Py_ssize_t n) noexcept nogil:
    """``memcmp(a, b, n) == 0`` inlined: the tokens compared are a few bytes long,
    where the call into libc costs more than the comparison."""
    cdef uint64_t x, y
    while n >= 8:
        memcpy(&x, a, 8)
        memcpy(&y, b, 8)
        if x != y:
            return False
        a += 8
        b += 8
        n -= 8
    while n > 0:
        if a[0] != b[0]:
            return False
        a += 1
        b += 1
        n -= 1
    return True


cdef inline uint64_t hash_bytes(const uint8_t* s, Py_ssize_t n) noexcept nogil:
    # eight bytes per multiply-xorshift round: keys are short, so few rounds
    cdef uint64_t h = 0x9E3779B97F4A7C15ULL ^ <uint64_t>n, w
    cdef int k
    while n >= 8:
        memcpy(&w, s, 8)
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL
        h ^= h >> 32
        s += 8
        n -= 8
    if n > 0:
        w = 0
        for k in range(n):
            w |= (<uint64_t>s[k]) << (8 * k)
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL
        h ^= h >> 32
    h *= 0xC4CEB9FE1A85EC53ULL
    return h ^ (h >> 29)


ctypedef struct Intern:
    int32_t* table     # open addressing: id + 1, or 0 for an empty slot
    Py_ssize_t mask    # table size - 1 (a power of two)
    Buf bytes          # every string back to back
    Buf offsets        # int64 start of string i; entry count + 1 is the end
    Buf hashes         # uint64 hash of string i, kept to regrow without rehashing
    int32_t count


cdef int intern_init(Intern* t) noexcept nogil:
    memset(t, 0, sizeof(Intern))
    t.mask = 255
    t.table = <int32_t*>malloc(256 * sizeof(int32_t))
    if t.table == NULL:
        return -1
    memset(t.table, 0, 256 * sizeof(int32_t))
    return buf_push_i64(&t.offsets, 0)


cdef void intern_free(Intern* t) noexcept nogil:
    free(t.table)
    t.table = NULL
    buf_free(&t.bytes)
    buf_free(&t.offsets)
    buf_free(&t.hashes)


cdef int intern_grow(Intern* t) noexcept nogil:
    cdef Py_ssize_t size = (t.mask + 1) * 2, j
    cdef int32_t i
    cdef int32_t* table = <int32_t*>malloc(size * sizeof(int32_t))
    cdef uint64_t* hashes = <uint64_t*>t.hashes.data
    if table == NULL:
        return -1
    memset(table, 0, size * sizeof(int32_t))
    for i in range(t.count):
        j = <Py_ssize_t>(hashes[i] & (size - 1))
        while table[j] != 0:
            j = (j + 1) & (size - 1)
        table[j] = i + 1
    free(t.table)
    t.table = table
    t.mask = size - 1
    return 0


cdef int32_t intern(Intern* t, const uint8_t* s, Py_ssize_t n) noexcept nogil:
    """Return the id of ``s[:n]``, adding it if new; -1 when out of memory."""
    cdef uint64_t h = hash_bytes(s, n)
    cdef Py_ssize_t j = <Py_ssize_t>(h & t.mask)
    cdef int32_t slot
    cdef int64_t* offs = <int64_t*>t.offsets.data
    cdef uint64_t* hashes = <uint64_t*>t.hashes.data

    # probe for an equal string
    while True:
        slot = t.table[j]
        if slot == 0:
            break
        if (hashes[slot - 1] == h and offs[slot] - offs[slot - 1] == n
                and same_bytes(t.bytes.data + offs[slot - 1], s, n)):
            return slot - 1
        j = (j + 1) & t.mask

    # add it, then keep the load factor under one half
    if t.count >= 0x7FFFFFF0:
        return -1
    if buf_append(&t.bytes, s, n) < 0 or buf_push_i64(&t.offsets, t.bytes.len) < 0:
        return -1
    if buf_append(&t.hashes, &h, 8) < 0:
        return -1
    t.table[j] = t.count + 1
    t.count += 1
    if 2 * t.count > t.mask and intern_grow(t) < 0:
        return -1
    return t.count - 1


cdef class OwnedBuffer:
    """A malloc'd block exposed through the buffer protocol; frees it when released.

    Arrow wraps it with ``pyarrow.py_buffer`` without copying, and keeps this object
    alive for as long as any array uses the memory.
    """

    cdef uint8_t* data
    cdef Py_ssize_t size
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __dealloc__(self):
        free(self.data)

    def __len__(self):
        return self.size

    def __getbuffer__(self, Py_buffer* view, int flags):
        self.shape[0] = self.size
        self.strides[0] = 1
        view.buf = <void*>self.data
        view.obj = self
        view.len = self.size
        view.readonly = 0 if flags & PyBUF_WRITABLE else 1
        view.itemsize = 1
        view.format = "B"
        view.ndim = 1
        view.shape = self.shape
        view.strides = self.strides
        view.suboffsets = NULL
        view.internal = NULL

    def __releasebuffer__(self, Py_buffer* view):
        pass


cdef OwnedBuffer take_buffer(Buf* b, Py_ssize_t size):
    """Move the block of ``b`` (``size`` bytes, zero-padded if longer than ``len``)."""
    cdef OwnedBuffer out = OwnedBuffer.__new__(OwnedBuffer)
    if buf_reserve(b, size if size > 0 else 1) < 0:
        raise MemoryError(f"cannot allocate {size} bytes for a parsed column")
    out.data = b.data
    out.size = size
    b.data = NULL
    b.len = 0
    b.cap = 0
    return out
