"""Ordering and duplicate resolution: the slow path for out-of-order points.

Points are held as ``Rows``: a time array plus parallel field columns. Every function
here returns new arrays; the rings are changed only by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsengine.errors import DuplicateError
from tsengine.timeconv import describe


@dataclass
class Rows:
    """Points of one series: times plus field columns with optional validity."""

    times: np.ndarray
    cols: list[np.ndarray]
    valids: list[np.ndarray | None]

    def __len__(self) -> int:
        return len(self.times)

    def take(self, index: np.ndarray) -> Rows:
        """Rows at ``index`` (a permutation or selection), as new arrays."""
        return Rows(
            self.times[index],
            [c[index] for c in self.cols],
            [None if v is None else v[index] for v in self.valids],
        )

    def slice(self, lo: int, hi: int) -> Rows:
        """Rows ``[lo, hi)`` as views."""
        return Rows(
            self.times[lo:hi],
            [c[lo:hi] for c in self.cols],
            [None if v is None else v[lo:hi] for v in self.valids],
        )


def concat(parts: list[Rows]) -> Rows:
    """Concatenate rows with the same fields, in the order given."""
    if len(parts) == 1:
        return parts[0]
    nf = len(parts[0].cols)
    valids: list[np.ndarray | None] = []
    for f in range(nf):
        if all(p.valids[f] is None for p in parts):
            valids.append(None)
        else:
            valids.append(
                np.concatenate(
                    [
                        np.ones(len(p), np.uint8)
                        if p.valids[f] is None
                        else p.valids[f]
                        for p in parts
                    ]
                )
            )
    return Rows(
        np.concatenate([p.times for p in parts]),
        [np.concatenate([p.cols[f] for p in parts]) for f in range(nf)],
        valids,
    )


def sort_rows(rows: Rows) -> Rows:
    """Stable sort by time: equal times keep their arrival order."""
    if len(rows) < 2 or bool(np.all(rows.times[1:] >= rows.times[:-1])):
        return rows
    return rows.take(np.argsort(rows.times, kind="stable"))


def collapse(rows: Rows, policy: str) -> Rows:
    """Resolve equal times in time-sorted ``rows`` by the duplicate policy.

    ``"last"`` keeps, field by field, the last present value of a time (an upsert
    that leaves fields the newer point lacks as they were); ``"first"`` keeps the
    first present value; ``"keep"`` keeps every row.
    """
    n = len(rows)
    if policy == "keep" or n < 2:
        return rows
    t = rows.times
    starts = np.flatnonzero(np.concatenate(([True], t[1:] != t[:-1])))
    if len(starts) == n:
        return rows
    idx = np.arange(n, dtype=np.int64)
    first_of_group = idx[starts]
    cols, valids = [], []
    for col, valid in zip(rows.cols, rows.valids):
        if valid is None:
            pick = (
                np.maximum.reduceat(idx, starts) if policy == "last" else first_of_group
            )
            cols.append(col[pick])
            valids.append(None)
            continue
        present = valid.astype(bool)
        if policy == "last":
            pick = np.maximum.reduceat(np.where(present, idx, -1), starts)
            has = pick >= 0
        else:
            pick = np.minimum.reduceat(np.where(present, idx, n), starts)
            has = pick < n
        pick = np.where(has, pick, first_of_group)
        cols.append(col[pick])
        valids.append(has.astype(np.uint8))
    return Rows(t[starts], cols, valids)


def merge(old: Rows, new: Rows, policy: str) -> Rows:
    """Merge time-sorted ``old`` with time-sorted ``new`` (new wins ties for "last")."""
    if len(old) == 0:
        return new
    if len(new) == 0:
        return old
    both = concat([old, new])
    order = np.argsort(both.times, kind="stable")
    return collapse(both.take(order), policy)


def reject_duplicates(times: np.ndarray, existing: np.ndarray, series: str) -> None:
    """Raise :class:`DuplicateError` if ``times`` repeat or hit ``existing`` times.

    ``existing`` must be sorted. Used for the ``"reject"`` policy before anything
    is stored.
    """
    ordered = np.sort(times, kind="stable")
    repeated = np.flatnonzero(ordered[1:] == ordered[:-1])
    if len(repeated):
        t = int(ordered[repeated[0]])
        raise DuplicateError(
            f"series {series} has two points at time {t!r} ({describe(t)}) in one write"
        )
    if len(existing):
        pos = np.searchsorted(existing, ordered)
        hit = (pos < len(existing)) & (
            existing[np.minimum(pos, len(existing) - 1)] == ordered
        )
        if hit.any():
            t = int(ordered[np.argmax(hit)])
            raise DuplicateError(
                f"series {series} already has a point at time {t!r} ({describe(t)})"
            )
