"""The write path of :class:`tsengine.Engine`: validate whole calls, log, store.

A write call is planned first -- every table's batch converted, validated and grouped
by series, with the table locks taken -- and only then logged and applied, so a bad
value anywhere refuses the whole call and nothing of it is stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tsengine.core.normalize import (
    Batch,
    infer_definition,
    new_columns,
    normalize,
    to_arrow,
)
from tsengine.core.retention import expire
from tsengine.core.table import Table
from tsengine.errors import Error, SchemaError
from tsengine.schema import DEFAULT_RING_CAPACITY, TableDef
from tsengine.timeconv import ns_to_arrow

if TYPE_CHECKING:
    from tsengine.engine import Engine

#: ``listener(table, rows, rewritten)``: the rows of a committed write as Arrow, and
#: a boolean mask of those that may have replaced stored points (or None).
Listener = Callable[[str, pa.Table, Any], None]


@dataclass
class LinesResult:
    """Outcome of :meth:`Engine.write_lines`: points stored, lines rejected."""

    points: int
    rejected: list = field(default_factory=list)


class WritePath:
    """Mixin of :class:`tsengine.Engine` holding every write-side method."""

    # -- writes ------------------------------------------------------------------

    def write(
        self,
        table: str,
        data: Any,
        *,
        tags: Iterable[str] | None = None,
        unit: str = "ns",
    ) -> int:
        """Write a long-format batch to ``table``, all or nothing.

        Parameters
        ----------
        table : str
            Table name; created on first write with string columns as tags unless
            ``tags`` names them.
        data : pyarrow Table/RecordBatch, pandas/polars DataFrame, dict of arrays
            Rows with a ``time`` column (pandas: or a DatetimeIndex), tag columns
            and field columns.
        tags : list of str, optional
            Which columns are tags (new tags extend an existing table).
        unit : str
            Unit of integer times (``"ns"`` default).

        Returns
        -------
        int
            Rows stored.
        """
        return self.write_many({table: data}, tags=tags, unit=unit)

    def write_many(
        self,
        data: dict[str, Any],
        *,
        tags: Iterable[str] | None = None,
        unit: str = "ns",
        _log: bool = True,
    ) -> int:
        """Write batches to several tables in one all-or-nothing call.

        ``_log=False`` is for storage replay only: the write is already logged.
        """
        self._check_open()
        arrow = {name: to_arrow(d, name) for name, d in data.items()}
        arrow = {name: t for name, t in arrow.items() if t.num_rows}
        if not arrow:
            return 0
        tag_list = tags if tags is None or isinstance(tags, dict) else list(tags)
        if self._budget is not None and _log:
            # Rows cost at least their Arrow size once stored, and a ring that this
            # write creates reserves its whole capacity: wait for room first.
            self._budget.admit(
                sum(t.nbytes + self._new_ring_bytes(n, t) for n, t in arrow.items())
            )
        if not self._ddl_lock._is_owned():
            # Let compression catch up first. Not for a write made while this
            # thread holds the engine lock (a rollup writing its windows): it may
            # hold a table lock the compactor needs, and it is bounded by the
            # write that caused it.
            self._compactor.wait_for_room()
        with ExitStack() as stack:
            stack.enter_context(self._ddl_lock)
            self._check_open()  # close() may have run while this call waited
            plan = self._plan(arrow, tag_list, unit, stack)
            self._commit(plan, _log)
        for name in arrow:
            self._expire(self._tables[name], wait=True)
        return sum(t.num_rows for t in arrow.values())

    def _new_ring_bytes(self, name: str, data: pa.Table) -> int:
        """Bytes the ring of a series this write creates reserves, when that is
        known before grouping: a new table, or a tagless one with no series yet.

        Known gap: new series of an existing tagged table are not counted here, so
        one write creating many of them can take the engine past its budget (the
        next write then waits).
        """
        table = self._tables.get(name)
        if table is None:  # inferred on this write; about 8 bytes a column a point
            return DEFAULT_RING_CAPACITY * 8 * data.num_columns
        if table.definition.tags or table.series:
            return 0
        fields = len(table.definition.fields)
        return table.definition.ring_capacity * 8 * (1 + fields)

    def _expire(self, table: Table, wait: bool) -> None:
        """Apply retention at most once a second; readers skip it if a writer holds
        the table (the writer applies it)."""
        if table.definition.retention is None:
            return
        now = time.monotonic()
        if now - table.expired_check < 1.0 or not table.lock.acquire(blocking=wait):
            return
        try:
            table.expired_check = now
            expire(table)
        finally:
            table.lock.release()

    def _plan(
        self,
        arrow: dict[str, pa.Table],
        tags: list[str] | None,
        unit: str,
        stack: ExitStack,
    ) -> list:
        """Validate every table's batch and lock the tables; stores nothing."""
        plan = []
        for name in sorted(arrow):
            data = arrow[name]
            table = self._tables.get(name)
            if table is None:
                definition = infer_definition(data, name, _tags_of(tags, name))
                table = Table(definition, on_seal=self._on_seal)
                grow, is_new = None, True
            else:
                stack.enter_context(table.lock)
                is_new = False
                add_tags, add_fields = new_columns(
                    data, table.definition, _tags_of(tags, name)
                )
                definition = table.definition
                grow = (add_tags, add_fields) if add_tags or add_fields else None
                if grow:
                    definition = TableDef.from_dict(definition.to_dict())
                    definition.tags += add_tags
                    definition.fields.update(add_fields)
                    definition.validate()  # e.g. more fields than a table holds
            batch = normalize(data, definition, unit)
            if grow is None:
                grouping = table.prepare(batch)
            else:
                probe = Table(definition)
                probe.series = {
                    k + (None,) * len(grow[0]): v for k, v in table.series.items()
                }
                grouping = probe.prepare(batch)
            plan.append((table, is_new, grow, batch, grouping))
        return plan

    def _commit(self, plan: list, log: bool = True) -> None:
        """Log, then store and publish a validated plan."""
        if self._store is not None and log:
            for table, is_new, grow, _, _ in plan:
                if is_new or grow:
                    definition = table.definition.to_dict()
                    if grow:
                        definition["tags"] += grow[0]
                        definition["fields"].update(grow[1])
                    self._store.log_create_table(definition)
            self._store.log_write(
                {t.name: _batch_arrow(t, b) for t, _, _, b, _ in plan}
            )
        for table, is_new, grow, batch, grouping in plan:
            if is_new:
                table.fast_ok = self._store is None and not self._listeners.get(
                    table.name
                )
                self._tables[table.name] = table
            with table.lock:
                if grow:
                    table.add_columns(*grow)
                track = bool(self._listeners.get(table.name))
                buffers, rewritten = table.apply(batch, grouping, track)
                table.publish(buffers)
            listeners = self._listeners.get(table.name)
            if listeners:
                data = _batch_arrow(table, batch)
                for listener in list(listeners):
                    listener(table.name, data, rewritten)

    def _recover_table(self, definition: dict) -> None:
        """Storage replay: create or replace a table definition."""
        definition = TableDef.from_dict(definition)
        table = self._tables.get(definition.name)
        if table is None:
            self._register(definition, log=False)
            return
        old = table.definition
        add_tags = [t for t in definition.tags if t not in old.tags]
        add_fields = {f: k for f, k in definition.fields.items() if f not in old.fields}
        table.add_columns(add_tags, add_fields)

    def _recover_write(self, tables: dict[str, pa.Table]) -> None:
        """Storage replay: apply a logged write without logging it again."""
        for name, data in tables.items():
            tags = self._tables[name].definition.tags if name in self._tables else None
            self.write_many({name: data}, tags=tags, _log=False)

    def add_listener(self, table: str, listener: Listener) -> None:
        """Call ``listener(table, batch, rewritten)`` after every committed write to
        ``table``; ``batch`` is the written rows as Arrow (time as timestamp[ns,
        UTC]), ``rewritten`` a boolean mask of the rows that took the merge path
        under the "last" or "first" duplicate policy (None when no row did)."""
        with self._ddl_lock:
            self._listeners.setdefault(table, []).append(listener)
            if table in self._tables:
                self._tables[table].fast_ok = False

    def remove_listener(self, table: str, listener: Listener) -> None:
        """Stop calling a listener added with :meth:`add_listener`."""
        with self._ddl_lock:
            if listener in self._listeners.get(table, []):
                self._listeners[table].remove(listener)
            if table in self._tables:
                self._tables[table].fast_ok = self._store is None and not (
                    self._listeners.get(table)
                )

    def write_lines(
        self,
        payload: bytes | str,
        precision: str = "ns",
        *,
        on_error: str = "raise",
        now: int | None = None,
    ) -> LinesResult:
        """Write InfluxDB line protocol; each measurement is a table.

        Parameters
        ----------
        payload : bytes or str
            Line protocol (UTF-8).
        precision : str
            Unit of the timestamps: ``"ns"``, ``"us"``, ``"ms"``, ``"s"``, ``"m"``,
            ``"h"``.
        on_error : {"raise", "skip"}
            ``"raise"`` stores all lines or none; ``"skip"`` stores the good lines
            and returns the rejected ones with their reasons.
        now : int, optional
            Time (ns) of lines without a timestamp; default the wall clock.

        Returns
        -------
        LinesResult
            ``points`` stored and ``rejected`` lines (line, column, reason, text).

        Raises
        ------
        ParseError
            A malformed line (``on_error="raise"``): line, column and reason.
        SchemaError
            A field's type differs from what is stored; names the line.
        """
        from tsengine.ingest.lineprotocol import parse_lines
        from tsengine.ingest.shape import tag_columns

        parsed = parse_lines(payload, precision=precision, now=now, on_error=on_error)
        tags = {name: tag_columns(t) for name, t in parsed.tables.items()}
        try:
            points = self.write_many(parsed.tables, tags=tags)
        except SchemaError as exc:
            raise SchemaError(
                f"{_conflict_line(self, parsed.tables, payload)}{exc}"
            ) from None
        return LinesResult(points, parsed.rejected)


def _tags_of(tags: list[str] | dict | None, table: str) -> list[str] | None:
    """The tag list that applies to ``table``: one list for all, or per table."""
    return tags.get(table) if isinstance(tags, dict) else tags


def _batch_arrow(table: Table, batch: Batch) -> pa.Table:
    """A normalised batch as Arrow: the log record and what listeners receive."""
    from tsengine.core.reader import field_array

    columns = {"time": ns_to_arrow(batch.times)}
    columns.update(batch.tags)
    for name, col in batch.fields.items():
        columns[name] = field_array(col.kind, col.values, col.valid)
    return pa.table(columns)


def _conflict_line(engine: Engine, tables: dict[str, pa.Table], payload) -> str:
    """``"line N: "`` of the first line whose field type clashes with a stored table
    (slow: only on the error path), or ``""`` if none is found."""
    from tsengine.ingest.lineprotocol import parse_lines
    from tsengine.schema import field_type_of

    clashes = set()
    for name, table in tables.items():
        if name not in engine._tables:
            continue
        stored = engine._tables[name].definition.fields
        for col in table.schema:
            kind = field_type_of(col.type)
            if col.name in stored and kind not in (None, stored[col.name]):
                clashes.add((name, col.name))
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            parsed = parse_lines(line, on_error="skip")
        except Error:
            continue
        for name, table in parsed.tables.items():
            if any((name, c) in clashes for c in table.column_names):
                return f"line {number}: "
    return ""
