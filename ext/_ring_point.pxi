# Included by _ring.pyx: the single-point write path of tsengine.Series (one point
# into one ring, and the PointWriter base class that calls it), kept in native
# code because a Python-level append costs more than the point itself.


cdef bint _append_point(SeriesBuffer buf, long long t, PyObject** values) except -1:
    """Append one point if it is in order and fits; return whether it did.

    ``values`` holds one borrowed Python value per field, NULL or None for
    null. Nothing is changed when False is returned or when a value has the
    wrong type.
    """
    cdef Py_ssize_t f, pos
    cdef object v
    cdef int kind
    if buf.count >= buf.capacity:
        return False
    if not buf.empty and (t < buf.last_time or
                          (t == buf.last_time and not buf.allow_equal)):
        return False
    # Check every value before writing any, so a bad one changes nothing.
    for f in range(buf.nfields):
        if values[f] != NULL and values[f] != <PyObject*> None:
            _check_value(buf.kinds[f], <object> values[f])
    pos = (buf.head + buf.count) % buf.capacity
    for f in range(buf.nfields):
        if values[f] == NULL or values[f] == <PyObject*> None:
            buf._set_valid(f, pos, False)
            continue
        v = <object> values[f]
        if buf.vptr[f] != NULL:
            buf.vptr[f][pos] = 1
        kind = buf.kinds[f]
        if kind == K_F8:
            (<double*> buf.dptr[f])[pos] = <double> v
        elif kind == K_I8:
            (<int64_t*> buf.dptr[f])[pos] = <int64_t> v
        elif kind == K_U8:
            (<uint64_t*> buf.dptr[f])[pos] = <uint64_t> v
        elif kind == K_B1:
            (<uint8_t*> buf.dptr[f])[pos] = 1 if v else 0
        else:
            buf.cols[f][pos] = v
    buf.tp[pos] = t
    buf.count += 1
    buf.last_time = t
    buf.empty = False
    return True


cdef class PointWriter:
    """Base of :class:`tsengine.Series`: appends one point straight into the ring.

    The subclass sets ``_table`` (core Table), ``_key``, ``_index`` (field name to
    column) and ``_nfields``, and defines ``_append_slow(time, values, fields)``
    for every case this path declines: a time that is not an int, an engine that
    logs or notifies, an out-of-order or duplicate point, a full ring, a series
    that does not exist yet.
    """

    cdef public object _table
    cdef public tuple _key
    cdef public dict _index
    cdef public Py_ssize_t _nfields
    cdef SeriesBuffer _buf
    cdef CommitClock _clock
    cdef object _acquire, _release

    def append(self, time, *values, **fields):
        """Store one point; see :class:`tsengine.Series`."""
        cdef long long t
        cdef Py_ssize_t i, f
        cdef SeriesBuffer buf
        cdef bint stored
        # Borrowed references: ``values`` and ``fields`` keep them alive for the
        # call. A C array, not a list, so a point allocates no container the
        # cyclic garbage collector would have to visit.
        cdef PyObject* row[64]
        if self._clock is None:
            self._clock = self._table.clock
            self._acquire = self._table.lock.acquire
            self._release = self._table.lock.release
        if (type(time) is not int or not self._clock.fast_ok
                or len(values) > self._nfields or self._nfields > 64):
            return self._append_slow(time, values, fields)
        try:
            t = time
        except OverflowError:
            return self._append_slow(time, values, fields)
        for i in range(self._nfields):
            row[i] = NULL
        for i in range(len(values)):
            row[i] = <PyObject*> values[i]
        if fields:
            for name, v in fields.items():
                index = self._index.get(name)
                if index is None:
                    return self._append_slow(time, values, fields)
                f = index
                if not 0 <= f < self._nfields:
                    return self._append_slow(time, values, fields)
                row[f] = <PyObject*> v
        buf = self._buf
        if buf is None:
            buf = self._table.series.get(self._key)
            if buf is None:
                return self._append_slow(time, values, fields)
            self._buf = buf
        self._acquire()
        try:
            # fast_ok again under the lock: close() and drop_table() clear it there
            stored = (self._clock.fast_ok and buf.nfields == self._nfields
                      and _append_point(buf, t, row))
            if stored:
                self._clock.commit(buf)
        finally:
            self._release()
        if not stored:
            return self._append_slow(time, values, fields)
