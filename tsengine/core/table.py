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

from tsengine._native._group import is_sorted
from tsengine._native._ring import (
    CommitClock,
    SeriesBuffer,
    publish_all,
    scatter_direct,
    scatter_in_order,
    short_of_room,
)
from tsengine.core import merge as mg
from tsengine.core.chunk import SealedChunk
from tsengine.core.merge import Rows
from tsengine.core.merge_path import MergePath
from tsengine.core.normalize import Batch, null_column
from tsengine.core.rewrites import meets_stored, stored_times
from tsengine.core.series_groups import DictionaryCodes, Grouping, group_batch
from tsengine.schema import TableDef

SeriesKey = tuple

# Index arrays of a one-row tag column (Arrow arrays are immutable: safe to share).
_ZERO_INDEX = pa.array([0], pa.int32())
_NULL_INDEX = pa.array([None], pa.int32())
_EMPTY_DICTIONARY = pa.array([], pa.string())


def _one_string(value: str) -> pa.Array:
    """A one-element string array, from its buffers (``pa.array`` costs ~3x more,
    which shows in ``latest`` of a series not read before)."""
    data = value.encode()
    offsets = np.array([0, len(data)], np.int32)
    return pa.Array.from_buffers(
        pa.string(), 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


class Table(MergePath):
    """In-memory state of one table.

    Parameters
    ----------
    definition : TableDef
        Tags, fields and policies.
    on_seal : callable, optional
        Called as ``on_seal(table, ring, chunk)`` for every chunk sealed, under the
        write lock (the storage tier persists it).
    """

    def __init__(
        self,
        definition: TableDef,
        on_seal: Callable[[Table, SeriesBuffer, SealedChunk], None] | None = None,
    ):
        self.definition = definition
        self.lock = threading.RLock()
        self.series: dict[SeriesKey, SeriesBuffer] = {}
        self.clock = CommitClock()
        self._schemas: dict[tuple, pa.Schema] = {}
        self._tag_arrays: dict[tuple, list[pa.Array]] = {}
        self.field_index = {name: i for i, name in enumerate(definition.fields)}
        self._on_seal = on_seal
        self._dictionary: DictionaryCodes | None = None  # see group()
        self.expired_points = 0
        self.expired_check = 0.0  # monotonic time of the last retention pass

    # -- schema ----------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.definition.name

    def field_names(self) -> list[str]:
        return list(self.definition.fields)

    def kinds(self) -> list[str]:
        return list(self.definition.fields.values())

    def read_schema(self, fields: list[str]) -> pa.Schema:
        """Arrow schema of a read returning ``fields`` (cached)."""
        key = tuple(fields)
        schema = self._schemas.get(key)
        if schema is None:
            schema = self._schemas[key] = self.definition.arrow_schema(fields)
        return schema

    def tag_arrays(self, key: SeriesKey, n: int) -> list[pa.Array]:
        """Tag columns of ``n`` rows of one series (cached for one row)."""
        if n == 1:
            cached = self._tag_arrays.get(key)
            if cached is not None:
                return cached
            # One row (latest of one series): shared index arrays, no numpy masks.
            arrays = [
                pa.DictionaryArray.from_arrays(_NULL_INDEX, _EMPTY_DICTIONARY)
                if value is None
                else pa.DictionaryArray.from_arrays(_ZERO_INDEX, _one_string(value))
                for value in key
            ]
            if len(self._tag_arrays) > 100_000:
                self._tag_arrays.clear()
            self._tag_arrays[key] = arrays
            return arrays
        arrays = []
        for value in key:
            dictionary = pa.array([] if value is None else [value], pa.string())
            indices = pa.array(np.zeros(n, np.int32), mask=np.full(n, value is None))
            arrays.append(pa.DictionaryArray.from_arrays(indices, dictionary))
        return arrays

    def add_columns(self, tags: list[str], fields: dict[str, str]) -> None:
        """Grow the schema (under the write lock): new tags are null for existing
        series, new fields null for existing points."""
        self._schemas = {}
        self._tag_arrays = {}
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
        self.field_index = {name: i for i, name in enumerate(self.definition.fields)}

    # -- write path ------------------------------------------------------------

    def group(self, batch: Batch) -> Grouping:
        """Group rows by series in native code (see :class:`Grouping`); caller
        holds the write lock (the dictionary cache is per table)."""
        grouping, self._dictionary = group_batch(
            batch, self.definition.tags, self._dictionary
        )
        return grouping

    def rings_of(self, grouping: Grouping) -> list[SeriesBuffer]:
        """:meth:`buffers_for` the grouping's keys, through the dictionary cache
        when the grouping came from the fast path."""
        cache = grouping.dictionary
        if cache is None:
            return self.buffers_for(grouping.keys)
        rings = cache.rings
        ids = grouping.ids.tolist()
        if cache.series is self.series:
            found = [rings[i] for i in ids]
            if None not in found:
                return found
        found = self.buffers_for(grouping.keys)
        if cache.series is not self.series:
            # Rings resolved against an older mapping may be stale: start over.
            cache.rings = rings = [None] * len(rings)
            cache.series = self.series
        for i, buf in zip(ids, found):
            rings[i] = buf
        return found

    def buffers_for(self, keys: list[SeriesKey]) -> list[SeriesBuffer]:
        """The rings of these series; missing ones are created and published to
        readers with one copy-on-write of the index."""
        series = self.series
        found = [series.get(k) for k in keys]
        if None in found:
            series = dict(series)
            kinds = self.kinds()
            keep = self.definition.duplicates == "keep"
            missing = [i for i, buf in enumerate(found) if buf is None]
            # Known gap: each ring is its own allocation. Carving many rings from
            # one 2-D slab made the long-format scatter faster (huge pages, fewer TLB
            # misses) but first-touch faults of huge pages stalled steady writers
            # for hundreds of ms, so it is off until rings can opt out per table.
            for i in missing:
                buf = SeriesBuffer(self.definition.ring_capacity, kinds, keep)
                buf.key = keys[i]
                series[keys[i]] = found[i] = buf
            self.series = series
        return found

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
                existing = stored_times(buf, int(t.min()), int(t.max()))
            mg.reject_duplicates(t, existing, self.describe_key(key))

    def prepare(self, batch: Batch) -> Grouping:
        """Group a batch by series and run every check that could refuse it.

        Nothing is stored; the result is handed to :meth:`apply`.
        """
        grouping = self.group(batch)
        if self.definition.duplicates == "reject":
            self.check_duplicates(
                batch, grouping.order, grouping.offsets, grouping.keys
            )
        return grouping

    def apply(
        self, batch: Batch, grouping, track: bool = False
    ) -> tuple[list[SeriesBuffer], np.ndarray | None]:
        """Store a prepared batch (caller holds the lock).

        Groups that arrive in order and fit go straight into their rings in one
        native call; the rest take the merge path.

        Returns
        -------
        buffers : list of SeriesBuffer
            The touched rings.
        rewritten : numpy.ndarray of bool or None
            With ``track``, under the policies "last" and "first": the batch rows
            whose time met a stored point of their series or another new row (one
            replaced the other). None when no row did.
        """
        offsets, codes = grouping.offsets, grouping.codes
        buffers = self.rings_of(grouping)
        track = track and self.definition.duplicates in ("last", "first")
        met: list[np.ndarray] = []  # batch rows that meet a stored point
        if "string" in self.definition.fields.values():
            # Object columns cannot be gathered in native code: permute first.
            order = grouping.order
            rows = self._gather(batch, order)
            slow = scatter_in_order(
                buffers, offsets, rows.times, rows.cols, rows.valids
            )
            for g in slow:
                lo, hi = int(offsets[g]), int(offsets[g + 1])
                if track:
                    times = rows.times[lo:hi]
                    met.append(order[lo:hi][meets_stored(buffers[g], times)])
                self.write_rows(buffers[g], rows.slice(lo, hi))
            return buffers, _mask(met, len(batch))
        rows = self._gather(batch, None)
        # Full rings seal their oldest quarters first (as the per-series path would
        # when room runs out), so in-order groups still go in with one scatter
        for g in short_of_room(buffers, offsets):
            buf, need = buffers[g], int(offsets[g + 1] - offsets[g])
            while buf.capacity - buf.count < need:
                self.seal_oldest(buf)
        slow = scatter_direct(
            buffers, codes, offsets, rows.times, rows.cols, rows.valids
        )
        for g in slow:
            lo, hi = int(offsets[g]), int(offsets[g + 1])
            idx = grouping.order[lo:hi]
            if idx[-1] - idx[0] == hi - lo - 1:
                # The series' rows are one contiguous run of the batch: no gather.
                part = rows.slice(int(idx[0]), int(idx[-1]) + 1)
            else:
                part = rows.take(idx)
            if track:
                met.append(idx[meets_stored(buffers[g], part.times)])
            self.write_rows(buffers[g], part)
        return buffers, _mask(met, len(batch))

    def _gather(self, batch: Batch, order: np.ndarray | None) -> Rows:
        """Columns of the batch in the table's field order, rows in group order
        (``order`` None: as they came)."""
        identity = (
            order is None
            or len(order) == 0
            or (order[0] == 0 and is_sorted(order) and order[-1] == len(order) - 1)
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

    def publish(self, buffers: list[SeriesBuffer]) -> int:
        """Publish every touched ring under one new sequence, then commit it."""
        return publish_all(buffers, self.clock)

    @property
    def committed(self) -> int:
        """Sequence of the newest write readers may see."""
        return self.clock.committed

    @property
    def fast_ok(self) -> bool:
        """Whether writes may skip the engine (no log to write, nobody to notify)."""
        return self.clock.fast_ok

    @fast_ok.setter
    def fast_ok(self, value: bool) -> None:
        self.clock.fast_ok = value

    # -- naming ----------------------------------------------------------------

    def describe_key(self, key: SeriesKey) -> str:
        tags = ",".join(f"{t}={v}" for t, v in zip(self.definition.tags, key))
        return f"{self.name}{',' if tags else ''}{tags}"


def _mask(rows: list[np.ndarray], n: int) -> np.ndarray | None:
    """A boolean mask of ``n`` with ``rows`` set, or None when none is."""
    if not any(len(r) for r in rows):
        return None
    mask = np.zeros(n, np.bool_)
    for r in rows:
        mask[r] = True
    return mask
