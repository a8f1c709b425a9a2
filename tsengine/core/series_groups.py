"""Group the rows of a long-format batch by series, in native code.

Every row gets a dense group number; group ``g`` is one series (one combination of
tag values). A single dictionary-encoded tag -- the common shape of a sensor feed --
takes a fast path: its dictionary indices are the codes, and the series keys and ring
lookups of a dictionary seen before are remembered (see :class:`DictionaryCodes`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tsengine._native._group import (
    combine_codes,
    dense_codes,
    first_rows_and_counts,
    group_rows,
)

if TYPE_CHECKING:
    from tsengine.core.normalize import Batch


class Grouping:
    """Rows of a batch grouped by series.

    ``codes[i]`` (int32 or int64) is the group of row ``i``; group ``g`` has the rows
    ``order[offsets[g]:offsets[g + 1]]`` (arrival order kept) and is the series
    ``keys[g]``. ``order`` is computed only when a slow path asks for it.
    ``dictionary``/``ids`` are set on the dictionary fast path: group ``g`` is entry
    ``ids[g]`` of that :class:`DictionaryCodes`.
    """

    def __init__(
        self,
        codes: np.ndarray,
        offsets: np.ndarray,
        keys: list,
        dictionary: DictionaryCodes | None = None,
        ids: np.ndarray | None = None,
    ) -> None:
        self.codes = codes
        self.offsets = offsets
        self.keys = keys
        self.dictionary = dictionary
        self.ids = ids
        self._order: np.ndarray | None = None

    @property
    def order(self) -> np.ndarray:
        if self._order is None:
            codes = np.asarray(self.codes, dtype=np.int64)
            self._order, _ = group_rows(codes, len(self.keys))
        return self._order


class DictionaryCodes:
    """What a table remembers about the last tag dictionary it grouped by.

    A feed usually sends the same dictionary in every batch; comparing it with the
    last one (in Arrow, no Python per value) spares building one key tuple and one
    dictionary lookup per series on every write.

    Attributes
    ----------
    dictionary : pa.Array
        The tag values, in index order.
    unique : bool
        Whether every value occurs once (otherwise indices are not series codes).
    keys : list of tuple
        Series key of every entry.
    series : dict or None
        The ``Table.series`` mapping ``rings`` was resolved against; the rings are
        valid only while it is still the table's mapping.
    rings : list
        Ring of every entry, None until resolved.
    """

    def __init__(self, dictionary: pa.Array) -> None:
        self.dictionary = dictionary
        self.unique = len(pc.unique(dictionary)) == len(dictionary)
        self.keys = [(v,) for v in dictionary.to_pylist()]
        self.series: dict | None = None
        self.rings: list = [None] * len(dictionary)

    def matches(self, dictionary: pa.Array) -> bool:
        return self.dictionary is dictionary or self.dictionary.equals(dictionary)


def group_batch(
    batch: Batch, tags: list[str], cache: DictionaryCodes | None
) -> tuple[Grouping, DictionaryCodes | None]:
    """Group ``batch`` by the series of ``tags``; returns the grouping and the
    dictionary cache to keep for the next batch."""
    n = len(batch)
    if not tags:
        return Grouping(np.zeros(n, np.int64), np.array([0, n], np.int64), [()]), cache
    if len(tags) == 1:
        arr = batch.tags.get(tags[0])
        if arr is not None and pa.types.is_dictionary(arr.type) and not arr.null_count:
            dictionary = arr.dictionary
            if cache is None or not cache.matches(dictionary):
                cache = DictionaryCodes(dictionary)
            if cache.unique:
                indices = arr.indices.to_numpy(zero_copy_only=False)
                codes, offsets, ids = dense_codes(indices, len(dictionary))
                keys = [cache.keys[i] for i in ids.tolist()]
                return Grouping(codes, offsets, keys, cache, ids), cache
    return _group_general(batch, tags, n), cache


def _group_general(batch: Batch, tags: list[str], n: int) -> Grouping:
    codes = None
    bound = 1
    per_tag = []
    for tag in tags:
        arr = batch.tags.get(tag)
        if arr is None:
            per_tag.append((np.zeros(n, np.int64), np.array([None], object)))
            continue
        idx, values = _tag_codes(arr)
        per_tag.append((idx, values))
        if codes is None:
            codes, bound = idx, len(values)
            continue
        if bound * len(values) > 2**62:
            # Re-number the combinations seen so far so the product stays small.
            codes, bound = _densify(codes, bound)
        codes = combine_codes(codes, idx, len(values))
        bound *= len(values)
    if codes is None:  # every tag absent from the batch: one series
        codes, bound = np.zeros(n, np.int64), 1
    if bound > max(4 * n, 1 << 20):
        codes, bound = _densify(codes, bound)
    first, counts = first_rows_and_counts(codes, bound)
    if (counts == 0).any():
        # Codes that never occur (unused dictionary entries, the null slot):
        # renumber the rest densely, keeping their order.
        present = counts > 0
        remap = np.cumsum(present, dtype=np.int64) - 1
        codes = remap[codes]
        first, counts = first[present], counts[present]
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    columns = [values[idx[first]] for idx, values in per_tag]
    return Grouping(codes, offsets, list(zip(*columns)))


def _densify(codes: np.ndarray, bound: int) -> tuple[np.ndarray, int]:
    """Renumber codes in ``[0, bound)`` to ``[0, distinct)`` keeping their order."""
    if len(codes) == 0:
        return codes, 0
    if bound <= max(4 * len(codes), 1 << 20):
        present = np.zeros(bound, dtype=bool)
        present[codes] = True
        remap = np.cumsum(present, dtype=np.int64) - 1
        return remap[codes], int(remap[-1]) + 1
    enc = pc.dictionary_encode(pa.array(codes))
    return np.asarray(enc.indices, dtype=np.int64), len(enc.dictionary)


def _tag_codes(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Per-row code and the value of each code (last code: null) of a tag column."""
    if not pa.types.is_dictionary(arr.type) or len(pc.unique(arr.dictionary)) != len(
        arr.dictionary
    ):
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        arr = pc.dictionary_encode(arr)
    values = np.array(arr.dictionary.to_pylist() + [None], dtype=object)
    idx = arr.indices
    if idx.null_count:
        idx = idx.fill_null(len(values) - 1)
    return np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int64), values
