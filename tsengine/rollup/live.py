"""One maintained rollup: the listener on its source, late points, output, figures.

Each committed write to the source reaches :meth:`LiveRollup.on_write`, which feeds the
rows to the rollup's :class:`~tsengine.rollup.state.WindowState`, writes the windows
that closed to the rollup table (one ``Engine.write``, so they are logged like any
write), and queues them for subscribers.

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
import warnings
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tsengine.rollup.spec import RollupSpec
from tsengine.rollup.state import WindowState
from tsengine.rollup.subscribe import Hub


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
        self.errors = 0
        self.last_error: str | None = None

    # -- ingest ----------------------------------------------------------------

    def on_write(self, table: str, data: pa.Table) -> None:
        """Listener for the source table (``Engine.add_listener``).

        Never raises: the source write is already committed when it runs. A failure
        is counted in ``errors``, kept in ``last_error`` and warned about.
        """
        try:
            with self.lock:
                self._take(data, publish=True)
        except Exception as exc:  # noqa: BLE001 -- the writer must not see it
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"rollup {self.spec.name!r} skipped a write to {table!r}: "
                f"{self.last_error}",
                RollupWarning,
                stacklevel=2,
            )

    def _take(self, data: pa.Table, publish: bool) -> None:
        spec, state, engine = self.spec, self.state, self.engine
        tags = engine.definition(spec.source).tags
        result = state.ingest(data, tags)
        self.rows_in += data.num_rows
        self.out_of_range += result.n_invalid

        # Late points: counted, and dropped or kept aside
        if result.n_late:
            if spec.late == "side":
                engine.write(spec.side_table, data.filter(pa.array(result.late)))
                self.late_side += result.n_late
            else:
                self.late_dropped += result.n_late
            if result.late_window_max >= self.known_frontier():
                self.remembered = state.first_open
                self._remember(spec.name, state.first_open)

        # Closed windows: into the rollup table, then to subscribers
        if result.closed is not None:
            self._emit(result.closed, publish)

    def _emit(self, closed: pa.Table, publish: bool) -> None:
        """Write closed windows (sorted by group) and queue them for subscribers
        (sorted by time, then group, as they closed)."""
        self.engine.write(self.spec.name, closed)
        if publish and self.hub:
            schema = self.engine.schema(self.spec.name)
            # A stable sort by time keeps the groups' order within each window
            times = closed.column("time").combine_chunks().cast(pa.int64())
            by_time = np.argsort(times.to_numpy(), kind="stable")
            batch = closed.take(by_time).select(schema.names).cast(schema)
            self.hub.publish(batch.combine_chunks().to_batches()[0])

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
                self._take(data, publish=False)

            # The watermark counts every source time, also those before the frontier
            latest = _latest_time(engine, spec.source)
            if latest is not None:
                closed = state.advance(latest)
                if closed is not None:
                    self._emit(closed, publish=False)

    # -- figures ---------------------------------------------------------------

    def stats(self) -> dict:
        """Figures of this rollup (counters count since the engine was opened)."""
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
