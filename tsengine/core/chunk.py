"""Sealed chunks: immutable, time-sorted runs of one series that left the hot ring.

A chunk keeps its columns as plain arrays. It never changes after construction, so
readers may hold and slice it without any lock.
"""

from __future__ import annotations

import numpy as np

from tsengine.core.merge import Rows


class SealedChunk:
    """An immutable run of points of one series, sorted by time.

    Parameters
    ----------
    rows : Rows
        The points; the chunk takes ownership of the arrays.
    kinds : list of str
        Field type names in column order (the table's fields when sealed).
    """

    __slots__ = ("_rows", "kinds", "n", "tmin", "tmax")

    def __init__(self, rows: Rows, kinds: list[str]) -> None:
        self._rows = rows
        self.kinds = list(kinds)
        self.n = len(rows)
        self.tmin = int(rows.times[0]) if self.n else 0
        self.tmax = int(rows.times[-1]) if self.n else 0

    def rows(self) -> Rows:
        """The chunk's points (shared, read-only arrays: copy before changing)."""
        return self._rows

    def times(self) -> np.ndarray:
        """Time column, int64 ns."""
        return self._rows.times

    @property
    def nbytes(self) -> int:
        """Bytes held in memory by the chunk's arrays."""
        r = self._rows
        total = r.times.nbytes + sum(c.nbytes for c in r.cols)
        return total + sum(v.nbytes for v in r.valids if v is not None)

    @property
    def raw_nbytes(self) -> int:
        """Bytes the points take uncompressed (8 per time and numeric value)."""
        return self.nbytes

    def __repr__(self) -> str:
        return f"SealedChunk(n={self.n}, tmin={self.tmin}, tmax={self.tmax})"


def seal(rows: Rows, kinds: list[str]) -> SealedChunk:
    """Seal ``rows`` (copies owned by the caller) into an immutable chunk."""
    for arr in [rows.times, *rows.cols, *(v for v in rows.valids if v is not None)]:
        arr.flags.writeable = False
    return SealedChunk(rows, kinds)
