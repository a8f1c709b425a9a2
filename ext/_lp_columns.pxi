# Included by _lineproto.pyx: the columns a parse builds, one set per measurement.
#
# A line is first parsed into Items (its tags and fields); ``commit`` then checks the
# whole line against the columns built so far and only when every check passes does it
# give the line a row and write it. A rejected line therefore leaves no trace.
# Column buffers are zero-filled as they grow, so a row a line did not write reads as
# null (validity bit 0) with a zero value underneath.

# column kinds; the values are part of the interface with lineprotocol.py
cdef enum:
    K_TAG = 0
    K_FLOAT = 1
    K_INT = 2
    K_UINT = 3
    K_BOOL = 4
    K_STRING = 5

# results of commit besides 0 (stored)
cdef enum:
    R_NOMEM = -1
    R_DUPLICATE = 1     # the line names a key twice
    R_CONFLICT = 2      # a key's kind differs from the column built before
    R_TOO_BIG = 3       # the tables would outgrow Columns.max_cells


ctypedef struct Item:
    int32_t key         # name id of the tag key or field key
    int32_t kind
    int64_t val         # tag value id, or the value's 8 bytes, or string offset
    int64_t slen        # string length in the line's scratch
    Py_ssize_t pos      # payload offset of the key (for error messages)
    Py_ssize_t key_end
    int64_t line        # line on which the key starts
    int32_t col         # column found by commit's check, -1 if new


ctypedef struct Meas:
    int32_t name
    int32_t ncols
    int64_t first_line
    int64_t rows
    Buf times           # int64 ns per row


ctypedef struct Column:
    int32_t meas
    int32_t key
    int32_t kind
    int64_t first_line
    int64_t nvalid
    int64_t nfill       # strings: offsets[0..nfill] are written
    Buf vals            # 8 bytes per row; int32 ids for tags; bits for booleans
    Buf valid           # validity bits
    Buf offs            # strings: int64 offsets, rows + 1
    Buf sdata           # strings: the bytes


ctypedef struct Columns:
    Buf meas            # Meas[]
    Buf cols            # Column[]
    Buf meas_of_name    # int32 per name id: measurement index + 1, 0 if none
    Buf mark            # int64 per name id: serial of the last line that used it
    int32_t* slots      # open addressing over (meas, key): column index + 1
    Py_ssize_t slot_mask
    int32_t nmeas
    int32_t ncols
    # cells of the dense tables (rows x columns, summed over measurements) and their
    # limit: a small payload naming many keys would otherwise ask for rows x keys
    int64_t cells
    int64_t max_cells


cdef int columns_init(Columns* c) noexcept nogil:
    memset(c, 0, sizeof(Columns))
    c.slot_mask = 255
    c.slots = <int32_t*>malloc(256 * sizeof(int32_t))
    if c.slots == NULL:
        return -1
    memset(c.slots, 0, 256 * sizeof(int32_t))
    return 0


cdef void columns_free(Columns* c) noexcept nogil:
    cdef int32_t i
    cdef Meas* m = <Meas*>c.meas.data
    cdef Column* col = <Column*>c.cols.data
    for i in range(c.nmeas):
        buf_free(&m[i].times)
    for i in range(c.ncols):
        buf_free(&col[i].vals)
        buf_free(&col[i].valid)
        buf_free(&col[i].offs)
        buf_free(&col[i].sdata)
    buf_free(&c.meas)
    buf_free(&c.cols)
    buf_free(&c.meas_of_name)
    buf_free(&c.mark)
    free(c.slots)
    c.slots = NULL


cdef inline Py_ssize_t slot_hash(int32_t meas, int32_t key) noexcept nogil:
    cdef uint64_t h = ((<uint64_t>meas) << 32) | <uint32_t>key
    h *= 0x9E3779B97F4A7C15ULL
    return <Py_ssize_t>(h >> 33)


cdef int32_t find_column(Columns* c, int32_t meas, int32_t key) noexcept nogil:
    """Column index of (meas, key), or -1."""
    cdef Py_ssize_t j = slot_hash(meas, key) & c.slot_mask
    cdef Column* cols = <Column*>c.cols.data
    cdef int32_t s
    while True:
        s = c.slots[j]
        if s == 0:
            return -1
        if cols[s - 1].meas == meas and cols[s - 1].key == key:
            return s - 1
        j = (j + 1) & c.slot_mask


cdef int grow_slots(Columns* c) noexcept nogil:
    cdef Py_ssize_t size = (c.slot_mask + 1) * 2, j
    cdef int32_t i
    cdef int32_t* slots = <int32_t*>malloc(size * sizeof(int32_t))
    cdef Column* cols = <Column*>c.cols.data
    if slots == NULL:
        return -1
    memset(slots, 0, size * sizeof(int32_t))
    for i in range(c.ncols):
        j = slot_hash(cols[i].meas, cols[i].key) & (size - 1)
        while slots[j] != 0:
            j = (j + 1) & (size - 1)
        slots[j] = i + 1
    free(c.slots)
    c.slots = slots
    c.slot_mask = size - 1
    return 0


cdef int32_t add_column(Columns* c, int32_t meas, int32_t key, int32_t kind,
                        int64_t line) noexcept nogil:
    cdef Py_ssize_t j
    cdef Column* col
    if buf_reserve(&c.cols, (c.ncols + 1) * sizeof(Column)) < 0:
        return -1
    col = (<Column*>c.cols.data) + c.ncols
    memset(col, 0, sizeof(Column))
    col.meas = meas
    col.key = key
    col.kind = kind
    col.first_line = line
    if kind == K_STRING and buf_push_i64(&col.offs, 0) < 0:
        return -1
    j = slot_hash(meas, key) & c.slot_mask
    while c.slots[j] != 0:
        j = (j + 1) & c.slot_mask
    c.slots[j] = c.ncols + 1
    c.ncols += 1
    c.cols.len = c.ncols * sizeof(Column)
    if 2 * c.ncols > c.slot_mask and grow_slots(c) < 0:
        return -1
    return c.ncols - 1


cdef int fill_offsets(Column* col, int64_t rows) noexcept nogil:
    """Write string offsets up to row ``rows`` (absent rows are empty strings)."""
    cdef int64_t k
    cdef int64_t* offs
    if buf_reserve(&col.offs, (rows + 1) * 8) < 0:
        return -1
    offs = <int64_t*>col.offs.data
    for k in range(col.nfill + 1, rows + 1):
        offs[k] = col.sdata.len
    if rows > col.nfill:
        col.nfill = rows
    return 0


cdef int write_value(Column* col, int64_t row, Item* it,
                     const uint8_t* sbytes) noexcept nogil:
    cdef int64_t* offs
    if buf_reserve(&col.valid, (row >> 3) + 1) < 0:
        return -1
    col.valid.data[row >> 3] |= <uint8_t>(1 << (row & 7))
    col.nvalid += 1
    if it.kind == K_TAG:
        if buf_reserve(&col.vals, (row + 1) * 4) < 0:
            return -1
        (<int32_t*>col.vals.data)[row] = <int32_t>it.val
    elif it.kind == K_BOOL:
        if buf_reserve(&col.vals, (row >> 3) + 1) < 0:
            return -1
        if it.val:
            col.vals.data[row >> 3] |= <uint8_t>(1 << (row & 7))
    elif it.kind == K_STRING:
        if fill_offsets(col, row) < 0:
            return -1
        if buf_append(&col.sdata, sbytes + it.val, it.slen) < 0:
            return -1
        if buf_reserve(&col.offs, (row + 2) * 8) < 0:
            return -1
        offs = <int64_t*>col.offs.data
        offs[row + 1] = col.sdata.len
        col.nfill = row + 1
    else:
        if buf_reserve(&col.vals, (row + 1) * 8) < 0:
            return -1
        (<int64_t*>col.vals.data)[row] = it.val
    return 0


cdef int commit(Columns* c, int32_t name, int64_t line, int64_t time, Item* items,
                int n, const uint8_t* sbytes, int64_t serial, int32_t names_count,
                int* bad_item, int32_t* bad_col) noexcept nogil:
    """Store one parsed line, or return why not (``bad_item``/``bad_col`` say where)."""
    cdef int i, fresh = 0
    cdef int32_t meas = -1, col, need
    cdef int64_t row, grow
    cdef int64_t* mark
    cdef Meas* m
    cdef Column* cols

    # per-name tables follow the number of names
    need = names_count + 1
    if buf_reserve(&c.meas_of_name, need * 4) < 0 or buf_reserve(&c.mark, need * 8) < 0:
        return R_NOMEM
    mark = <int64_t*>c.mark.data
    meas = (<int32_t*>c.meas_of_name.data)[name] - 1

    # check: each key once per line, and the same kind as the column already built
    for i in range(n):
        if mark[items[i].key] == serial:
            bad_item[0] = i
            return R_DUPLICATE
        mark[items[i].key] = serial
        items[i].col = -1
        if meas >= 0:
            col = find_column(c, meas, items[i].key)
            if col >= 0 and (<Column*>c.cols.data)[col].kind != items[i].kind:
                bad_item[0] = i
                bad_col[0] = col
                return R_CONFLICT
            items[i].col = col
        fresh += items[i].col < 0

    # every column gets a cell in the new row; a new column one in every row
    row = (<Meas*>c.meas.data)[meas].rows if meas >= 0 else 0
    grow = ((<Meas*>c.meas.data)[meas].ncols if meas >= 0 else 0) + fresh * (row + 1)
    if c.cells + grow > c.max_cells:
        return R_TOO_BIG
    c.cells += grow

    # a new measurement gets its index only now that the line is known to be good
    if meas < 0:
        if buf_reserve(&c.meas, (c.nmeas + 1) * sizeof(Meas)) < 0:
            return R_NOMEM
        m = (<Meas*>c.meas.data) + c.nmeas
        memset(m, 0, sizeof(Meas))
        m.name = name
        m.first_line = line
        meas = c.nmeas
        c.nmeas += 1
        (<int32_t*>c.meas_of_name.data)[name] = meas + 1

    # give the line a row, then write the time and every item
    m = (<Meas*>c.meas.data) + meas
    m.ncols += fresh
    if buf_reserve(&m.times, (row + 1) * 8) < 0:
        return R_NOMEM
    (<int64_t*>m.times.data)[row] = time
    m.rows = row + 1
    for i in range(n):
        col = items[i].col
        if col < 0:
            col = add_column(c, meas, items[i].key, items[i].kind, items[i].line)
            if col < 0:
                return R_NOMEM
        cols = <Column*>c.cols.data
        if write_value(&cols[col], row, &items[i], sbytes) < 0:
            return R_NOMEM
    return 0
