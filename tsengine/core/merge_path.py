"""The slow write path of one series: out-of-order points, duplicates, sealing.

Mixed into :class:`tsengine.core.table.Table`. In-order points that fit go into the
ring in one native scatter; everything else comes here, one series at a time: the
rows are sorted, duplicates resolved by the table's policy, and merged into the
ring, or into the sealed chunks when they are older than the ring (copy on write:
only the chunks the new points reach are rebuilt). The oldest quarter of a full
ring is sealed into a chunk to make room.
"""

from __future__ import annotations

import numpy as np

from tsengine._native._ring import SeriesBuffer
from tsengine.core import merge as mg
from tsengine.core.chunk import seal
from tsengine.core.merge import Rows
from tsengine.core.normalize import null_column


class MergePath:
    """Methods of :class:`~tsengine.core.table.Table` for the slow path (the caller
    holds the table's lock)."""

    def write_rows(self, buf: SeriesBuffer, rows: Rows) -> None:
        """Slow path for one series: sort, resolve duplicates, merge, seal."""
        policy = self.definition.duplicates
        t = rows.times
        if (buf.empty or t[0] > buf.last_time) and bool(np.all(t[1:] > t[:-1])):
            # In order, just larger than the ring's free room: append and seal.
            self._append_with_seal(buf, rows)
            return
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
        if self._on_seal is not None:
            self._on_seal(self, buf, chunk)

    def _merge_sealed(self, buf: SeriesBuffer, rows: Rows) -> None:
        """Merge points older than the ring into the sealed chunks (copy-on-write).

        Only the chunks whose time range the new points reach are rewritten; new
        points that fall between two chunks become chunks of their own.
        """
        policy = self.definition.duplicates
        first, last = int(rows.times[0]), int(rows.times[-1])
        chunks = buf.sealed
        i = len(chunks)
        while i > 0 and chunks[i - 1].tmax >= first:
            i -= 1
        j = i
        while j < len(chunks) and chunks[j].tmin <= last:
            j += 1
        old_parts = [self._padded(c.rows()) for c in chunks[i:j]]
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
        buf.sealed = (*chunks[:i], *new_chunks, *chunks[j:])
        if self._on_seal is not None:
            for chunk in new_chunks:
                self._on_seal(self, buf, chunk)

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
