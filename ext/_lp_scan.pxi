# Included by _lineproto.pyx: byte classes of the line protocol, token scanners,
# UTF-8 validation and the number parsers. Everything is ``noexcept nogil``.
#
# Each position of a line has its own set of bytes that end a token and its own set
# of bytes a backslash may escape (InfluxDB v2 line protocol reference):
#   measurement   ends at , space or a control byte;  escapes , and space
#   tag key       ends at , = space or a control byte; escapes , = and space
#   tag value     ends at , = space CR LF;             escapes , = and space
#   field key     as tag key
#   string value  ends at an unescaped ";              escapes " and backslash
# A backslash before any other byte is an ordinary character.

from libc.stdlib cimport strtod

# byte classes (bit flags in CLS)
cdef enum:
    C_MEAS_END = 1      # ends a measurement name
    C_KEY_END = 2       # ends a tag key or field key
    C_TAGV_END = 4      # ends a tag value
    C_VAL_END = 8       # ends an unquoted field value
    C_TIME = 16         # may appear in a timestamp
    C_COMMENT = 32      # may appear in a comment

# escapable bytes (bit flags in ESC)
cdef enum:
    E_MEAS = 1
    E_KEY = 2           # tag keys, tag values and field keys
    E_STR = 4

cdef uint8_t CLS[256]
cdef uint8_t ESC[256]


cdef void _init_classes():
    cdef int c
    for c in range(256):
        CLS[c] = 0
        ESC[c] = 0
        if c < 32 or c == 127:
            CLS[c] |= C_MEAS_END | C_KEY_END
        else:
            CLS[c] |= C_COMMENT
        if c in (44, 32):                      # , space
            CLS[c] |= C_MEAS_END | C_KEY_END | C_TAGV_END | C_VAL_END
            ESC[c] |= E_MEAS | E_KEY
        if c == 61:                            # =
            CLS[c] |= C_KEY_END | C_TAGV_END
            ESC[c] |= E_KEY
        if c in (13, 10):                      # CR LF
            CLS[c] |= C_TAGV_END | C_VAL_END
        if c == 45 or 48 <= c <= 57:           # - 0-9
            CLS[c] |= C_TIME
        if c in (34, 92):                      # " backslash
            ESC[c] |= E_STR


_init_classes()


cdef inline const uint8_t* scan_token(const uint8_t* p, const uint8_t* end,
                                      uint8_t stop, uint8_t esc,
                                      int* flags) noexcept nogil:
    """Return the end of the token at ``p``; flags: 1 = has escapes, 2 = non-ASCII."""
    cdef uint8_t c, high = 0
    cdef int escaped = 0
    while p < end:
        c = p[0]
        if c == 92:
            # an escape pair belongs to the token whatever the escaped byte is
            if p + 1 < end and ESC[p[1]] & esc:
                escaped = 1
                p += 2
            else:
                p += 1
            continue
        if CLS[c] & stop:
            break
        high |= c
        p += 1
    flags[0] = escaped | ((high >> 7) << 1)
    return p


cdef inline Py_ssize_t unescape(const uint8_t* p, const uint8_t* end, uint8_t esc,
                                uint8_t* out) noexcept nogil:
    """Copy ``p[:end]`` to ``out`` without the escaping backslashes; return length."""
    cdef Py_ssize_t n = 0
    while p < end:
        if p[0] == 92 and p + 1 < end and ESC[p[1]] & esc:
            p += 1
        out[n] = p[0]
        n += 1
        p += 1
    return n


cdef int utf8_valid(const uint8_t* s, Py_ssize_t n) noexcept nogil:
    """Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF."""
    cdef Py_ssize_t i = 0
    cdef uint8_t c, lo, hi
    cdef int need, k
    while i < n:
        c = s[i]
        if c < 0x80:
            i += 1
            continue
        lo = 0x80
        hi = 0xBF
        if 0xC2 <= c <= 0xDF:
            need = 1
        elif 0xE0 <= c <= 0xEF:
            need = 2
            if c == 0xE0:
                lo = 0xA0
            elif c == 0xED:
                hi = 0x9F
        elif 0xF0 <= c <= 0xF4:
            need = 3
            if c == 0xF0:
                lo = 0x90
            elif c == 0xF4:
                hi = 0x8F
        else:
            return 0
        if i + need >= n:
            return 0
        if not (lo <= s[i + 1] <= hi):
            return 0
        for k in range(2, need + 1):
            if not (0x80 <= s[i + k] <= 0xBF):
                return 0
        i += need + 1
    return 1


# results of the number parsers
cdef enum:
    NUM_OK = 0
    NUM_SYNTAX = 1
    NUM_RANGE = 2

cdef double POW10[23]
cdef int _p
POW10[0] = 1.0
for _p in range(1, 23):
    POW10[_p] = POW10[_p - 1] * 10.0


cdef inline int parse_int(const uint8_t* p, const uint8_t* end,
                          int64_t* out) noexcept nogil:
    """Decimal int64: an optional minus sign and at least one digit."""
    cdef int neg = 0
    cdef uint64_t v = 0, limit, d
    if p < end and p[0] == 45:
        neg = 1
        p += 1
    if p >= end:
        return NUM_SYNTAX
    limit = 9223372036854775808ULL if neg else 9223372036854775807ULL

    # up to 19 digits fit in a uint64, so one comparison checks the range
    if end - p <= 19:
        while p < end:
            d = <uint64_t>p[0] - 48
            if d > 9:
                return NUM_SYNTAX
            v = v * 10 + d
            p += 1
        if v > limit:
            return NUM_RANGE
        out[0] = <int64_t>(0 - v) if neg else <int64_t>v
        return NUM_OK

    # longer (leading zeros, or out of range): check every step
    while p < end:
        d = <uint64_t>p[0] - 48
        if d > 9:
            return NUM_SYNTAX
        if v > (limit - d) // 10:
            # keep checking the syntax so a typo is not reported as a range error
            p += 1
            while p < end:
                if <uint64_t>p[0] - 48 > 9:
                    return NUM_SYNTAX
                p += 1
            return NUM_RANGE
        v = v * 10 + d
        p += 1
    out[0] = <int64_t>(0 - v) if neg else <int64_t>v
    return NUM_OK


cdef inline int parse_uint(const uint8_t* p, const uint8_t* end,
                           uint64_t* out) noexcept nogil:
    """Decimal uint64: at least one digit, no sign."""
    cdef uint64_t v = 0, d
    cdef int status = NUM_OK
    cdef bint short = end - p <= 19
    if p >= end:
        return NUM_SYNTAX
    while p < end:
        d = <uint64_t>p[0] - 48
        if d > 9:
            return NUM_SYNTAX
        if not short and v > (18446744073709551615ULL - d) // 10:
            status = NUM_RANGE
        v = v * 10 + d
        p += 1
    out[0] = v
    return status


ctypedef struct Decimal:
    uint64_t mant       # first 19 significant digits
    int64_t exp10       # value = mant * 10**exp10 (when sig <= 19)
    int sig             # significant digits seen
    int neg
    int valid           # the scanned prefix is a complete float


cdef inline const uint8_t* scan_decimal(const uint8_t* p, const uint8_t* end,
                                        Decimal* d) noexcept nogil:
    """Scan the longest prefix shaped ``-?(d+(.d*)?|.d+)([eE][+-]?d+)?``.

    Returns where the scan stopped; ``d.valid`` says whether the prefix is a float.
    """
    cdef int digits = 0, esign = 1, edigits = 0
    cdef int64_t e = 0
    d.mant = 0
    d.exp10 = 0
    d.sig = 0
    d.neg = 0
    d.valid = 0

    # sign, integer part and fraction, counting significant digits
    if p < end and p[0] == 45:
        d.neg = 1
        p += 1
    while p < end and <unsigned>(p[0] - 48) <= 9:
        digits += 1
        if d.mant or p[0] != 48:
            if d.sig < 19:
                d.mant = d.mant * 10 + (p[0] - 48)
            else:
                d.exp10 += 1
            d.sig += 1
        p += 1
    if p < end and p[0] == 46:
        p += 1
        while p < end and <unsigned>(p[0] - 48) <= 9:
            digits += 1
            if d.mant or p[0] != 48:
                if d.sig < 19:
                    d.mant = d.mant * 10 + (p[0] - 48)
                    d.exp10 -= 1
                d.sig += 1
            else:
                d.exp10 -= 1
            p += 1
    if digits == 0:
        return p

    # exponent
    if p < end and (p[0] == 101 or p[0] == 69):
        p += 1
        if p < end and (p[0] == 43 or p[0] == 45):
            esign = -1 if p[0] == 45 else 1
            p += 1
        while p < end and <unsigned>(p[0] - 48) <= 9:
            if e < 100000:
                e = e * 10 + (p[0] - 48)
            edigits += 1
            p += 1
        if edigits == 0:
            return p
    d.exp10 += esign * e
    d.valid = 1
    return p


cdef int decimal_value(Decimal* d, const uint8_t* start, const uint8_t* stop,
                       double* out, Buf* scratch) noexcept nogil:
    """Correctly rounded float64 of a scanned decimal; NUM_RANGE if it overflows.

    At most 19 significant digits with a small decimal exponent take the exact fast
    path (both operands exact in a double, so a single rounding); the rest go through
    the C library's ``strtod``, which rounds correctly too.
    """
    cdef double v
    cdef char* end
    if d.mant == 0:
        v = 0.0
    elif d.sig <= 19 and d.mant <= 9007199254740992ULL and -22 <= d.exp10 <= 22:
        v = <double>d.mant
        v = v * POW10[d.exp10] if d.exp10 >= 0 else v / POW10[-d.exp10]
    else:
        if buf_reserve(scratch, (stop - start) + 1) < 0:
            return NUM_RANGE
        memcpy(scratch.data, start, stop - start)
        scratch.data[stop - start] = 0
        v = strtod(<char*>scratch.data, &end)
        if v > 1.7976931348623157e308 or v < -1.7976931348623157e308:
            return NUM_RANGE
        out[0] = v
        return NUM_OK
    out[0] = -v if d.neg else v
    return NUM_OK


cdef inline int parse_bool(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    """1 or 0 for the ten spellings the format allows, -1 for anything else."""
    if n == 1:
        if p[0] == 116 or p[0] == 84:
            return 1
        if p[0] == 102 or p[0] == 70:
            return 0
        return -1
    if n == 4 and (memcmp(p, b"true", 4) == 0 or memcmp(p, b"True", 4) == 0
                   or memcmp(p, b"TRUE", 4) == 0):
        return 1
    if n == 5 and (memcmp(p, b"false", 5) == 0 or memcmp(p, b"False", 5) == 0
                   or memcmp(p, b"FALSE", 5) == 0):
        return 0
    return -1
