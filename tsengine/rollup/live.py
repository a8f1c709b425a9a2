"""One maintained rollup: the listener on its source, late points, output, figures.

Each committed write to the source reaches :meth:`LiveRollup.on_write`, which queues
the rows. A background worker thread takes queued writes in, in commit order, into
the rollup's :class:`~tsengine.rollup.state.WindowState` (Numba kernels that release
the GIL, so this runs beside the writer on another core). Windows a write closes are
closed to later rows at once, but leave the state in one table per
:data:`EMIT_INTERVAL` (one ``Engine.write`` to the rollup table, logged like any
write, instead of one per source write), then go to subscribers as one batch per
source write that closed them.

Anything that looks at the rollup first brings it up to date (:meth:`LiveRollup.sync`,
which takes in every queued write and writes every closed window): a read, latest
or aggregate of the rollup (or side) table, ``stats()``, ``flush()``, a
subscription's ``pending``/``dropped``/next batch, ``drop_rollup`` and ``close()``.
So a write that returned is reflected by all of them, as if maintained inline. When
:data:`MAX_QUEUED` writes wait, the writer takes them in itself (bounded memory).

A durable engine's rollups are maintained inline instead: each write is taken in and
its closed windows written before ``Engine.write`` returns. The restart below rebuilds
the windows of one unfinished write exactly; after several queued writes it would
judge lateness against one batch of them, not write by write.

Late points
    A point whose window had already closed when its batch arrived is *late*. With
    ``late="drop"`` (default) it is counted in ``stats()["rollups"][name]
    ["late_dropped"]`` and left out of the rollup; with ``late="side"`` it is written,
    unchanged, to the table ``f"{name}_late"`` (same tags and fields as the source)
    and counted in ``late_side``. Either way the point stays in the source table.

Restart of a durable engine (:meth:`LiveRollup.catch_up`)
    Open windows are not persisted; they are rebuilt from the source, which is. The
    *closed frontier* F is the first window that may still need output:
    one past the latest window in the rollup table, or the frontier remembered in
    ``rollups.json`` if that is later. Source rows from F's start on are aggregated
    again in one batch, the watermark is restored from the source's latest time,
    and windows it closes are written (those are windows whose output a crash cut off
    between the source's log record and the rollup's). No window is lost; none is
    written twice. The frontier is remembered only when a late point falls in a
    window that closed without any row (no row in the rollup table marks it): after
    a restart, that point would otherwise count as on time.

Known gaps
    Counters (``late_dropped``, ``windows_closed``...) count since the engine opened.
    If the rollup table's retention has expired every row while the source still
    holds them, the frontier falls back to the remembered one: the restart
    re-aggregates those old windows and writes rows that expire at once (wasted
    work, no wrong row); remembering the frontier at every close would avoid it at
    the cost of a file write per closing batch.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import deque
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tsengine.rollup.recompute import recompute
from tsengine.rollup.spec import RollupSpec
from tsengine.rollup.state import WindowState
from tsengine.rollup.subscribe import Hub

#: Seconds closed windows may wait, so several writes' windows go out in one write
#: to the rollup table (subscribers see them at most this much later).
EMIT_INTERVAL = 0.02
#: Source writes the worker may fall behind by before the writer takes them in.
MAX_QUEUED = 64
#: Seconds a worker with nothing to do waits before it ends.
IDLE_EXIT = 1.0


class RollupWarning(UserWarning):
    """A rollup could not take in a committed source write (see ``last_error``)."""


class LiveRollup:
    """A rollup attached to its engine.

    Parameters
    ----------
    engine : tsengine.Engine
        The engine holding the source and rollup tables.
    spec : RollupSpec
        The definition.
    remember : callable
        ``remember(name, frontier)`` stores a closed frontier durably.

    Locks: the engine's write lock, then ``lock`` (the state), then ``_cond`` (the
    queue). The worker takes in writes holding ``lock`` alone and never waits for
    the engine's lock while holding it.
    """

    def __init__(
        self, engine, spec: RollupSpec, remember: Callable[[str, int], None]
    ) -> None:
        self.engine = engine
        self.spec = spec
        self.state = WindowState(spec, engine.definition(spec.source))
        self.hub = Hub()
        self.lock = threading.Lock()
        self.remembered: int | None = None
        self._remember = remember
        self.rows_in = 0
        self.late_dropped = 0
        self.late_side = 0
        self.out_of_range = 0
        self.windows_recomputed = 0
        self.errors = 0
        self.last_error: str | None = None

        # Committed source writes not yet taken in, and output not yet written:
        # the first open window after each write that closed windows, late rows
        # for the side table, a frontier to remember
        # (rows, rewritten mask or None) of each committed write
        self._queue: deque[tuple[pa.Table, np.ndarray | None]] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._marks: list[int] = []
        self._side: list[pa.Table] = []
        self._frontier: int | None = None
        self._worker: threading.Thread | None = None
        self._stopped = False
        self._emitted = time.monotonic()
        #: A durable engine's rollup is maintained by the writer itself, write by
        #: write (see the module docstring)
        self.inline = engine.path is not None

    # -- ingest ----------------------------------------------------------------

    def on_write(
        self, table: str, data: pa.Table, rewritten: np.ndarray | None = None
    ) -> None:
        """Listener for the source table (``Engine.add_listener``): queue the
        committed rows for the worker. Never raises."""
        with self._cond:
            if self._stopped:
                return
            self._queue.append((data, rewritten))
            backlog = len(self._queue)
            if self.inline:
                backlog = MAX_QUEUED + 1
            elif self._worker is None:
                self._worker = threading.Thread(
                    target=self._work, name=f"rollup-{self.spec.name}", daemon=True
                )
                self._worker.start()
            self._cond.notify()
        if backlog > MAX_QUEUED:
            self.sync()  # the writer holds the engine's lock: the order is kept

    def sync(self) -> None:
        """Take in every queued write and write every closed window now."""
        if self._idle():
            return  # reads of an up-to-date rollup do not wait for the writer lock
        engine = self.engine
        with engine._ddl_lock, self.lock:
            if engine._closed:
                return
            self._take_queued()
            self._flush(publish=True)

    def _idle(self) -> bool:
        """Whether nothing is queued, pending or in the worker's hands right now.

        Read without locks, in this order: the queue (a returned write is in it),
        then the pending output, then ``lock``, which the worker holds from taking
        a write off the queue until its output is pending or written. Whatever
        the worker is doing, one of the three shows it.
        """
        return not self._queue and not self._pending() and not self.lock.locked()

    def _pending(self) -> bool:
        """Whether taken-in writes left output not yet written."""
        return bool(self._marks or self._side) or self._frontier is not None

    def stop(self) -> None:
        """Bring the rollup up to date, then end the worker and refuse new writes."""
        self.sync()
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _work(self) -> None:
        """Worker thread: take in writes as they come, write closed windows at
        most every ``EMIT_INTERVAL`` seconds; end after ``IDLE_EXIT`` seconds with
        nothing to do (the next write starts a new worker), so an engine dropped
        without ``close()`` is not kept alive by its rollups."""
        engine = self.engine
        while True:
            with self._cond:
                while not self._queue and not self._stopped:
                    if self._pending():
                        wait = EMIT_INTERVAL - (time.monotonic() - self._emitted)
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    elif not self._cond.wait(IDLE_EXIT) and not self._queue:
                        self._worker = None
                        return
                if self._stopped:
                    return
            with self.lock:
                self._take_one()  # one write at a time: output stays due on time
                due = time.monotonic() - self._emitted >= EMIT_INTERVAL
                pending = self._pending()
            if due and pending:
                with engine._ddl_lock, self.lock:
                    if self._stopped or engine._closed:
                        return
                    self._flush(publish=True)

    def _take_queued(self) -> None:
        """Take in the queued writes in commit order (the caller holds ``lock``)."""
        while self._take_one():
            pass

    def _take_one(self) -> bool:
        """Take in the oldest queued write (the caller holds ``lock``); False if
        none was queued."""
        with self._cond:
            if not self._queue:
                return False
            data, rewritten = self._queue.popleft()
        try:
            self._take(data, rewritten)
        except Exception as exc:  # noqa: BLE001 -- the writer must not see it
            self._failed(exc, "skipped a write to")
        return True

    def _failed(self, exc: Exception, what: str) -> None:
        """Count and warn about a failure the writer must not see."""
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        warnings.warn(
            f"rollup {self.spec.name!r} {what} {self.spec.source!r}: {self.last_error}",
            RollupWarning,
            stacklevel=3,
        )

    def _take(self, data: pa.Table, rewritten: np.ndarray | None = None) -> None:
        spec, state = self.spec, self.state
        tags = self.engine.definition(spec.source).tags
        before = state.first_open
        result = state.ingest(data, tags, rewritten)
        self.rows_in += data.num_rows
        self.out_of_range += result.n_invalid

        # Late points: counted, and dropped or kept aside
        if result.n_late:
            if spec.late == "side":
                self._side.append(data.filter(pa.array(result.late)))
                self.late_side += result.n_late
            else:
                self.late_dropped += result.n_late
            if result.late_window_max >= self.known_frontier():
                self._frontier = state.first_open
        if state.first_open != before:
            self._marks.append(state.first_open)

    def _flush(self, publish: bool) -> None:
        """Write what the taken-in writes produced (the caller holds the engine's
        lock and ``lock``): late rows, closed windows, then the frontier."""
        engine, spec = self.engine, self.spec
        side, self._side = self._side, []
        marks, self._marks = self._marks, []
        try:
            for rows in side:
                engine.write(spec.side_table, rows)
            closed, dirty = self.state.close_windows() if marks else (None, None)
            if closed is not None:
                if dirty is not None:
                    try:
                        closed = recompute(engine, spec, closed, dirty)
                        self.windows_recomputed += int(dirty.sum())
                    except Exception as exc:  # noqa: BLE001 -- keep the windows
                        self._failed(exc, "kept accumulated rows of rewritten")
                self._emit(closed, marks, publish)
        except Exception as exc:  # noqa: BLE001 -- the writer must not see it
            self._failed(exc, "could not write windows closed by writes to")
        if self._frontier is not None:
            # After the windows are written: a crash in between loses no window
            frontier, self._frontier = self._frontier, None
            self.remembered = frontier
            self._remember(spec.name, frontier)
        self._emitted = time.monotonic()

    def _emit(self, closed: pa.Table, marks: list[int], publish: bool) -> None:
        """Write closed windows (sorted by group) and queue them for subscribers
        (sorted by time, then group, as they closed): one batch per source write
        that closed any, ``marks`` being the first window left open by each."""
        self.engine.write(self.spec.name, closed)
        if publish and self.hub:
            schema = self.engine.schema(self.spec.name)
            # A stable sort by time keeps the groups' order within each window
            times = closed.column("time").combine_chunks().cast(pa.int64())
            times = times.to_numpy()
            by_time = np.argsort(times, kind="stable")
            batch = closed.take(by_time).select(schema.names).cast(schema)
            batch = batch.combine_chunks().to_batches()[0]
            ends = [self.state.window_start(m) for m in marks[:-1]]
            cuts = np.searchsorted(times[by_time], ends).tolist()
            for lo, hi in zip([0, *cuts], [*cuts, batch.num_rows]):
                if hi > lo:
                    self.hub.publish(batch.slice(lo, hi - lo))

    def known_frontier(self) -> int:
        """First window a restart would rebuild (see the module docstring)."""
        last = self.state.last_closed
        known = -(2**63) if last is None else last + 1
        return known if self.remembered is None else max(known, self.remembered)

    # -- rebuild ---------------------------------------------------------------

    def catch_up(self, remembered: int | None) -> None:
        """Aggregate the source data already stored (at create, and at reopen).

        The caller holds the engine's write lock, so no write slips between the read
        and the listener taking over.
        """
        spec, state, engine = self.spec, self.state, self.engine
        self.remembered = remembered

        # Closed frontier: past the rollup table's latest window, or remembered
        frontier = remembered
        emitted = _latest_time(engine, spec.name)
        if emitted is not None:
            state.last_closed = state.window_of(emitted)
            past = state.last_closed + 1
            frontier = past if frontier is None else max(frontier, past)

        # Source rows of the windows from there on, as one batch
        start = None
        if frontier is not None:
            state.set_frontier(frontier)
            start = state.window_start(frontier)
        with self.lock:
            data = engine.read(spec.source, start=start, fields=list(spec.aggs))
            if data.num_rows:
                self._take(data)

            # The watermark counts every source time, also those before the frontier
            latest = _latest_time(engine, spec.source)
            if latest is not None:
                before = state.first_open
                state.advance(latest)
                if state.first_open != before:
                    self._marks.append(state.first_open)
            self._flush(publish=False)

    # -- figures ---------------------------------------------------------------

    def stats(self) -> dict:
        """Figures of this rollup (counters count since the engine was opened)."""
        self.sync()
        subs, dropped = self.hub.stats()
        state = self.state
        return {
            "source": self.spec.source,
            "every_ns": self.spec.every_ns,
            "lateness_ns": self.spec.lateness_ns,
            "late_policy": self.spec.late,
            "groups": len(state.groups),
            "open_windows": state.open_windows,
            "windows_closed": state.windows_closed,
            "watermark": state.watermark,
            "rows_in": self.rows_in,
            "late_dropped": self.late_dropped,
            "late_side": self.late_side,
            "out_of_range": self.out_of_range,
            "windows_recomputed": self.windows_recomputed,
            "subscribers": subs,
            "subscriber_dropped": dropped,
            "errors": self.errors,
            "last_error": self.last_error,
        }


def _latest_time(engine, table: str) -> int | None:
    """Greatest time (ns) stored in ``table``, or None when it is empty."""
    latest = engine.latest(table, fields=[])
    if latest.num_rows == 0:
        return None
    return pc.max(latest.column("time")).cast(pa.int64()).as_py()
