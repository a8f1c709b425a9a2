"""Which new points of one series meet a point already stored, or each other, and
the stored times a range of new points can meet.

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
    dup |= np.isin(times, stored_times(buf, int(times.min()), int(times.max())))
    return dup


def stored_times(buf, lo: int, hi: int) -> np.ndarray:
    """Times (int64 ns) that ``buf`` holds in ``[lo, hi]``, sealed chunks and ring."""
    parts = [
        c.times()[(c.times() >= lo) & (c.times() <= hi)]
        for c in buf.sealed
        if c.tmax >= lo and c.tmin <= hi
    ]
    a = buf.search(buf.head, buf.count, lo)
    b = buf.search(buf.head, buf.count, hi, True)
    parts.append(buf.copy_range(buf.head, buf.count, a, b)[0])
    return np.concatenate(parts)
