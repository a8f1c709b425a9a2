"""The embeddable engine: tables of series, writes, reads, and the storage hooks.

:class:`Engine` holds the catalog, rollups and housekeeping; its write methods come
from :class:`~tsengine.core.writing.WritePath` and its read methods from
:class:`~tsengine.core.reading.ReadPath`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from tsengine.core.budget import MemoryBudget
from tsengine.core.compactor import Compactor
from tsengine.core.reading import ReadPath
from tsengine.core.stats import table_stats
from tsengine.core.table import Table
from tsengine.core.writing import Listener, WritePath
from tsengine.errors import (
    ArgumentError,
    ClosedError,
    Error,
    SchemaError,
    TableNotFoundError,
)
from tsengine.rollup.manager import Rollups
from tsengine.schema import DEFAULT_RING_CAPACITY, TableDef, parse_retention


class Engine(ReadPath, WritePath):
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
            raise ArgumentError(
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
        SchemaError
            A rollup reads or writes the table: drop it first (``drop_rollup``).
        Error
            On a durable engine: dropping is not logged yet, so the table would come
            back at the next open. Known gap: the log needs a drop record.
        """
        with self._ddl_lock:
            table = self._table(name)
            users = self._rollups.users_of(name)
            if users:
                raise SchemaError(
                    f"table {name!r} belongs to rollup(s) {users!r} (as their source "
                    "or output); drop them first with drop_rollup"
                )
            if self._store is not None:
                raise Error(
                    f"drop_table({name!r}) is not supported on a durable engine yet: "
                    "the write-ahead log has no drop record, so the table would "
                    "reappear when the engine reopens"
                )
            with table.lock:
                table.fast_ok = False  # Series handles of it must not store on
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
            for table in self._tables.values():
                with table.lock:  # Series fast paths check this under the lock
                    table.fast_ok = False
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
