"""Retention by age: points older than a table's horizon leave reads, memory and disk.

The horizon is ``now - retention`` (wall clock, ns). Whole sealed chunks older than it
are dropped and ring points older than it are popped, under the table's write lock;
reads also clip their range to the horizon so a partly expired chunk never shows its
old points. Durable engines drop the same chunks from disk at the next checkpoint,
which writes the engine's current chunks.
"""

from __future__ import annotations

import time

import numpy as np

from tsengine.core.chunk import seal
from tsengine.core.merge import Rows
from tsengine.core.table import Table


def horizon(table: Table, now: int | None = None) -> int | None:
    """Oldest time still retained in ``table`` (ns), or None without retention."""
    retention = table.definition.retention
    if retention is None:
        return None
    now = time.time_ns() if now is None else now
    # A retention longer than the time since 1677 keeps everything.
    return max(now - retention, -(2**63))


def expire(table: Table, now: int | None = None) -> int:
    """Drop what is older than the horizon (caller holds the write lock).

    Returns
    -------
    int
        Points removed.
    """
    limit = horizon(table, now)
    if limit is None:
        return 0
    removed = 0
    touched = []
    for buf in list(table.series.values()):
        changed = False
        if buf.sealed and buf.sealed[0].tmin < limit:
            kept = tuple(c for c in buf.sealed if c.tmax >= limit)
            if kept and kept[0].tmin < limit:
                # Trim the chunk the horizon cuts through: memory holds no old point.
                kept = (_trimmed(table, buf, kept[0], limit), *kept[1:])
            removed += sum(c.n for c in buf.sealed) - sum(c.n for c in kept)
            buf.sealed = kept
            changed = True
        if buf.count and buf.time_at(buf.head, 0) < limit:
            drop = buf.search(buf.head, buf.count, limit)
            buf.pop_oldest(drop)
            removed += drop
            changed = True
        if changed:  # a flag, not a search of the list: that made this O(series**2)
            touched.append(buf)
    if touched:
        table.publish(touched)
    table.expired_points += removed
    return removed


def clip_start(table: Table, start: int | None, now: int | None = None) -> int | None:
    """A read's start, moved up to the horizon where retention has passed it."""
    limit = horizon(table, now)
    if limit is None:
        return start
    return limit if start is None else max(start, limit)


def _trimmed(table: Table, buf, chunk, limit: int):
    rows = chunk.rows()
    cut = int(np.searchsorted(rows.times, limit, "left"))
    part = rows.slice(cut, len(rows))
    fresh = seal(
        Rows(
            part.times.copy(),
            [c.copy() for c in part.cols],
            [None if v is None else v.copy() for v in part.valids],
        ),
        chunk.kinds,
    )
    if table._on_seal is not None:
        table._on_seal(table, buf, fresh)
    return fresh
