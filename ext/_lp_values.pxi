# Included by _lp_line.pxi: the three kinds of field value. A quoted string (which may
# span lines and holds escaped quotes and backslashes), a boolean, or a number whose
# suffix says float (none), int64 (i) or uint64 (u).


cdef inline bint value_end(const uint8_t* p, const uint8_t* end) noexcept nogil:
    return p >= end or CLS[p[0]] & C_VAL_END


cdef int parse_number(State* s, Item* it, const uint8_t* v0, const uint8_t* end,
                      const uint8_t** stop) noexcept nogil:
    """Parse the unquoted numeric value at ``v0`` into ``it``; 0 or an ER_ code.

    One scan reads the float grammar; an ``i`` or ``u`` right after it makes the
    value an integer. ``stop`` receives the end of the value token.
    """
    cdef Decimal d
    cdef const uint8_t* q = scan_decimal(v0, end, &d)
    cdef int rc
    cdef int64_t i = 0
    cdef uint64_t u = 0
    cdef double x = 0.0
    stop[0] = q
    if d.valid and value_end(q, end):
        it.kind = K_FLOAT
        rc = decimal_value(&d, v0, q, &x, &s.numbuf)
        memcpy(&it.val, &x, 8)
        return 0 if rc == NUM_OK else ER_FLOAT_RANGE
    if q < end and (q[0] == 105 or q[0] == 117) and value_end(q + 1, end):
        stop[0] = q + 1
        if q[0] == 105:
            it.kind = K_INT
            rc = parse_int(v0, q, &i)
            it.val = i
            return 0 if rc == NUM_OK else (ER_INT if rc == NUM_SYNTAX else ER_INT_RANGE)
        it.kind = K_UINT
        rc = parse_uint(v0, q, &u)
        it.val = <int64_t>u
        return 0 if rc == NUM_OK else (ER_UINT if rc == NUM_SYNTAX else ER_UINT_RANGE)

    # not a number: the error names the whole token, typed by its last byte
    while not value_end(q, end):
        q += 1
    stop[0] = q
    if q[-1] == 105:
        return ER_INT
    if q[-1] == 117:
        return ER_UINT
    return ER_FLOAT


cdef int parse_string(State* s, Cursor* cur, ErrRec* e, Item* it, const uint8_t* k0,
                      const uint8_t* v0, const uint8_t** after) noexcept nogil:
    """The quoted string at ``v0`` into the line's string scratch."""
    cdef const uint8_t* end = cur.end
    cdef const uint8_t* q = v0 + 1
    cdef const uint8_t* sline_start = cur.line_start
    cdef int64_t sline = cur.line
    cdef uint8_t high = 0
    cdef int escaped = 0

    # find the closing quote; newlines inside still count as lines
    while q < end and q[0] != 34:
        if q[0] == 92 and q + 1 < end and (q[1] == 34 or q[1] == 92):
            escaped = 1
            q += 2
            continue
        if q[0] == 10:
            cur.line += 1
            cur.line_start = q + 1
        high |= q[0]
        q += 1

    # errors point at the opening quote, on the line where it is
    if q >= end:
        fail(e, ER_STRING_OPEN, cur, v0, v0, v0 + 1, k0, v0 - 1)
        e.line = sline
        e.line_start = sline_start - cur.base
        cur.p = end
        return ER_STRING_OPEN
    if high & 0x80 and not utf8_valid(v0 + 1, q - v0 - 1):
        fail(e, ER_UTF8, cur, v0 + 1, v0 + 1, q, k0, v0 - 1)
        e.line = sline
        e.line_start = sline_start - cur.base
        cur.p = q + 1
        return set_aux(e, 4)

    # copy, dropping the escaping backslashes
    if buf_reserve(&s.sbytes, s.sbytes.len + (q - v0)) < 0:
        return -1
    it.kind = K_STRING
    it.val = s.sbytes.len
    if escaped:
        it.slen = unescape(v0 + 1, q, E_STR, s.sbytes.data + s.sbytes.len)
    else:
        it.slen = q - v0 - 1
        memcpy(s.sbytes.data + s.sbytes.len, v0 + 1, it.slen)
    s.sbytes.len += it.slen
    after[0] = q + 1
    return 0


cdef int parse_value(State* s, Cursor* cur, ErrRec* e, Item* it, const uint8_t* k0,
                     const uint8_t* v0, const uint8_t** after) noexcept nogil:
    """The field value at ``v0`` into ``it``; 0, an ER_ code (``e`` filled) or -1.

    ``k0`` is the start of the field key (for messages); ``after`` receives the end
    of the value.
    """
    cdef const uint8_t* end = cur.end
    cdef const uint8_t* q
    cdef uint8_t c = v0[0] if v0 < end else 0
    cdef int rc, b
    if c == 34:
        return parse_string(s, cur, e, it, k0, v0, after)
    if c == 116 or c == 84 or c == 102 or c == 70:
        q = v0
        while not value_end(q, end):
            q += 1
        b = parse_bool(v0, q - v0)
        if b < 0:
            return fail(e, ER_BOOL, cur, v0, v0, q, k0, v0 - 1)
        it.kind = K_BOOL
        it.val = b
        after[0] = q
        return 0
    if c == 45 or c == 46 or 48 <= c <= 57:
        rc = parse_number(s, it, v0, end, &q)
        if rc != 0:
            return fail(e, rc, cur, v0, v0, q, k0, v0 - 1)
        after[0] = q
        return 0
    return fail(e, ER_FIELD_TYPE, cur, v0, v0, v0 + 1, k0, v0 - 1)
