"""One table in memory: its series rings, the write path and the commit clock.

Writers hold ``Table.lock`` for a whole write; they validate everything first, then
store, then publish every touched ring under one new commit sequence. Readers take no
lock (see :mod:`tsengine.core.reader`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tsengine._native._group import combine_codes, group_rows, is_sorted
from tsengine._native._ring import SeriesBuffer, scatter_in_order
from tsengine.core import merge as mg
from tsengine.core.chunk import SealedChunk, seal
from tsengine.core.merge import Rows
from tsengine.core.normalize import Batch, null_column
from tsengine.schema import TableDef

SeriesKey = tuple


class Table:
    """In-memory state of one table.

    Parameters
    ----------
    definition : TableDef
        Tags, fields and policies.
    on_seal : callable, optional
        Called as ``on_seal(table, key, chunk)`` for every chunk sealed, under the
        write lock (the storage tier persists it).
    """

    def __init__(
        self,
        definition: TableDef,
        on_seal: Callable[[str, SeriesKey, SealedChunk], None] | None = None,
    ):
        self.definition = definition
        self.lock = threading.RLock()
        self.series: dict[SeriesKey, SeriesBuffer] = {}
        self.committed = -1
        self._next_seq = 0
        self._on_seal = on_seal
        self.sealed_points = 0

    # -- schema ----------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.definition.name

    def field_names(self) -> list[str]:
        return list(self.definition.fields)

    def kinds(self) -> list[str]:
        return list(self.definition.fields.values())

    def add_columns(self, tags: list[str], fields: dict[str, str]) -> None:
        """Grow the schema (under the write lock): new tags are null for existing
        series, new fields null for existing points."""
        if tags:
            pad = (None,) * len(tags)
            self.definition.tags = [*self.definition.tags, *tags]
            self.series = {key + pad: buf for key, buf in self.series.items()}
            for key, buf in self.series.items():
                buf.key = key
        for name, kind in fields.items():
            self.definition.fields[name] = kind
            for buf in self.series.values():
                buf.add_field(kind)

    # -- write path ------------------------------------------------------------

    def group(self, batch: Batch) -> tuple[np.ndarray, np.ndarray, list[SeriesKey]]:
        """Group rows by series in native code.

        Returns ``(order, offsets, keys)``: group ``g`` is the rows
        ``order[offsets[g]:offsets[g + 1]]`` (arrival order kept) of series
        ``keys[g]``.
        """
        n = len(batch)
        if not self.definition.tags:
            return np.arange(n, dtype=np.int64), np.array([0, n], np.int64), [()]
        codes = np.zeros(n, dtype=np.int64)
        bound = 1
        per_tag = []
        for tag in self.definition.tags:
            arr = batch.tags.get(tag)
            if arr is None:
                per_tag.append((np.zeros(n, np.int64), np.array([None], object)))
                continue
            enc = pc.dictionary_encode(arr)
            values = np.array(enc.dictionary.to_pylist() + [None], dtype=object)
            idx = enc.indices.fill_null(len(values) - 1)
            idx = np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int64)
            if bound * len(values) > 2**62:
                # Re-number the combinations seen so far so the product stays small.
                codes = _densify(codes)
                bound = int(codes.max()) + 1 if n else 1
            codes = combine_codes(codes, idx, len(values))
            bound *= len(values)
            per_tag.append((idx, values))
        dense = _densify(codes)
        ngroups = int(dense.max()) + 1 if n else 0
        order, offsets = group_rows(dense, ngroups)
        first_rows = order[offsets[:-1]]
        columns = [values[idx[first_rows]] for idx, values in per_tag]
        keys = list(zip(*columns)) if columns else []
        return order, offsets, keys

    def buffer_for(self, key: SeriesKey, create: bool = True) -> SeriesBuffer | None:
        """The ring of a series, created (copy-on-write of the index) if missing."""
        buf = self.series.get(key)
        if buf is None and create:
            buf = SeriesBuffer(
                self.definition.ring_capacity,
                self.kinds(),
                self.definition.duplicates == "keep",
            )
            buf.key = key
            series = dict(self.series)
            series[key] = buf
            self.series = series
        return buf

    def check_duplicates(
        self,
        batch: Batch,
        order: np.ndarray,
        offsets: np.ndarray,
        keys: list[SeriesKey],
    ) -> None:
        """For the "reject" policy: raise before anything is stored."""
        times = batch.times[order]
        for g, key in enumerate(keys):
            t = times[offsets[g] : offsets[g + 1]]
            buf = self.series.get(key)
            existing = np.empty(0, np.int64)
            if buf is not None and not buf.empty and len(t):
                existing = self._existing_times(buf, int(t.min()), int(t.max()))
            mg.reject_duplicates(t, existing, self.describe_key(key))

    def _existing_times(self, buf: SeriesBuffer, lo: int, hi: int) -> np.ndarray:
        parts = [
            c.times()[(c.times() >= lo) & (c.times() <= hi)]
            for c in buf.sealed
            if c.tmax >= lo and c.tmin <= hi
        ]
        a = buf.search(buf.head, buf.count, lo)
        b = buf.search(buf.head, buf.count, hi, True)
        parts.append(buf.copy_range(buf.head, buf.count, a, b)[0])
        return np.concatenate(parts)

    def prepare(self, batch: Batch) -> tuple[np.ndarray, np.ndarray, list[SeriesKey]]:
        """Group a batch by series and run every check that could refuse it.

        Nothing is stored; the result is handed to :meth:`apply`.
        """
        grouping = self.group(batch)
        if self.definition.duplicates == "reject":
            self.check_duplicates(batch, *grouping)
        return grouping

    def apply(self, batch: Batch, grouping) -> list[SeriesBuffer]:
        """Store a prepared batch (caller holds the lock); return touched rings.

        Groups that arrive in order and fit go straight into their rings in one
        native call; the rest take the merge path.
        """
        order, offsets, keys = grouping
        buffers = [self.buffer_for(k) for k in keys]
        rows = self._gather(batch, order)
        slow = scatter_in_order(buffers, offsets, rows.times, rows.cols, rows.valids)
        for g in slow:
            self.write_rows(
                buffers[g], rows.slice(int(offsets[g]), int(offsets[g + 1]))
            )
        return buffers

    def _gather(self, batch: Batch, order: np.ndarray) -> Rows:
        """Columns of the batch in the table's field order, rows in group order."""
        identity = len(order) == 0 or (
            order[0] == 0 and is_sorted(order) and order[-1] == len(order) - 1
        )
        take = (lambda a: a) if identity else (lambda a: a[order])
        n = len(batch)
        cols, valids = [], []
        for name, kind in self.definition.fields.items():
            col = batch.fields.get(name)
            if col is None:
                values, valid = null_column(kind, n)
                cols.append(values)
                valids.append(valid)
                continue
            cols.append(np.ascontiguousarray(take(col.values)))
            valids.append(
                None if col.valid is None else np.ascontiguousarray(take(col.valid))
            )
        return Rows(np.ascontiguousarray(take(batch.times)), cols, valids)

    def write_rows(self, buf: SeriesBuffer, rows: Rows) -> None:
        """Slow path for one series: sort, resolve duplicates, merge, seal."""
        policy = self.definition.duplicates
        rows = mg.collapse(mg.sort_rows(rows), policy)
        if len(rows) == 0:
            return
        # Split off what belongs before the ring's first point: it merges into the
        # sealed chunks. The rest merges into (or appends to) the ring.
        if buf.count:
            boundary = buf.time_at(buf.head, 0)
            split = int(np.searchsorted(rows.times, boundary, side="left"))
        elif not buf.empty:
            split = int(np.searchsorted(rows.times, buf.last_time, side="right"))
        else:
            split = 0
        last = buf.last_time if not buf.empty else None
        if split:
            self._merge_sealed(buf, rows.slice(0, split))
        ring_rows = rows.slice(split, len(rows))
        if len(ring_rows):
            p = buf.search(
                buf.head, buf.count, int(ring_rows.times[0]), policy == "keep"
            )
            if p < buf.count:
                t, c, v = buf.copy_range(buf.head, buf.count, p, buf.count)
                ring_rows = mg.merge(Rows(t, c, v), ring_rows, policy)
                buf.truncate(p)
            self._append_with_seal(buf, ring_rows)
        newest = int(rows.times[-1]) if last is None else max(last, int(rows.times[-1]))
        buf.set_last_time(newest, False)

    def _append_with_seal(self, buf: SeriesBuffer, rows: Rows) -> None:
        pos, n = 0, len(rows)
        while pos < n:
            room = buf.capacity - buf.count
            if room == 0:
                self.seal_oldest(buf)
                continue
            k = min(room, n - pos)
            buf.append_block(rows.times, rows.cols, rows.valids, pos, pos + k)
            pos += k

    def seal_oldest(self, buf: SeriesBuffer, n: int | None = None) -> None:
        """Move the oldest ``n`` points (a quarter ring by default) to a chunk."""
        n = max(1, buf.capacity // 4) if n is None else n
        times, cols, valids = buf.pop_oldest(n)
        chunk = seal(Rows(times, cols, valids), self.kinds()[: len(cols)])
        buf.sealed = (*buf.sealed, chunk)
        self.sealed_points += chunk.n
        if self._on_seal is not None:
            self._on_seal(self.name, buf.key, chunk)

    def _merge_sealed(self, buf: SeriesBuffer, rows: Rows) -> None:
        """Merge points older than the ring into the sealed chunks (copy-on-write)."""
        policy = self.definition.duplicates
        first = int(rows.times[0])
        chunks = buf.sealed
        i = len(chunks)
        while i > 0 and chunks[i - 1].tmax >= first:
            i -= 1
        old_parts = [self._padded(c.rows()) for c in chunks[i:]]
        existing = mg.concat(old_parts) if old_parts else None
        merged = rows if existing is None else mg.merge(existing, rows, policy)
        size = max(1, buf.capacity // 4)
        new_chunks = []
        for lo in range(0, len(merged), size):
            part = merged.slice(lo, lo + size)
            part = Rows(
                part.times.copy(),
                [c.copy() for c in part.cols],
                [None if v is None else v.copy() for v in part.valids],
            )
            new_chunks.append(seal(part, self.kinds()))
        self.sealed_points += len(merged) - sum(c.n for c in chunks[i:])
        buf.sealed = (*chunks[:i], *new_chunks)

    def _padded(self, rows: Rows) -> Rows:
        """Rows of an older chunk with null columns for fields added since."""
        missing = len(self.definition.fields) - len(rows.cols)
        if missing <= 0:
            return rows
        n = len(rows)
        kinds = self.kinds()[len(rows.cols) :]
        nulls = [null_column(k, n) for k in kinds]
        return Rows(
            rows.times,
            [*rows.cols, *(c for c, _ in nulls)],
            [*rows.valids, *(v for _, v in nulls)],
        )

    def publish(self, buffers: list[SeriesBuffer]) -> int:
        """Publish every touched ring under one new sequence, then commit it."""
        seq = self._next_seq
        self._next_seq += 1
        for buf in buffers:
            buf.publish(seq)
        self.committed = seq
        return seq

    # -- naming ----------------------------------------------------------------

    def describe_key(self, key: SeriesKey) -> str:
        tags = ",".join(f"{t}={v}" for t, v in zip(self.definition.tags, key))
        return f"{self.name}{',' if tags else ''}{tags}"


def _densify(codes: np.ndarray) -> np.ndarray:
    return np.asarray(pc.dictionary_encode(pa.array(codes)).indices, dtype=np.int64)
