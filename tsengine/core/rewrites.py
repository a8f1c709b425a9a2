"""Which new points of one series meet a point already stored, or each other.

Under the duplicate policies "last" and "first" such a point replaces the stored
one or is dropped; continuous rollups, which add points as written, need to know
(see :mod:`tsengine.rollup.recompute`). Only the merge path asks, before it stores.
"""

from __future__ import annotations

import numpy as np


def meets_stored(buf, times: np.ndarray) -> np.ndarray:
    """True for each of ``times`` equal to a time ``buf`` holds or to another one.

    Parameters
    ----------
    buf : SeriesBuffer
        The series' ring, with its sealed chunks.
    times : numpy.ndarray of int64
        New points' times (ns), in any order.

    Returns
    -------
    numpy.ndarray of bool
    """
    dup = np.zeros(len(times), np.bool_)
    if len(times) > 1:
        order = np.argsort(times, kind="stable")
        same = times[order][1:] == times[order][:-1]
        dup[order[1:][same]] = True
        dup[order[:-1][same]] = True
    lo, hi = int(times.min()), int(times.max())
    if buf.count:
        p = buf.search(buf.head, buf.count, lo)
        q = buf.search(buf.head, buf.count, hi, True)
        if p < q:
            dup |= np.isin(times, buf.copy_range(buf.head, buf.count, p, q)[0])
    for chunk in buf.sealed:
        if chunk.tmax >= lo and chunk.tmin <= hi:
            dup |= np.isin(times, chunk.rows().times)
    return dup
