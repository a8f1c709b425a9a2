# Included by _lineproto.pyx: the grammar of one line, from the measurement to the
# end of line, written as a straight scan over the bytes. The result of a good line is
# the measurement id, the time and an Item per tag and field in the State; a bad line
# fills an ErrRec (what went wrong, where, and which token to quote) instead.

# error codes; the values are part of the interface with lineprotocol.py
cdef enum:
    ER_MEAS = 1             # no measurement name where one must start
    ER_COMMENT = 2          # control byte in a comment
    ER_TAG_KEY = 3          # no tag key after a comma
    ER_TAG_EQ = 4           # tag key not followed by =
    ER_TAG_VALUE = 5        # empty tag value
    ER_AFTER_TAG = 6        # a tag value followed by something else than , or space
    ER_NO_FIELDS = 7        # the line ends before its field set
    ER_FIELD_KEY = 8        # no field key where one must start
    ER_FIELD_EQ = 9         # field key not followed by =
    ER_FIELD_TYPE = 10      # a value that is no number, boolean or string
    ER_STRING_OPEN = 11     # string value without its closing quote
    ER_INT = 12
    ER_INT_RANGE = 13
    ER_UINT = 14
    ER_UINT_RANGE = 15
    ER_FLOAT = 16
    ER_FLOAT_RANGE = 17
    ER_BOOL = 18
    ER_AFTER_FIELD = 19     # a value followed by something else than , space or EOL
    ER_TIME = 20
    ER_TIME_RANGE = 21
    ER_AFTER_TIME = 22
    ER_UTF8 = 23            # aux: 0 measurement, 1 tag key, 2 tag value, 3 field key,
                            # 4 string value
    ER_DUPLICATE = 24       # a key given twice in one line
    ER_CONFLICT = 25        # aux: column built before, aux2: the line's kind
    ER_RESERVED = 26        # a tag or field key "time"
    ER_AFTER_MEAS = 27      # a measurement followed by something else than , or space
    ER_TOO_BIG = 28         # the tables would exceed the cell budget (stops the parse)

cdef enum:
    NCACHE = 16             # tag/field positions whose last token is remembered


ctypedef struct ErrRec:
    int32_t code
    int64_t line
    int32_t aux
    int32_t aux2
    Py_ssize_t pos          # offsets into the payload
    Py_ssize_t line_start
    Py_ssize_t tok0
    Py_ssize_t tok1
    Py_ssize_t key0
    Py_ssize_t key1


ctypedef struct Cursor:
    const uint8_t* base
    const uint8_t* p
    const uint8_t* end
    const uint8_t* line_start
    int64_t line
    int nl                  # the last line ended with a newline (not end of input)


ctypedef struct Cache:
    # the previous line's token at the same position: lines of one source repeat
    # their names, so a comparison usually replaces hashing
    const uint8_t* p
    Py_ssize_t n
    int32_t id


ctypedef struct State:
    Intern names            # measurements, tag keys and field keys
    Intern tagvals
    Columns cols
    Buf items               # Item[] of the current line
    Buf sbytes              # unescaped string values of the current line
    Buf tmp                 # unescaping scratch for names
    Buf numbuf              # strtod scratch
    Cache caches[3 * NCACHE + 1]
    int32_t time_id
    int32_t mname           # measurement name id of the current line


cdef inline Py_ssize_t line_start_of(const uint8_t* base, Py_ssize_t pos,
                                     Py_ssize_t floor) noexcept nogil:
    while pos > floor and base[pos - 1] != 10:
        pos -= 1
    return pos


cdef inline int fail(ErrRec* e, int code, Cursor* cur, const uint8_t* pos,
                     const uint8_t* t0, const uint8_t* t1,
                     const uint8_t* k0, const uint8_t* k1) noexcept nogil:
    e.code = code
    e.line = cur.line
    e.line_start = cur.line_start - cur.base
    e.pos = pos - cur.base
    e.tok0 = t0 - cur.base
    e.tok1 = t1 - cur.base
    e.key0 = k0 - cur.base
    e.key1 = k1 - cur.base
    e.aux = 0
    e.aux2 = 0
    cur.p = pos
    return code


cdef inline int take_eol(Cursor* cur, const uint8_t* p) noexcept nogil:
    """Consume an end of line at ``p`` (LF, CRLF, CR or end of input); 0 if none."""
    if p >= cur.end:
        cur.p = p
        cur.nl = 0
        return 1
    if p[0] == 10 or (p[0] == 13 and p + 1 < cur.end and p[1] == 10):
        cur.p = p + 1 if p[0] == 10 else p + 2
        cur.line += 1
        cur.line_start = cur.p
        cur.nl = 1
        return 1
    if p[0] == 13 and p + 1 == cur.end:
        cur.p = p + 1
        cur.nl = 0
        return 1
    return 0


cdef int skip_blank(Cursor* cur, ErrRec* e) noexcept nogil:
    """Step over spaces, empty lines and comments; ER_COMMENT for a bad comment."""
    cdef const uint8_t* p = cur.p
    cdef const uint8_t* q
    while p < cur.end:
        if p[0] == 32:
            p += 1
        elif p[0] == 35:
            q = p + 1
            while q < cur.end and CLS[q[0]] & C_COMMENT:
                q += 1
            if not take_eol(cur, q):
                return fail(e, ER_COMMENT, cur, q, q, q + 1, q, q)
            p = cur.p
        elif p[0] == 10 or p[0] == 13:
            if not take_eol(cur, p):
                break
            p = cur.p
        else:
            break
    cur.p = p
    return 0


cdef inline int32_t lookup(State* s, Intern* t, Cache* c, const uint8_t* p,
                           const uint8_t* q, int flags, uint8_t esc) noexcept nogil:
    """Id of the unescaped token ``p[:q]``: -1 out of memory, -2 invalid UTF-8."""
    cdef Py_ssize_t n = q - p, m
    cdef int32_t i
    if c.p != NULL and c.n == n and same_bytes(c.p, p, n):
        return c.id
    if flags & 2 and not utf8_valid(p, n):
        return -2
    if flags & 1:
        if buf_reserve(&s.tmp, n + 1) < 0:
            return -1
        m = unescape(p, q, esc, s.tmp.data)
        i = intern(t, s.tmp.data, m)
    else:
        i = intern(t, p, n)
    if i >= 0:
        c.p = p
        c.n = n
        c.id = i
    return i


cdef inline Item* new_item(State* s, int n) noexcept nogil:
    if buf_reserve(&s.items, (n + 1) * sizeof(Item)) < 0:
        return NULL
    return (<Item*>s.items.data) + n


cdef inline int set_aux(ErrRec* e, int aux) noexcept nogil:
    e.aux = aux
    return e.code


include "_lp_values.pxi"


cdef int parse_line(State* s, Cursor* cur, ErrRec* e, int64_t factor,
                    int64_t default_time, int64_t* time, int* nitems) noexcept nogil:
    """Parse the line at ``cur.p`` into ``s``; 0, an ER_ code, or -1 (no memory)."""
    cdef const uint8_t* p = cur.p
    cdef const uint8_t* end = cur.end
    cdef const uint8_t* q
    cdef const uint8_t* k0
    cdef const uint8_t* v0
    cdef int flags, n = 0, ntag = 0, nfield = 0, rc
    cdef int32_t kid, vid
    cdef int64_t ts
    cdef uint64_t u
    cdef Item* it
    cdef Cache* cache = s.caches

    s.sbytes.len = 0
    cur.nl = 0

    # measurement name
    q = scan_token(p, end, C_MEAS_END, E_MEAS, &flags)
    if q == p:
        return fail(e, ER_MEAS, cur, p, p, p + 1, p, p)
    s.mname = lookup(s, &s.names, &cache[3 * NCACHE], p, q, flags, E_MEAS)
    if s.mname < 0:
        if s.mname == -1:
            return -1
        return fail(e, ER_UTF8, cur, p, p, q, p, p)
    p = q

    # tag set: ,key=value pairs up to the space before the fields
    if p < end and p[0] == 44:
        p += 1
        while True:
            k0 = p
            q = scan_token(p, end, C_KEY_END, E_KEY, &flags)
            if q == p or p[0] == 13 or p[0] == 10:
                return fail(e, ER_TAG_KEY, cur, p, p, p + 1, p, p)
            if q >= end or q[0] != 61:
                return fail(e, ER_TAG_EQ, cur, q, q, q + 1, k0, q)
            kid = lookup(s, &s.names, &cache[ntag % NCACHE], p, q, flags, E_KEY)
            if kid < 0:
                if kid == -1:
                    return -1
                fail(e, ER_UTF8, cur, p, p, q, p, q)
                return set_aux(e, 1)
            if kid == s.time_id:
                return fail(e, ER_RESERVED, cur, k0, k0, q, k0, q)
            v0 = q + 1
            q = scan_token(v0, end, C_TAGV_END, E_KEY, &flags)
            if q == v0:
                return fail(e, ER_TAG_VALUE, cur, v0, v0, v0 + 1, k0, v0 - 1)
            vid = lookup(s, &s.tagvals, &cache[NCACHE + ntag % NCACHE], v0, q, flags,
                         E_KEY)
            if vid < 0:
                if vid == -1:
                    return -1
                fail(e, ER_UTF8, cur, v0, v0, q, k0, v0 - 1)
                return set_aux(e, 2)
            it = new_item(s, n)
            if it == NULL:
                return -1
            it.key = kid
            it.kind = K_TAG
            it.val = vid
            it.pos = k0 - cur.base
            it.key_end = v0 - 1 - cur.base
            it.line = cur.line
            n += 1
            ntag += 1
            p = q
            if p >= end or p[0] == 10 or p[0] == 13:
                return fail(e, ER_NO_FIELDS, cur, p, p, p + 1, p, p)
            if p[0] == 44:
                p += 1
                continue
            if p[0] == 32:
                break
            return fail(e, ER_AFTER_TAG, cur, p, p, p + 1, k0, v0 - 1)
    elif p >= end or p[0] == 10 or p[0] == 13:
        return fail(e, ER_NO_FIELDS, cur, p, p, p + 1, p, p)
    elif p[0] != 32:
        return fail(e, ER_AFTER_MEAS, cur, p, p, p + 1, p, p)
    while p < end and p[0] == 32:
        p += 1

    # field set: key=value pairs separated by commas
    while True:
        if p >= end or p[0] == 10 or p[0] == 13:
            return fail(e, ER_NO_FIELDS if nfield == 0 else ER_FIELD_KEY, cur, p, p,
                        p + 1, p, p)
        k0 = p
        q = scan_token(p, end, C_KEY_END, E_KEY, &flags)
        if q == p:
            return fail(e, ER_FIELD_KEY, cur, p, p, p + 1, p, p)
        if q >= end or q[0] != 61:
            return fail(e, ER_FIELD_EQ, cur, q, q, q + 1, k0, q)
        kid = lookup(s, &s.names, &cache[2 * NCACHE + nfield % NCACHE], p, q, flags,
                     E_KEY)
        if kid < 0:
            if kid == -1:
                return -1
            fail(e, ER_UTF8, cur, p, p, q, p, q)
            return set_aux(e, 3)
        if kid == s.time_id:
            return fail(e, ER_RESERVED, cur, k0, k0, q, k0, q)
        it = new_item(s, n)
        if it == NULL:
            return -1
        it.key = kid
        it.pos = k0 - cur.base
        it.key_end = q - cur.base
        it.line = cur.line
        v0 = q + 1
        rc = parse_value(s, cur, e, it, k0, v0, &p)
        if rc != 0:
            return rc
        n += 1
        nfield += 1

        # after a value: another field, or the end of the line, or the timestamp
        if p < end and p[0] == 44:
            p += 1
            continue
        if p < end and p[0] != 32 and p[0] != 10 and p[0] != 13:
            return fail(e, ER_AFTER_FIELD, cur, p, p, p + 1, k0, v0 - 1)
        while p < end and p[0] == 32:
            p += 1
        nitems[0] = n
        if take_eol(cur, p):
            time[0] = default_time
            return 0
        break

    # timestamp: an integer in the request's precision, then the end of the line;
    # digits are summed while scanning, and only long ones take the checked parser
    q = p
    if q < end and q[0] == 45:
        q += 1
    k0 = q
    u = 0
    while q < end and <uint64_t>q[0] - 48 <= 9:
        u = u * 10 + (q[0] - 48)
        q += 1
    if q == k0 or (q < end and q[0] != 32 and q[0] != 10 and q[0] != 13):
        while q < end and q[0] != 32 and q[0] != 10 and q[0] != 13:
            q += 1
        return fail(e, ER_TIME, cur, p, p, q, p, p)
    if q - k0 <= 19:
        if u > (9223372036854775808ULL if k0 != p else 9223372036854775807ULL):
            return fail(e, ER_TIME_RANGE, cur, p, p, q, p, p)
        ts = <int64_t>(0 - u) if k0 != p else <int64_t>u
    elif parse_int(p, q, &ts) != NUM_OK:
        return fail(e, ER_TIME_RANGE, cur, p, p, q, p, p)
    if factor != 1:
        if ts > INT64_MAX / factor or ts < INT64_MIN / factor:
            return fail(e, ER_TIME_RANGE, cur, p, p, q, p, p)
        ts *= factor
    time[0] = ts
    k0 = p
    p = q
    while p < end and p[0] == 32:
        p += 1
    if not take_eol(cur, p):
        q = p
        while q < end and q[0] != 10:
            q += 1
        return fail(e, ER_AFTER_TIME, cur, p, p, q, k0, k0)
    return 0
