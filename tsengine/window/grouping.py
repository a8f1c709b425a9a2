"""Group rows by their ``by`` tag values and put each group in time order.

Groups are numbered in ascending order of their tag values (nulls last), so the output
is sorted by group. Rows are reordered only when needed: data read series by series in
tag order needs no permutation at all, data whose series come in another order is moved
block by block, and a group whose rows interleave in time (a union of several series)
gets a stable argsort of its own times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tsengine.window._kernels.grouping import (
    _block_perm,
    _gather,
    _string_changes,
    _value_changes,
)
from tsengine.window._kernels.ranges import _unsorted_groups


@dataclass
class Grouping:
    """Rows arranged by group then time.

    Attributes
    ----------
    g_lo, g_hi : ndarray of int64
        Row bounds of each group in the arranged order.
    perm : ndarray of int64 or None
        Arranged row ``i`` is input row ``perm[i]``; None when the input order is kept.
    times : ndarray of int64
        Arranged row times, ns.
    keys : pyarrow.Table or None
        One row per group with its ``by`` values; None without ``by``.
    seed_group : ndarray of int64
        Group of each seed row.
    """

    g_lo: np.ndarray
    g_hi: np.ndarray
    perm: np.ndarray | None
    times: np.ndarray
    keys: pa.Table | None
    seed_group: np.ndarray


def column_array(table: pa.Table, name: str) -> pa.Array:
    """One contiguous array for a column (chunks combined if there are several)."""
    return _contiguous(table.column(name))


def _contiguous(col) -> pa.Array:
    if not isinstance(col, pa.ChunkedArray):
        return col
    if col.num_chunks == 1:
        return col.chunk(0)
    if pa.types.is_dictionary(col.type):
        # Chunks may carry different dictionaries: decode before joining
        value_type = col.type.value_type
        if not col.num_chunks:
            return pa.array([], value_type)
        return pa.concat_arrays([c.dictionary_decode() for c in col.chunks])
    return col.combine_chunks()


def _valid_mask(arr: pa.Array) -> np.ndarray:
    if arr.null_count == 0:
        return np.ones(len(arr), np.bool_)
    return arr.is_valid().to_numpy(zero_copy_only=False)


def _mark_changes(col, changed: np.ndarray) -> None:
    """Set ``changed[i]`` where row ``i``'s value differs from row ``i - 1``'s.

    Chunk by chunk, without combining them; the first row of every chunk counts as a
    change (an extra run is harmless: runs with equal keys join one group later).
    """
    start = 0
    for arr in col.chunks if isinstance(col, pa.ChunkedArray) else [col]:
        if len(arr):
            _mark_chunk(arr, changed[start : start + len(arr)])
        start += len(arr)


def _mark_chunk(arr: pa.Array, changed: np.ndarray) -> None:
    kind = arr.type
    nulls = arr.null_count > 0
    valid = _valid_mask(arr) if nulls else np.ones(1, np.bool_)
    if pa.types.is_dictionary(kind):
        codes = arr.indices.fill_null(0).to_numpy(zero_copy_only=False)
        _value_changes(codes, nulls, valid, changed)
    elif pa.types.is_integer(kind):
        codes = arr.fill_null(0).to_numpy(zero_copy_only=False)
        _value_changes(codes, nulls, valid, changed)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        bufs = arr.buffers()
        width = np.int32 if pa.types.is_string(kind) else np.int64
        offsets = np.frombuffer(bufs[1], dtype=width)[
            arr.offset : arr.offset + len(arr) + 1
        ]
        data = np.zeros(1, np.uint8)
        if bufs[2] is not None:
            data = np.frombuffer(bufs[2], np.uint8)
        _string_changes(offsets, data, nulls, valid, changed)
    else:
        # Any other tag type: let Arrow compare neighbours (null == null)
        valid = _valid_mask(arr)
        same = pc.equal(arr[1:], arr[:-1]).fill_null(False)
        same = same.to_numpy(zero_copy_only=False) | (~valid[1:] & ~valid[:-1])
        changed[1:] |= ~same
        changed[0] = True


def _plain(arr: pa.Array) -> pa.Array:
    """Dictionary arrays decoded; string views widened, so keys concatenate."""
    arr = _contiguous(arr)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.large_string())
    return arr


def _rank_keys(keys: pa.Table) -> tuple[np.ndarray, pa.Table]:
    """Dense group number of each key row, ascending by value, and the unique keys."""
    if keys.num_rows == 0:
        return np.empty(0, np.int64), keys
    sort_keys = [(c, "ascending", "at_end") for c in keys.column_names]
    order = pc.sort_indices(keys, sort_keys=sort_keys).to_numpy()
    ordered = keys.take(order)

    # A new group starts where any column differs from the row before
    new = np.zeros(ordered.num_rows, np.bool_)
    new[0] = True
    for name in ordered.column_names:
        col = column_array(ordered, name)
        valid = _valid_mask(col)
        same = (
            pc.equal(col[1:], col[:-1]).fill_null(False).to_numpy(zero_copy_only=False)
        )
        same |= ~valid[1:] & ~valid[:-1]
        new[1:] |= ~same
    number = np.empty(ordered.num_rows, np.int64)
    number[order] = np.cumsum(new) - 1
    return number, ordered.filter(pa.array(new))


def group_rows(
    table: pa.Table, by: list[str], times: np.ndarray, seed, check_order=True
) -> Grouping:
    """Arrange rows by group (ascending tag values) then time.

    Parameters
    ----------
    table : pyarrow.Table
        The data; ``by`` columns must exist.
    by : list of str
        Tag columns to group by; empty for one group.
    times : ndarray of int64
        Row times, ns (not modified).
    seed : pyarrow.Table or None
        Seed rows, grouped with the same keys (groups present only here still exist).
    check_order : bool
        Check (and fix) time order inside groups; False trusts the caller.
    """
    n = times.size
    n_seed = 0 if seed is None else seed.num_rows

    # Without by: one group
    if not by:
        g_lo, g_hi = np.zeros(1, np.int64), np.full(1, n, np.int64)
        seed_group = np.zeros(n_seed, np.int64)
        return _time_order(times, g_lo, g_hi, None, None, seed_group, check_order)

    # Runs of equal tag values; only one row per run is hashed and sorted
    arrays = [table.column(c) for c in by]
    changed = np.zeros(n, np.bool_)
    for arr in arrays:
        _mark_changes(arr, changed)
    run_start = np.flatnonzero(changed).astype(np.int64)
    run_stop = np.append(run_start[1:], n).astype(np.int64)
    idx = pa.array(run_start)
    cols = {}
    for name, arr in zip(by, arrays):
        run_vals = _plain(arr.take(idx))
        if n_seed:
            seed_vals = _plain(column_array(seed, name)).cast(run_vals.type)
            run_vals = pa.concat_arrays([run_vals, seed_vals])
        cols[name] = run_vals
    number, keys = _rank_keys(pa.table(cols))
    run_group, seed_group = number[: run_start.size], number[run_start.size :]
    n_groups = keys.num_rows

    # Group bounds from row counts; blocks move only if groups are out of order
    sizes = np.bincount(run_group, weights=run_stop - run_start, minlength=n_groups)
    bounds = np.zeros(n_groups + 1, np.int64)
    np.cumsum(sizes.astype(np.int64), out=bounds[1:])
    perm = None
    if run_group.size and np.any(np.diff(run_group) < 0):
        order = np.argsort(run_group, kind="stable")
        perm = _block_perm(run_start, run_stop, order)
    g_lo, g_hi = bounds[:-1], bounds[1:]
    return _time_order(times, g_lo, g_hi, perm, keys, seed_group, check_order)


def _time_order(times, g_lo, g_hi, perm, keys, seed_group, check) -> Grouping:
    """Sort rows by time inside each group whose rows are not in order yet."""
    arranged = times if perm is None else _gather(times, perm)
    if not check:
        return Grouping(g_lo, g_hi, perm, arranged, keys, seed_group)
    bad = np.flatnonzero(_unsorted_groups(arranged, g_lo, g_hi))
    if bad.size:
        if perm is None:
            perm = np.arange(times.size, dtype=np.int64)
            arranged = times.copy()
        for g in bad:
            lo, hi = g_lo[g], g_hi[g]
            order = np.argsort(arranged[lo:hi], kind="stable")
            perm[lo:hi] = perm[lo:hi][order]
            arranged[lo:hi] = arranged[lo:hi][order]
    return Grouping(g_lo, g_hi, perm, arranged, keys, seed_group)
