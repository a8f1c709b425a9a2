"""Lock-free reads: a consistent snapshot of a table, assembled into Arrow.

A read pins the table's committed sequence, takes each ring's state at or before it,
copies the ring region it needs and re-checks the ring's generation (a seqlock). If a
write overwrote the region meanwhile, the read starts again; after a few tries it takes
the write lock for the copy so it cannot starve under a heavy writer.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from tsengine.core.merge import Rows, concat
from tsengine.core.normalize import null_column
from tsengine.core.table import SeriesKey, Table
from tsengine.schema import FIELD_TYPES, TIME_TYPE

_RETRIES = 50
#: Pieces smaller than this many rows on average are concatenated into one batch.
_MIN_BATCH_ROWS = 8192

Selector = Callable[[object, int, int, tuple], list[Rows]]


def snapshot(
    table: Table, keys: list[SeriesKey], select: Selector
) -> list[tuple[SeriesKey, list[Rows]]]:
    """Rows of each series in ``keys`` chosen by ``select`` from one committed state.

    ``select(buf, head, count, sealed)`` returns the rows wanted from a state; it
    must copy ring data (``buf.copy_range``) and may share chunk arrays.
    """
    for _ in range(_RETRIES):
        result = _try_snapshot(table, keys, select)
        if result is not None:
            return result
        _time.sleep(0)
    with table.lock:
        committed = table.committed
        result = _try_snapshot(table, keys, select, committed)
        assert result is not None
        return result


def _try_snapshot(
    table: Table, keys: list[SeriesKey], select: Selector, committed: int | None = None
):
    committed = table.committed if committed is None else committed
    series = table.series
    states = []
    for key in keys:
        buf = series.get(key)
        if buf is None:
            continue
        state = buf.snapshot(committed)
        if state is None:
            return None
        states.append((key, buf, state))
    out = []
    for key, buf, (head, count, sealed, gen) in states:
        if buf.gen != gen:
            return None
        rows = select(buf, head, count, sealed)
        if buf.gen != gen:
            return None
        out.append((key, rows))
    return out


def range_selector(start: int | None, end: int | None) -> Selector:
    """Select the points with ``start <= time < end`` (None: unbounded)."""

    def select(buf, head, count, sealed) -> list[Rows]:
        parts = []
        for chunk in sealed:
            if (end is not None and chunk.tmin >= end) or (
                start is not None and chunk.tmax < start
            ):
                continue
            t = chunk.times()
            lo = (
                0
                if start is None or chunk.tmin >= start
                else int(np.searchsorted(t, start, "left"))
            )
            hi = (
                chunk.n
                if end is None or chunk.tmax < end
                else int(np.searchsorted(t, end, "left"))
            )
            if hi > lo:
                parts.append(chunk.rows().slice(lo, hi))
        lo = 0 if start is None else buf.search(head, count, start)
        hi = count if end is None else buf.search(head, count, end)
        if hi > lo:
            parts.append(Rows(*buf.copy_range(head, count, lo, hi)))
        return parts

    return select


def before_selector(t: int) -> Selector:
    """Select the last point with ``time < t`` (the seed of a fill)."""

    def select(buf, head, count, sealed) -> list[Rows]:
        i = buf.search(head, count, t)
        if i > 0:
            return [Rows(*buf.copy_range(head, count, i - 1, i))]
        for chunk in reversed(sealed):
            if chunk.tmin < t:
                j = int(np.searchsorted(chunk.times(), t, "left"))
                return [chunk.rows().slice(j - 1, j)]
        return []

    return select


def latest_selector(n: int) -> Selector:
    """Select the ``n`` points with the greatest times."""

    def select(buf, head, count, sealed) -> list[Rows]:
        parts = []
        if count:
            parts.append(Rows(*buf.copy_range(head, count, max(0, count - n), count)))
        need = n - min(n, count)
        for chunk in reversed(sealed):
            if need <= 0:
                break
            take = min(need, chunk.n)
            parts.append(chunk.rows().slice(chunk.n - take, chunk.n))
            need -= take
        parts.reverse()
        return parts

    return select


def latest_one(
    table: Table, key: SeriesKey, n: int, fields: list[str]
) -> pa.Table | None:
    """Fast path of ``latest`` for one series whose ``n`` newest points are all in
    its ring; None where the general path is needed."""
    buf = table.series.get(key)
    if buf is None:
        return None
    state = buf.snapshot(table.committed)
    if state is None or state[1] < n or buf.gen != state[3]:
        return None
    head, count, _, gen = state
    times, cols, valids = buf.copy_range(head, count, count - n, count)
    if buf.gen != gen:
        return None
    definition = table.definition
    arrays = [_time_array(times), *table.tag_arrays(key, n)]
    for name in fields:
        i = table.field_index[name]
        arrays.append(field_array(definition.fields[name], cols[i], valids[i]))
    batch = pa.RecordBatch.from_arrays(arrays, schema=table.read_schema(fields))
    return pa.Table.from_batches([batch])


def to_arrow_table(
    table: Table, parts: list[tuple[SeriesKey, list[Rows]]], fields: list[str]
) -> pa.Table:
    """Assemble selected rows into a pyarrow Table.

    One series piece becomes one record batch without copying; many small pieces are
    concatenated first so the result is not a confetti of tiny batches. Tag columns
    are dictionary-encoded strings sharing one dictionary per read.
    """
    definition = table.definition
    schema = definition.arrow_schema(fields)
    index = {name: i for i, name in enumerate(definition.fields)}
    kinds = [definition.fields[f] for f in fields]
    dictionaries, codes = _tag_dictionaries(definition.tags, [k for k, _ in parts])
    pieces = [(g, rows) for g, (_, rows_list) in enumerate(parts) for rows in rows_list]
    total = sum(len(r) for _, r in pieces)
    if not pieces:
        return schema.empty_table()
    if len(pieces) > 1 and total / len(pieces) < _MIN_BATCH_ROWS:
        groups = np.repeat(
            np.array([g for g, _ in pieces], np.int64), [len(r) for _, r in pieces]
        )
        merged = _concat_fields(
            [r for _, r in pieces], [index[f] for f in fields], kinds
        )
        pieces_out = [(groups, merged)]
    else:
        # One zero-copy batch per piece; its tag columns are constant.
        pieces_out = [
            (g, _select_fields(r, [index[f] for f in fields], kinds)) for g, r in pieces
        ]
    constant = _ConstantTags(dictionaries, codes, pieces_out)
    batches = []
    for groups, rows in pieces_out:
        arrays = [_time_array(rows.times)]
        for t in range(len(definition.tags)):
            if isinstance(groups, int):
                arrays.append(constant.column(t, groups, len(rows)))
                continue
            idx = codes[t][groups]
            mask = idx < 0
            arrays.append(
                pa.DictionaryArray.from_arrays(
                    pa.array(idx, mask=mask if mask.any() else None), dictionaries[t]
                )
            )
        for f, kind in enumerate(kinds):
            arrays.append(field_array(kind, rows.cols[f], rows.valids[f]))
        batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


class _ConstantTags:
    """Tag columns of one-series pieces: one dictionary array per series and tag,
    as long as its longest piece, sliced for each piece.

    A series read as many sealed chunks would otherwise build (and validate) a new
    index array per chunk, the main cost of assembling a large read.
    """

    def __init__(self, dictionaries: list, codes: list, pieces: list) -> None:
        self._dictionaries, self._codes = dictionaries, codes
        self._longest: dict[int, int] = {}
        for g, rows in pieces:
            if isinstance(g, int):
                self._longest[g] = max(self._longest.get(g, 0), len(rows))
        self._arrays: dict[tuple[int, int], pa.Array] = {}

    def column(self, t: int, g: int, n: int) -> pa.Array:
        """Tag ``t`` of series ``g`` for a piece of ``n`` rows."""
        arr = self._arrays.get((t, g))
        if arr is None:
            code = int(self._codes[t][g])
            idx = np.full(self._longest[g], code, np.int32)
            mask = np.ones(len(idx), bool) if code < 0 else None  # untagged: null
            # the code indexes the read's own dictionary: no need to validate it
            arr = pa.DictionaryArray.from_arrays(
                pa.array(idx, mask=mask), self._dictionaries[t], safe=False
            )
            self._arrays[(t, g)] = arr
        return arr if n == len(arr) else arr.slice(0, n)


def _tag_dictionaries(tags: list[str], keys: list[SeriesKey]):
    dictionaries, codes = [], []
    for t in range(len(tags)):
        values = sorted({k[t] for k in keys if k[t] is not None})
        lookup = {v: i for i, v in enumerate(values)}
        dictionaries.append(pa.array(values, pa.string()))
        codes.append(np.array([lookup.get(k[t], -1) for k in keys], np.int32))
    return dictionaries, codes


def _select_fields(rows: Rows, idx: list[int], kinds: list[str]) -> Rows:
    cols, valids = [], []
    n = len(rows)
    for i, kind in zip(idx, kinds):
        if i < len(rows.cols):
            cols.append(rows.cols[i])
            valids.append(rows.valids[i])
        else:
            values, valid = null_column(kind, n)
            cols.append(values)
            valids.append(valid)
    return Rows(rows.times, cols, valids)


def _concat_fields(parts: list[Rows], idx: list[int], kinds: list[str]) -> Rows:
    return concat([_select_fields(p, idx, kinds) for p in parts])


def _time_array(times: np.ndarray) -> pa.Array:
    return pa.Array.from_buffers(TIME_TYPE, len(times), [None, pa.py_buffer(times)])


def field_array(kind: str, values: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    """Arrow array of a field column from ring values and a uint8 validity column."""
    n = len(values)
    mask_buf = None
    nulls = 0
    if valid is not None:
        nulls = n - int(np.count_nonzero(valid))
        if nulls:
            mask_buf = pa.py_buffer(np.packbits(valid.astype(bool), bitorder="little"))
    if kind == "string":
        mask = None if not nulls else ~valid.astype(bool)
        return pa.array(values, type=pa.string(), mask=mask)
    if kind == "bool":
        bits = np.packbits(values.astype(bool), bitorder="little")
        return pa.Array.from_buffers(
            pa.bool_(), n, [mask_buf, pa.py_buffer(bits)], null_count=nulls
        )
    return pa.Array.from_buffers(
        FIELD_TYPES[kind], n, [mask_buf, pa.py_buffer(values)], null_count=nulls
    )
