"""The embeddable engine: tables of series, writes, reads, and the storage hooks."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tsengine.core import reader
from tsengine.core.budget import MemoryBudget
from tsengine.core.compactor import Compactor
from tsengine.core.retention import clip_start, horizon
from tsengine.core.stats import table_stats
from tsengine.core.table import Table
from tsengine.core.writing import Listener, WritePath
from tsengine.errors import ClosedError, Error, SchemaError, TableNotFoundError
from tsengine.rollup.manager import Rollups
from tsengine.schema import DEFAULT_RING_CAPACITY, TableDef, parse_retention
from tsengine.timeconv import to_ns


class Engine(WritePath):
    """A time-series engine embedded in this process.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Directory of a durable engine (created if missing). None keeps everything in
        memory only.
    durability : {"sync", "interval", "none"}
        For a durable engine: ``"sync"`` fsyncs the log before a write returns;
        ``"interval"`` fsyncs at least every ``sync_interval`` seconds (a machine
        crash may lose that window; a process crash loses nothing acknowledged);
        ``"none"`` leaves flushing to the OS.
    sync_interval : float
        Seconds between background fsyncs for ``"interval"``.

    Examples
    --------
    >>> import numpy as np, tsengine
    >>> engine = tsengine.Engine()
    >>> engine.write("pump", {"time": np.array([1, 2]), "asset": ["P-1", "P-1"],
    ...                       "vibration": np.array([0.1, 0.2])})
    2
    >>> engine.read("pump").column("vibration").to_pylist()
    [0.1, 0.2]
    """

    def __init__(
        self,
        path: Any = None,
        *,
        durability: str = "interval",
        sync_interval: float = 0.1,
        memory_budget: int | None = None,
        budget_timeout: float = 5.0,
        **storage_options: Any,
    ) -> None:
        if durability not in ("sync", "interval", "none"):
            raise ValueError(
                f"durability {durability!r} must be 'sync', 'interval' or 'none'"
            )
        self._tables: dict[str, Table] = {}
        self._ddl_lock = threading.RLock()
        self._listeners: dict[str, list[Listener]] = {}
        self._closed = False
        self._compactor = Compactor()
        self._budget = (
            None
            if memory_budget is None
            else MemoryBudget(memory_budget, budget_timeout, self._tables.values)
        )
        self.path = path
        self.durability = durability
        self._store = None
        if path is not None:
            from tsengine.storage.durable import DurableStore

            self._store = DurableStore(
                path,
                durability=durability,
                sync_interval=sync_interval,
                **storage_options,
            )
        try:
            if self._store is not None:
                self._store.recover(self)
            self._rollups = Rollups(self)
        except BaseException:
            # A failed open must not keep the directory locked: the user fixes
            # what the error names and opens again, maybe in this process.
            self._compactor.close()
            if self._store is not None:
                self._store.close()
            raise

    # -- tables ------------------------------------------------------------------

    def create_table(
        self,
        name: str,
        tags: Iterable[str] = (),
        fields: dict[str, str] | None = None,
        *,
        ring_capacity: int = DEFAULT_RING_CAPACITY,
        duplicates: str = "last",
        retention: str | int | None = None,
        exist_ok: bool = False,
    ) -> TableDef:
        """Create a table; returns its definition.

        Raises
        ------
        SchemaError
            The name exists (unless ``exist_ok`` and the definition matches) or an
            option is invalid.
        """
        definition = TableDef(
            name=name,
            tags=list(tags),
            fields=dict(fields or {}),
            ring_capacity=ring_capacity,
            duplicates=duplicates,
            retention=parse_retention(retention),
        )
        with self._ddl_lock:
            self._check_open()
            existing = self._tables.get(name)
            if existing is not None:
                if exist_ok and existing.definition.to_dict() == definition.to_dict():
                    return existing.definition
                raise SchemaError(f"table {name!r} already exists")
            self._register(definition)
        return definition

    def _register(self, definition: TableDef, log: bool = True) -> Table:
        table = Table(definition, on_seal=self._on_seal)
        table.fast_ok = self._store is None
        if log and self._store is not None:
            self._store.log_create_table(definition.to_dict())
        self._tables[definition.name] = table
        return table

    def _on_seal(self, table: Table, buf, chunk) -> None:
        if self._store is not None:
            self._store.on_seal(table.name, buf.key, chunk)
        self._compactor.submit(table, buf, chunk)

    def drop_table(self, name: str) -> None:
        """Remove a table and its data from this engine.

        Raises
        ------
        TableNotFoundError
            No such table.
        Error
            On a durable engine: dropping is not logged yet, so the table would come
            back at the next open. Known gap: the log needs a drop record.
        """
        with self._ddl_lock:
            table = self._table(name)
            if self._store is not None:
                raise Error(
                    f"drop_table({name!r}) is not supported on a durable engine yet: "
                    "the write-ahead log has no drop record, so the table would "
                    "reappear when the engine reopens"
                )
            with table.lock:
                del self._tables[name]
                self._listeners.pop(name, None)

    @property
    def last_seq(self) -> int | None:
        """Sequence of the newest logged write (None in memory)."""
        return None if self._store is None else self._store.last_seq

    @property
    def durable_seq(self) -> int | None:
        """Every write up to this sequence is on stable storage (None in memory)."""
        return None if self._store is None else self._store.durable_seq

    def tables(self) -> list[str]:
        """Names of every table, sorted."""
        return sorted(self._tables)

    def schema(self, table: str) -> pa.Schema:
        """Arrow schema of a read of ``table`` (time, tags, fields)."""
        return self._table(table).definition.arrow_schema()

    def definition(self, table: str) -> TableDef:
        """The :class:`TableDef` of ``table``."""
        return self._table(table).definition

    def _table(self, name: str) -> Table:
        self._check_open()
        try:
            return self._tables[name]
        except KeyError:
            raise TableNotFoundError(
                f"table {name!r} does not exist; tables are {self.tables()!r}"
            ) from None

    def export(self, table: str, path: Any, **options: Any) -> int:
        """Write ``table`` to a Parquet file; see :func:`tsengine.export.export_parquet`
        (``start``, ``end``, ``where``, ``fields`` restrict it like :meth:`read`).
        Returns the rows written."""
        from tsengine.export import export_parquet

        return export_parquet(self, table, path, **options)

    def series(self, table: str, **tags: str):
        """Handle for fast writes to one series (see :class:`tsengine.Series`)."""
        from tsengine.series import Series

        return Series(self, table, tags)

    # -- reads -------------------------------------------------------------------

    def read(
        self,
        table: str,
        start: Any = None,
        end: Any = None,
        where: dict[str, Any] | None = None,
        fields: list[str] | None = None,
    ) -> pa.Table:
        """Points of ``table`` with ``start <= time < end``, sorted by time within each
        series; series ordered by tag values.

        Parameters
        ----------
        start, end : int ns, datetime, numpy/pandas time or str, optional
            Half-open time range; None is unbounded.
        where : dict, optional
            Tag name to a value or a list of values.
        fields : list of str, optional
            Fields to return (default: all).
        """
        t = self._table(table)
        self._sync_rollups(table)
        self._expire(t, wait=False)
        lo = clip_start(t, None if start is None else to_ns(start))
        hi = None if end is None else to_ns(end)
        parts = reader.snapshot(t, self._keys(t, where), reader.range_selector(lo, hi))
        return reader.to_arrow_table(t, parts, self._fields(t, fields))

    def latest(
        self,
        table: str,
        where: dict[str, Any] | None = None,
        n: int = 1,
        fields: list[str] | None = None,
    ) -> pa.Table:
        """The ``n`` points with the greatest times of every matching series."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"n={n!r} must be a positive integer")
        t = self._table(table)
        self._sync_rollups(table)
        self._expire(t, wait=False)
        keys = self._keys(t, where)
        names = self._fields(t, fields)
        if len(keys) == 1 and t.definition.retention is None:
            result = reader.latest_one(t, keys[0], int(n), names)
            if result is not None:
                return result
        parts = reader.snapshot(t, keys, reader.latest_selector(int(n)))
        out = reader.to_arrow_table(t, parts, names)
        limit = horizon(t)
        if limit is not None:  # a partly expired chunk may still hold older points
            out = out.filter(
                pc.greater_equal(out.column("time").cast(pa.int64()), limit)
            )
        return out

    def aggregate(
        self,
        table: str,
        every: Any = None,
        aggs: dict[str, list[str]] | None = None,
        *,
        by: list[str] | None = None,
        start: Any = None,
        end: Any = None,
        where: dict[str, Any] | None = None,
        fill: Any = None,
        tz: str | None = None,
        period: Any = None,
        offset: Any = None,
        gap: Any = None,
        closed: str = "left",
        label: str = "left",
        skip_nan: bool = True,
    ) -> pa.Table:
        """Windowed aggregates of ``table``'s fields, per group of ``by`` tags.

        Reads the rows of ``[start, end)`` (matching ``where``) and computes the
        windows with :func:`tsengine.window.aggregate_table`, whose docstring states
        every semantic (alignment, calendar windows and ``tz``, empty windows and
        ``fill``, NaN and null, output column names ``f"{field}_{agg}"``). For
        ``fill="previous"``/``"linear"`` the last point of each series before
        ``start`` seeds the fill.

        Examples
        --------
        >>> import numpy as np, tsengine
        >>> e = tsengine.Engine()
        >>> _ = e.write("pump", {"time": np.arange(4) * 500_000_000,
        ...                      "v": np.array([1.0, 3.0, 5.0, 7.0])})
        >>> e.aggregate("pump", every="1s", aggs={"v": ["mean", "max"]}).to_pydict()[
        ...     "v_mean"]
        [2.0, 6.0]
        """
        from tsengine.window import aggregate_table

        if not aggs:
            raise ValueError(f"aggs={aggs!r} must name at least one field aggregate")
        t = self._table(table)
        names = self._fields(t, list(aggs))
        self._sync_rollups(table)
        self._expire(t, wait=False)
        lo = clip_start(t, None if start is None else to_ns(start))
        hi = None if end is None else to_ns(end)
        # Right-closed windows include their end instant: read one ns further.
        read_hi = hi + 1 if hi is not None and closed == "right" else hi
        read_lo = lo + 1 if lo is not None and closed == "right" else lo
        keys = self._keys(t, where)
        parts = reader.snapshot(t, keys, reader.range_selector(read_lo, read_hi))
        data = reader.to_arrow_table(t, parts, names)
        seed = None
        if fill in ("previous", "linear") and lo is not None:
            before = reader.snapshot(t, keys, reader.before_selector(lo))
            seed = reader.to_arrow_table(t, before, names)
        return aggregate_table(
            data,
            every=every,
            aggs=aggs,
            by=by,
            start=lo,
            end=hi,
            period=period,
            offset=offset,
            gap=gap,
            fill=fill,
            tz=tz,
            closed=closed,
            label=label,
            skip_nan=skip_nan,
            tag_columns=list(t.definition.tags),
            seed=seed,
        )

    def _sync_rollups(self, table: str) -> None:
        """Rollups maintain their tables in the background: bring those writing to
        ``table`` up to date first (absent while the rollups are being restarted)."""
        rollups = self.__dict__.get("_rollups")
        if rollups is not None:
            rollups.sync(table)

    def _keys(self, table: Table, where: dict[str, Any] | None) -> list[tuple]:
        tags = table.definition.tags
        series = table.series
        if not where:
            return sorted(series, key=_sort_key)
        if len(where) == len(tags):
            # Every tag pinned to one string: one dictionary lookup.
            key = tuple(where.get(t) for t in tags)
            if all(type(v) is str for v in key):
                return [key] if key in series else []
        unknown = [k for k in where if k not in tags]
        if unknown:
            raise SchemaError(
                f"where names {unknown!r}, which are not tags of table "
                f"{table.name!r} (tags: {tags!r})"
            )
        wanted = {
            tags.index(k): (set(v) if isinstance(v, list | tuple | set) else {v})
            for k, v in where.items()
        }
        if len(wanted) == len(tags) and all(len(v) == 1 for v in wanted.values()):
            key = tuple(next(iter(wanted[i])) for i in range(len(tags)))
            return [key] if key in series else []
        return sorted(
            (k for k in series if all(k[i] in vals for i, vals in wanted.items())),
            key=_sort_key,
        )

    def _fields(self, table: Table, fields: list[str] | None) -> list[str]:
        names = list(table.definition.fields)
        if fields is None:
            return names
        unknown = [f for f in fields if f not in names]
        if unknown:
            raise SchemaError(
                f"fields {unknown!r} are not fields of table {table.name!r} "
                f"(fields: {names!r})"
            )
        return list(fields)

    # -- rollups -----------------------------------------------------------------

    def create_rollup(
        self,
        name: str,
        source: str,
        every: Any,
        aggs: dict[str, list[str]],
        by: list[str] | None = None,
        lateness: Any = "0s",
        retention: str | int | None = None,
        late: str = "drop",
        *,
        offset: Any = None,
        alpha: float = 0.01,
    ):
        """Create a continuous rollup of ``source``: a table ``name`` of windowed
        aggregates (tags ``by``, fields ``f"{field}_{agg}"``) kept up to date on
        ingest. Windows close when the watermark (greatest source time minus
        ``lateness``) passes their end; ``late="drop"`` counts and drops later
        points, ``late="side"`` writes them to ``f"{name}_late"``. Existing source
        rows are aggregated at once. Semantics: :mod:`tsengine.rollup`.

        Returns
        -------
        tsengine.rollup.RollupSpec
        """
        return self._rollups.create(
            name, source, every, aggs, by=by, lateness=lateness,
            retention=retention, late=late, offset=offset, alpha=alpha,
        )  # fmt: skip

    def subscribe(self, name: str, timeout: float | None = None, *, maxsize=1024):
        """Iterator of RecordBatches, one per write that closes windows of rollup
        ``name`` (see :mod:`tsengine.rollup.subscribe`)."""
        return self._rollups.subscribe(name, timeout=timeout, maxsize=maxsize)

    def rollups(self) -> list[str]:
        """Names of every rollup, sorted."""
        return self._rollups.names()

    def drop_rollup(self, name: str) -> None:
        """Stop maintaining rollup ``name``; its table stays readable."""
        self._rollups.drop(name)

    # -- housekeeping ------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Points and bytes per table, and per column the codecs chosen.

        Returns ``{"tables": {name: {...}}}`` (see
        :func:`tsengine.core.stats.table_stats` for every key), plus ``"storage"``
        for a durable engine and ``"rollups"`` (``{name: figures}``).
        """
        result: dict[str, Any] = {
            "tables": {name: table_stats(t) for name, t in list(self._tables.items())}
        }
        if self._store is not None:
            result["storage"] = self._store.stats()
        result["rollups"] = self._rollups.stats()
        return result

    def flush(self) -> None:
        """Compress what was sealed so far and make everything written durable."""
        self._check_open()
        self._rollups.sync()
        self._compactor.drain()
        if self._store is not None:
            self._store.checkpoint(self)
            self._store.flush()

    def close(self) -> None:
        """Flush and release the engine; further calls raise :class:`ClosedError`."""
        # Writers queue on the engine lock: holding it for the whole close means a
        # concurrent write either completed before (log, rollups and subscribers
        # included) or raises ClosedError after, never half of each.
        with self._ddl_lock:
            if self._closed:
                return
            self._rollups.close()
            self._compactor.close()
            if self._store is not None:
                self._store.checkpoint(self)
                self._store.close()
            self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("the engine is closed")

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _sort_key(key: tuple) -> tuple:
    return tuple((v is None, v or "") for v in key)
