"""Group numbers for rollup rows: one number per distinct ``by`` tag tuple, for life.

A rollup keeps state per group across batches, so a group's number must not change
when new groups appear. Each batch's tag columns are dictionary-encoded (Arrow does it
in native code, or the writer already sent dictionary arrays), and only the distinct
tuples of a batch -- a few hundred, not one per row -- go through a Python dict.

Groups are *ranked* like query output: ascending tag values, nulls last (code-point
order, as the engine sorts series keys).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tsengine.core.normalize import one_array

# Presence tables up to this size are cheaper than sorting the combined codes
_DENSE_LIMIT = 1 << 22


def sort_key(key: tuple) -> tuple:
    """Order of tag tuples: ascending values, None (null) after every value."""
    return tuple((v is None, v or "") for v in key)


def column(data: pa.Table, name: str) -> pa.Array:
    """One array for a column, without a copy when it has a single chunk."""
    return one_array(data.column(name))


def _encoded(data: pa.Table, name: str) -> pa.DictionaryArray | None:
    """A tag column as a dictionary array (None when the batch lacks it)."""
    if name not in data.column_names:
        return None
    arr = column(data, name)
    return arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr)


def _indices(arr: pa.DictionaryArray | None, n: int, null_code: int) -> np.ndarray:
    """Per-row dictionary index, ``null_code`` for null (zero-copy when possible)."""
    if arr is None:
        return np.full(n, null_code, np.int64)
    idx = arr.indices
    if idx.null_count:
        idx = idx.fill_null(null_code)
    return idx.to_numpy(zero_copy_only=False)


def _column_codes(data: pa.Table, name: str) -> tuple[np.ndarray, list]:
    """Per-row code of a tag column and the value of each code.

    The last code stands for null (and for a column the batch lacks).
    """
    arr = _encoded(data, name)
    values = ([] if arr is None else arr.dictionary.to_pylist()) + [None]
    codes = _indices(arr, data.num_rows, len(values) - 1)
    return codes.astype(np.int64, copy=False), values


def tuple_codes(data: pa.Table, names: list[str]) -> tuple[np.ndarray, list[tuple]]:
    """Dense code per row for the tuple of columns ``names``, and each code's tuple.

    Codes are only meaningful within this batch.
    """
    n = data.num_rows
    if not names:
        return np.zeros(n, np.int64), [()]

    # First column: its dictionary is the list of 1-tuples
    codes, values = _column_codes(data, names[0])
    tuples = [(v,) for v in values]

    # Each further column: combine, then renumber the combinations that occur
    for name in names[1:]:
        col_codes, values = _column_codes(data, name)
        size = len(values)
        codes, combos = _dense(codes * size + col_codes, len(tuples) * size)
        tuples = [tuples[c // size] + (values[c % size],) for c in combos.tolist()]
    return codes, tuples


def _dense(codes: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes in ``[0, bound)`` renumbered to ``[0, distinct)`` in ascending order,
    and the original code of each new number."""
    if bound <= max(4 * codes.size, _DENSE_LIMIT):
        present = np.zeros(bound, np.bool_)
        present[codes] = True
        combos = np.flatnonzero(present)
        lut = np.zeros(bound, np.int64)
        lut[combos] = np.arange(combos.size)
        return lut[codes], combos
    combos, dense = np.unique(codes, return_inverse=True)
    return dense.astype(np.int64), combos


class GroupIndex:
    """Stable group numbers of ``by`` tuples.

    Parameters
    ----------
    by : list of str
        The rollup's group-by tags (may be empty: one group).
    """

    def __init__(self, by: list[str]) -> None:
        self.by = list(by)
        self.keys: list[tuple] = []
        self._ids: dict[tuple, int] = {}
        self._rank: np.ndarray | None = None
        self._columns: list[pa.Array] | None = None
        # (dictionary, lut, tuples) of the last one-tag batch; lut fills in place
        self._last: tuple | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, tuples: list[tuple]) -> np.ndarray:
        """Group number of each tuple, -1 for tuples not numbered yet."""
        get = self._ids.get
        return np.array([get(key, -1) for key in tuples], dtype=np.int64)

    def batch(self, data: pa.Table) -> tuple[np.ndarray, np.ndarray, list[tuple]]:
        """``(codes, lut, tuples)`` of a batch: row ``i`` is in group
        ``lut[codes[i]]`` (-1: not numbered yet, see :meth:`add`), whose tags are
        ``tuples[codes[i]]``.

        With one ``by`` tag whose dictionary equals the previous batch's (a writer
        sending the same assets again), the previous ``lut`` is reused: nothing is
        looked up per batch.
        """
        if len(self.by) != 1:
            codes, tuples = tuple_codes(data, self.by)
            return codes, self.lookup(tuples), tuples
        arr = _encoded(data, self.by[0])
        dictionary = None if arr is None else arr.dictionary
        cached = self._last
        if (
            cached is None
            or dictionary is None
            or cached[0] is None
            or not dictionary.equals(cached[0])
        ):
            values = ([] if arr is None else dictionary.to_pylist()) + [None]
            tuples = [(v,) for v in values]
            cached = self._last = (dictionary, self.lookup(tuples), tuples)
        lut, tuples = cached[1], cached[2]
        return _indices(arr, data.num_rows, len(tuples) - 1), lut, tuples

    def add(self, key: tuple) -> int:
        """Number a new group (or return the number of a known one)."""
        gid = self._ids.get(key)
        if gid is None:
            gid = self._ids[key] = len(self.keys)
            self.keys.append(key)
            self._rank = self._columns = None
        return gid

    def ids(self, data: pa.Table) -> np.ndarray:
        """Group number of every row of ``data`` (int64), adding new groups."""
        codes, tuples = tuple_codes(data, self.by)
        lut = self.lookup(tuples)
        # Only tuples that occur become groups (dictionaries may hold unused values)
        for j in np.flatnonzero(np.bincount(codes, minlength=len(tuples))).tolist():
            if lut[j] < 0:
                lut[j] = self.add(tuples[j])
        return lut[codes]

    def rank(self) -> np.ndarray:
        """Rank of every group in output order (ascending tags, nulls last)."""
        if self._rank is None or self._rank.size != len(self.keys):
            order = sorted(range(len(self.keys)), key=lambda g: sort_key(self.keys[g]))
            rank = np.empty(len(self.keys), np.int64)
            rank[order] = np.arange(len(order))
            self._rank = rank
        return self._rank

    def column(self, j: int) -> pa.Array:
        """Values of ``by[j]`` for every group number (string, nulls allowed)."""
        if self._columns is None or len(self._columns[0]) != len(self.keys):
            self._columns = [
                pa.array([k[c] for k in self.keys], pa.string())
                for c in range(len(self.by))
            ]
        return self._columns[j]


def series_rank(data: pa.Table, tags: list[str]) -> np.ndarray:
    """Rank of each row's series (full tag tuple) among the batch's series, in the
    engine's series order -- the order in which a read hands rows to a query, which
    decides ties in time between series of one group."""
    codes, tuples = tuple_codes(data, tags)
    order = sorted(range(len(tuples)), key=lambda c: sort_key(tuples[c]))
    rank = np.empty(len(tuples), np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes]
