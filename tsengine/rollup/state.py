"""Open windows of one rollup: per-group accumulators updated batch by batch.

How a batch is taken in (:meth:`WindowState.ingest`):

1. Every row gets its window ``k = floor((time - origin) / every)`` and its group
   number (:class:`~tsengine.rollup.groups.GroupIndex`).
2. Rows of windows before the first open one are *late*: their window has closed.
   The caller drops them or sends them to a side table.
3. The other rows go into their (group, window) state, in time order within each
   group -- the batch's own order when it already is, else a stable sort -- so a
   window's values are added in the order a query adds them.
4. The watermark moves to the greatest time seen minus the lateness; every window
   whose end is at or before it closes to later rows. Closed windows stay in the
   pool until :meth:`WindowState.close_windows` turns them into output rows, so
   several batches' windows leave in one table.

A batch is judged as a whole against the watermark from before it: points of one
batch are never late relative to each other. State rows come from a pool that grows
by doubling; a closed window's row is reused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np
import pyarrow as pa

from tsengine.rollup import _finish as F
from tsengine.rollup import _kernels as K
from tsengine.rollup.groups import GroupIndex, column, series_rank
from tsengine.rollup.output import field_columns
from tsengine.rollup.sketch import mapping
from tsengine.rollup.spec import RollupSpec
from tsengine.schema import TableDef
from tsengine.timeconv import ns_to_arrow
from tsengine.window import AggSpec, parse_agg
from tsengine.window.aggspec import MERGEABLE

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1
_INT_AGGS = frozenset({"count", "sum", "min", "max", "first", "last", "spread"})
_SIGN = np.int64(I64_MIN)


@dataclass
class FieldPlan:
    """How one source field is accumulated and which outputs it feeds."""

    name: str
    kind: str  # float64, int64, uint64 or bool
    slot: int  # index into the state arrays' field axis
    aggs: list[AggSpec]
    use_float: bool  # float lanes, sequential sums, extremes, moments
    use_int: bool  # exact integer count, sum, extremes, first/last
    nan_in_lanes: bool
    ends: bool
    moments: bool
    sketches: list[tuple[int, AggSpec]] = field(default_factory=list)


@dataclass
class Ingested:
    """Outcome of one batch: its late rows."""

    late: np.ndarray | None  # bool per input row; None if no row was late
    n_late: int = 0
    n_invalid: int = 0  # rows whose window would leave the int64 ns range
    late_window_max: int | None = None  # greatest window index among late rows


class WindowState:
    """Accumulators of every open (group, window) of one rollup.

    Parameters
    ----------
    spec : RollupSpec
        The rollup.
    source : TableDef
        Definition of the source table (field types).
    capacity : int
        Initial state rows (open group-windows); grows as needed.

    Not thread-safe: the owner serialises calls.
    """

    def __init__(self, spec: RollupSpec, source: TableDef, capacity: int = 256):
        self.spec = spec
        #: (group, window) pairs that took rewritten points, not closed yet.
        self.dirty: set[tuple[int, int]] = set()
        self.groups = GroupIndex(spec.by)
        self.plans = _plans(spec, source)
        self._inv, self._kmax = mapping(spec.alpha)
        self.n_sketch = sum(len(p.sketches) for p in self.plans)
        self.max_time: int | None = None
        self.first_open = I64_MIN + 1  # window index; earlier windows are closed
        self.last_closed: int | None = None  # greatest window index emitted
        self.windows_closed = 0

        # Pool of state rows and the (group, window) -> row index
        n_fields = max(1, len(self.plans))
        self._fs = np.zeros((n_fields, 0, K.N_FS))
        self._is = np.zeros((n_fields, 0, K.N_IS), np.int64)
        self._st_g = np.zeros(0, np.int64)
        self._st_w = np.zeros(0, np.int64)
        self._free = np.zeros(0, np.int64)
        self._n_free = np.zeros(1, np.int64)
        self._grow(capacity)
        key = numba.types.UniTuple(numba.types.int64, 2)
        self._index = numba.typed.Dict.empty(key, numba.types.int64)
        self._bins = numba.typed.Dict.empty(numba.types.int64, numba.types.int64)
        self._cache = np.zeros((0, 3), np.int64)  # per group: window start, end, row
        self._last = np.zeros((0, 2), np.int64)  # per group: last time, series rank

        # Arguments of the routing kernel, kept between batches
        self._none = np.zeros(0, np.int64)
        self._out = np.zeros(8, np.int64)
        self._srow = np.zeros(0, np.int64)  # state row of each row of a batch
        # Times whose window could leave the int64 range are unusable
        self._grid = np.array(
            [
                spec.origin_ns,
                spec.every_ns,
                self.first_open,
                I64_MIN + 2 * spec.every_ns,
                I64_MAX - 2 * spec.every_ns,
            ],
            np.int64,
        )

    # -- figures ---------------------------------------------------------------

    @property
    def watermark(self) -> int | None:
        """Greatest source time seen minus the lateness (ns), or None."""
        if self.max_time is None:
            return None
        return self.max_time - self.spec.lateness_ns

    @property
    def open_windows(self) -> int:
        """(group, window) states currently open."""
        return int(self._st_w.size - self._n_free[0])

    def window_start(self, k: int) -> int:
        """Start (ns) of window index ``k``."""
        return self.spec.origin_ns + k * self.spec.every_ns

    def window_of(self, t: int) -> int:
        """Window index of time ``t`` (ns)."""
        return (t - self.spec.origin_ns) // self.spec.every_ns

    # -- ingest ----------------------------------------------------------------

    def ingest(
        self, data: pa.Table, tags: list[str], rewritten: np.ndarray | None = None
    ) -> Ingested:
        """Take in one batch of source rows (``time`` and any tags/fields).

        ``tags`` are the source's tag columns, whose order breaks ties in time between
        series of one group. The watermark moves (see :meth:`advance`); the windows
        it closes wait in the pool for :meth:`close_windows`. ``rewritten`` marks
        rows that may have replaced stored points: their windows are noted in
        :attr:`dirty`, to be computed again from the source when they close.
        """
        n = data.num_rows
        if n == 0:
            return Ingested(None)
        spec = self.spec
        t = _times(data)
        codes, lut, tuples = self.groups.batch(data)
        several = not set(tags) <= set(spec.by)
        rank = series_rank(data, tags) if several else self._none
        columns = [_values(plan, data) for plan in self.plans]

        # One pass: group and state row of every row, late rows, order check
        self._grid[2] = self.first_open
        out = self._out
        out[:] = (0, 0, 0, I64_MIN, I64_MIN, 1, -1, 0)
        last = self._last
        last.fill(I64_MIN)
        # Kept between batches (up to 4M rows): a fresh array faults its pages in
        if self._srow.size >= n:
            srow = self._srow[:n]
        else:
            srow = np.empty(n, np.int64)
            if n <= 1 << 22:
                self._srow = srow
        while True:
            K._route(
                t, codes, lut, rank, self._grid, int(out[K.OUT_POS]), self._index,
                self._cache, self._st_g, self._st_w, self._free, self._n_free, srow,
                last, self._fs, self._is, out,
            )  # fmt: skip
            if out[K.OUT_POS] == n:
                break
            if out[K.OUT_CODE] < 0:
                self._grow(self._st_w.size)  # the pool ran dry
                continue
            # New groups: number every tuple the batch uses, then resume
            used = np.bincount(codes, minlength=len(tuples))
            for j in np.flatnonzero((used > 0) & (lut < 0)).tolist():
                lut[j] = self.groups.add(tuples[j])
            last = self._grow_groups()
            out[K.OUT_CODE] = -1

        if rewritten is not None:
            slots = srow[rewritten & (srow >= 0)]
            pairs = zip(self._st_g[slots].tolist(), self._st_w[slots].tolist())
            self.dirty.update(pairs)

        # Values are added in time order within each group: the batch's, or sorted
        order = self._none
        if not out[K.OUT_ORDERED]:
            g = lut[codes]
            keys = (rank, t, g) if several else (t, g)
            order = np.lexsort(keys).astype(np.int64)
        for plan, values in zip(self.plans, columns):
            if values is not None:
                self._accumulate(plan, values, order, srow, t)

        # Watermark, then the windows it closes
        n_late, n_bad = int(out[K.OUT_LATE]), int(out[K.OUT_BAD])
        if n_bad < n:
            self.advance(int(out[K.OUT_TMAX]))
        return Ingested(
            (srow == -1) if n_late else None,
            n_late,
            n_bad,
            int(out[K.OUT_LATE_W]) if n_late else None,
        )

    def _accumulate(self, plan, values, order, srow, t) -> None:
        """One field's integer states, float states and sketches."""
        raw, v, valid = values
        if plan.use_int:
            ints = raw.astype(np.int64)
            if plan.kind == "uint64":
                ints = raw.view(np.int64) ^ _SIGN  # unsigned order as signed order
            K._acc_int(order, srow, t, ints, valid, self._is[plan.slot])
        if plan.use_float:
            K._acc_float(
                order, srow, t, v, valid, self._fs[plan.slot], self._is[plan.slot],
                plan.nan_in_lanes, plan.ends, plan.moments,
            )  # fmt: skip
        for k, _ in plan.sketches:
            K._acc_sketch(
                order, srow, v, valid, self._bins, self.n_sketch, k, self._inv,
                self._kmax,
            )  # fmt: skip

    def set_frontier(self, first_open: int) -> None:
        """Treat windows before index ``first_open`` as closed (recovery)."""
        self.first_open = max(self.first_open, first_open)

    def advance(self, max_time: int) -> None:
        """Note a source time (ns) and move the watermark.

        Windows it passes are closed to new rows (later rows in them are late) but
        stay in the pool until :meth:`close_windows` returns them.
        """
        if self.max_time is None or max_time > self.max_time:
            self.max_time = max_time
        k = (self.watermark - self.spec.origin_ns) // self.spec.every_ns
        if k <= self.first_open:
            return  # no row is kept for a window before first_open
        self.first_open = min(k, I64_MAX)
        # A group's cached window may be closed now: the next row looks it up again
        self._cache[:, 0] = I64_MAX
        self._cache[:, 1] = I64_MIN

    # -- closing ---------------------------------------------------------------

    def close_windows(self) -> tuple[pa.Table | None, np.ndarray | None]:
        """Rows of every window before ``first_open``, freed from the pool, and a
        mask of those rows that took rewritten points (None when none did)."""
        st_w = self._st_w
        rows = np.flatnonzero((st_w != I64_MIN) & (st_w < self.first_open))
        if rows.size == 0:
            return None, None
        groups = self._st_g[rows]
        # Group by group (each series' rows in one run: the cheapest engine write)
        rows = rows[np.lexsort((st_w[rows], self.groups.rank()[groups]))]
        windows = st_w[rows]
        table = self._table(rows, windows)
        dirty = None
        if self.dirty:
            keys = zip(self._st_g[rows].tolist(), windows.tolist(), strict=True)
            dirty = np.array([k in self.dirty for k in keys], np.bool_)
            for k in zip(self._st_g[rows[dirty]].tolist(), windows[dirty].tolist()):
                self.dirty.discard(k)
            if not dirty.any():
                dirty = None
        F._release(
            rows, self._index, self._st_g, self._st_w, self._cache, self._free,
            self._n_free,
        )  # fmt: skip
        self.windows_closed += int(rows.size)
        top = int(windows.max())
        self.last_closed = (
            top if self.last_closed is None else max(top, self.last_closed)
        )
        return table, dirty

    def _table(self, rows: np.ndarray, windows: np.ndarray) -> pa.Table:
        spec = self.spec
        starts = np.int64(spec.origin_ns) + windows * np.int64(spec.every_ns)
        columns = {"time": ns_to_arrow(np.ascontiguousarray(starts))}
        gids = pa.array(self._st_g[rows])
        for j, tag in enumerate(spec.by):
            columns[tag] = self.groups.column(j).take(gids)
        sketches = None
        if self.n_sketch:
            closing = np.zeros(self._st_w.size, np.bool_)
            closing[rows] = True
            sketches = F._take_sketches(self._bins, closing, self.n_sketch)
        for plan in self.plans:
            columns.update(field_columns(self, plan, rows, sketches))
        return pa.table(columns)

    # -- storage ---------------------------------------------------------------

    def _grow(self, extra: int) -> None:
        """Add ``extra`` free state rows to the pool."""
        old = self._st_w.size
        extra = max(int(extra), 16)
        n_fields = self._fs.shape[0]
        self._fs = np.concatenate(
            [self._fs, np.zeros((n_fields, extra, K.N_FS))], axis=1
        )
        self._is = np.concatenate(
            [self._is, np.zeros((n_fields, extra, K.N_IS), np.int64)], axis=1
        )
        self._st_g = np.concatenate([self._st_g, np.zeros(extra, np.int64)])
        self._st_w = np.concatenate([self._st_w, np.full(extra, I64_MIN, np.int64)])
        free = np.empty(old + extra, np.int64)
        n_free = int(self._n_free[0])
        free[:n_free] = self._free[:n_free]
        # Lowest rows on top of the stack: they are taken first
        free[n_free : n_free + extra] = np.arange(old + extra - 1, old - 1, -1)
        self._free = free
        self._n_free[0] = n_free + extra

    def _grow_groups(self) -> np.ndarray:
        """Room for every numbered group in the window cache and the order check;
        returns the order check's (time, rank) per group, kept as it was."""
        n_groups, have = len(self.groups), self._cache.shape[0]
        if n_groups > have:
            size = max(n_groups, 2 * have, 16)
            extra = np.empty((size - have, 3), np.int64)
            extra[:] = (I64_MAX, I64_MIN, -1)  # no window: no time falls in it
            self._cache = np.concatenate([self._cache, extra])
            last = np.full((size, 2), I64_MIN, np.int64)
            last[:have] = self._last
            self._last = last
        return self._last


def _times(data: pa.Table) -> np.ndarray:
    """The ``time`` column as int64 ns (the engine hands timestamp[ns, UTC])."""
    arr = column(data, "time")
    if pa.types.is_timestamp(arr.type) and arr.type.unit != "ns":
        arr = arr.cast(pa.timestamp("ns", tz=arr.type.tz))
    return np.ascontiguousarray(arr.view(pa.int64()).to_numpy(zero_copy_only=False))


def _values(plan: FieldPlan, data: pa.Table):
    """(raw values, float64 values or None, uint8 validity or empty) of a field;
    None when the batch lacks the field (all null)."""
    if plan.name not in data.column_names:
        return None
    arr = column(data, plan.name)
    valid = _EMPTY_U8
    if arr.null_count:
        valid = arr.is_valid().to_numpy(zero_copy_only=False).view(np.uint8)
        arr = arr.fill_null(False if plan.kind == "bool" else 0)
    raw = arr.to_numpy(zero_copy_only=False)
    v = np.ascontiguousarray(raw, dtype=np.float64) if plan.use_float else None
    return raw, v, valid


_EMPTY_U8 = np.zeros(0, np.uint8)


def _plans(spec: RollupSpec, source: TableDef) -> list[FieldPlan]:
    """Which accumulators each field needs, from its aggregates."""
    plans = []
    n_sketch = 0
    for slot, (name, names) in enumerate(spec.aggs.items()):
        kind = source.fields[name]
        aggs = [parse_agg(a) for a in names]
        kinds = {a.kind for a in aggs}
        is_float = kind == "float64"
        use_int = not is_float and bool(kinds & _INT_AGGS)
        use_float = is_float or bool(kinds - _INT_AGGS)
        plan = FieldPlan(
            name=name,
            kind=kind,
            slot=slot,
            aggs=aggs,
            use_float=use_float,
            use_int=use_int,
            # The query keeps NaN rows in the lanes only for mergeable aggregates
            nan_in_lanes=kinds <= MERGEABLE | {"count"},
            ends=is_float and bool(kinds & {"first", "last"}),
            moments=bool(kinds & {"var", "std", "var_pop", "std_pop"}),
        )
        for a in aggs:
            if a.kind == "quantile":
                plan.sketches.append((n_sketch, a))
                n_sketch += 1
        plans.append(plan)
    return plans
