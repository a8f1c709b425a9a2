# cython: language_level=3, cdivision=True, initializedcheck=False
"""InfluxDB line protocol parser: payload bytes to column buffers per measurement.

Private layer behind :mod:`tsengine.ingest.lineprotocol`, which validates arguments,
builds Arrow tables from the buffers and turns error records into exceptions. One
``LineParser`` parses one payload (or one chunk of a file): the whole scan runs with the
GIL released, line by line, and writes straight into growable column buffers, so no
Python object is made per line. The syntax follows the reference decoder of the
InfluxDB v2 line protocol; see ``lineprotocol.py`` for the rules and the deviations.
"""

from libc.string cimport memchr

include "_lp_memory.pxi"
include "_lp_scan.pxi"
include "_lp_columns.pxi"
include "_lp_line.pxi"


cdef class LineParser:
    """State of one parse: interned names, tag values, columns and error records."""

    cdef State st
    cdef Buf errs           # ErrRec[]
    cdef int32_t nerrs
    cdef int64_t serial
    cdef bint used
    cdef readonly int64_t points
    cdef readonly Py_ssize_t consumed
    cdef readonly int64_t end_line

    def __cinit__(self):
        memset(&self.st, 0, sizeof(State))
        if (intern_init(&self.st.names) < 0 or intern_init(&self.st.tagvals) < 0
                or columns_init(&self.st.cols) < 0):
            raise MemoryError("cannot allocate line protocol parser tables")
        # "time" gets a known id: it names the time column, so no key may use it
        self.st.time_id = intern(&self.st.names, <const uint8_t*>b"time", 4)

    def __dealloc__(self):
        intern_free(&self.st.names)
        intern_free(&self.st.tagvals)
        columns_free(&self.st.cols)
        buf_free(&self.st.items)
        buf_free(&self.st.sbytes)
        buf_free(&self.st.tmp)
        buf_free(&self.st.numbuf)
        buf_free(&self.errs)

    def parse(self, const uint8_t[::1] payload, int64_t factor, int64_t default_time,
              bint skip, int64_t first_line, bint final, Py_ssize_t start,
              int64_t max_cells):
        """Parse ``payload[start:]`` (a chunk stops before a line cut at its end).

        ``factor`` is nanoseconds per timestamp unit and ``default_time`` the time
        (ns) of lines without one. With ``skip`` false the parse stops at the first
        bad line. The parse stops with ER_TOO_BIG before the tables would exceed
        ``max_cells`` cells. Read the results with the other methods. Releases the GIL.
        """
        cdef const uint8_t* buf = <const uint8_t*>b""
        cdef Py_ssize_t n = payload.shape[0]
        cdef int rc
        if self.used:
            raise RuntimeError("a LineParser parses one payload only")
        self.used = True
        if n > 0:
            buf = &payload[0]
        self.st.cols.max_cells = max_cells
        with nogil:
            rc = self._run(buf, n, start, factor, default_time, skip, first_line, final)
        if rc < 0:
            raise MemoryError("out of memory while parsing line protocol")

    cdef int _run(self, const uint8_t* buf, Py_ssize_t n, Py_ssize_t start,
                  int64_t factor, int64_t default_time, int skip, int64_t first_line,
                  int final) noexcept nogil:
        cdef Cursor cur
        cdef ErrRec e
        cdef const uint8_t* end = buf + n
        cdef const uint8_t* mark
        cdef const uint8_t* nl
        cdef const uint8_t* lstart = buf
        cdef int32_t bad_col = -1
        cdef int64_t mark_line, line0
        cdef int rc, bad_item = 0, nitems = 0
        cdef int64_t t = 0
        cdef Item* it

        cur.base = buf
        cur.p = buf + start
        cur.end = end
        cur.line_start = buf + start    # a byte-order mark is not part of line 1
        cur.line = first_line
        cur.nl = 0
        while True:
            # every pass starts at a line boundary: remember it for a deferred line
            mark = cur.p
            mark_line = cur.line
            rc = skip_blank(&cur, &e)
            if rc == 0:
                if cur.p >= end:
                    # a comment or blanks cut by the end of a chunk: leave them
                    if not final:
                        cur.p = cur.line_start
                    break
                line0 = cur.line
                lstart = cur.p
                rc = parse_line(&self.st, &cur, &e, factor, default_time, &t, &nitems)
            if rc < 0:
                return -1
            if rc == 0:
                # a good line that runs into the end of a chunk may be cut short
                if not final and not cur.nl:
                    cur.p = mark
                    cur.line = mark_line
                    break
                self.serial += 1
                rc = commit(&self.st.cols, self.st.mname, line0, t,
                            <Item*>self.st.items.data, nitems, self.st.sbytes.data,
                            self.serial, self.st.names.count, &bad_item, &bad_col)
                if rc == R_NOMEM:
                    return -1
                if rc == R_TOO_BIG:
                    fail(&e, ER_TOO_BIG, &cur, lstart, lstart, lstart, lstart, lstart)
                    e.line = line0
                    e.line_start = line_start_of(buf, lstart - buf, start)
                    if self._record(&e) < 0:
                        return -1
                    break
                if rc == 0:
                    self.points += 1
                    continue
                it = (<Item*>self.st.items.data) + bad_item
                e.code = ER_DUPLICATE if rc == R_DUPLICATE else ER_CONFLICT
                e.line = it.line
                e.line_start = line_start_of(buf, it.pos, start)
                e.pos = it.pos
                e.tok0 = it.pos
                e.tok1 = it.key_end
                e.key0 = it.pos
                e.key1 = it.key_end
                e.aux = bad_col
                e.aux2 = it.kind
                if self._record(&e) < 0:
                    return -1
                if not skip:
                    break
                continue

            # a syntax error: the bad line ends at the next newline after the error
            nl = NULL
            if cur.p < end:
                nl = <const uint8_t*>memchr(cur.p, 10, end - cur.p)
            if nl == NULL and not final:
                cur.p = mark
                cur.line = mark_line
                break
            if self._record(&e) < 0:
                return -1
            if not skip:
                break
            if nl == NULL:
                cur.p = end
                break
            cur.p = nl + 1
            cur.line += 1
            cur.line_start = cur.p

        self.consumed = cur.p - buf if cur.p < end else n
        self.end_line = cur.line
        return 0

    cdef int _record(self, ErrRec* e) noexcept nogil:
        if buf_append(&self.errs, e, sizeof(ErrRec)) < 0:
            return -1
        self.nerrs += 1
        return 0

    # -- results, each taken once ---------------------------------------------------

    def name(self, int32_t i):
        """The name (measurement, tag key or field key) with id ``i``, as bytes."""
        cdef int64_t* offs = <int64_t*>self.st.names.offsets.data
        if not 0 <= i < self.st.names.count:
            raise IndexError(i)
        return (<char*>self.st.names.bytes.data)[offs[i]:offs[i + 1]]

    def column_info(self, int32_t i):
        """(measurement name, key, kind, first line) of column ``i``."""
        cdef Column* col = (<Column*>self.st.cols.cols.data) + i
        cdef Meas* m = (<Meas*>self.st.cols.meas.data) + col.meas
        return self.name(m.name), self.name(col.key), col.kind, col.first_line

    def errors(self):
        """[(code, line, line_start, pos, tok0, tok1, key0, key1, aux, aux2)]."""
        cdef ErrRec* e = <ErrRec*>self.errs.data
        return [(e[i].code, e[i].line, e[i].line_start, e[i].pos, e[i].tok0,
                 e[i].tok1, e[i].key0, e[i].key1, e[i].aux, e[i].aux2)
                for i in range(self.nerrs)]

    def measurements(self):
        """[(name, rows, int64 ns times)] in order of first appearance."""
        cdef Meas* m
        cdef int32_t i
        out = []
        for i in range(self.st.cols.nmeas):
            m = (<Meas*>self.st.cols.meas.data) + i
            out.append((self.name(m.name), m.rows, take_buffer(&m.times, m.rows * 8)))
        return out

    def columns(self):
        """[(measurement index, key, kind, null count, values, validity, offsets,
        data)] in order of first appearance; buffers the kind does not use are None.
        """
        cdef Column* col
        cdef int64_t rows
        cdef int32_t i
        out = []
        for i in range(self.st.cols.ncols):
            col = (<Column*>self.st.cols.cols.data) + i
            rows = (<Meas*>self.st.cols.meas.data)[col.meas].rows
            valid = None
            if col.nvalid < rows:
                valid = take_buffer(&col.valid, (rows + 7) // 8)
            values = offsets = data = None
            if col.kind == K_STRING:
                if fill_offsets(col, rows) < 0:
                    raise MemoryError("out of memory while finishing string columns")
                offsets = take_buffer(&col.offs, (rows + 1) * 8)
                data = take_buffer(&col.sdata, col.sdata.len)
            elif col.kind == K_TAG:
                values = take_buffer(&col.vals, rows * 4)
            elif col.kind == K_BOOL:
                values = take_buffer(&col.vals, (rows + 7) // 8)
            else:
                values = take_buffer(&col.vals, rows * 8)
            out.append((col.meas, self.name(col.key), col.kind, rows - col.nvalid,
                        values, valid, offsets, data))
        return out

    def tag_dictionary(self):
        """(count, int64 offsets, bytes) of every distinct tag value, by id."""
        cdef int32_t count = self.st.tagvals.count
        return (count, take_buffer(&self.st.tagvals.offsets, (count + 1) * 8),
                take_buffer(&self.st.tagvals.bytes, self.st.tagvals.bytes.len))
