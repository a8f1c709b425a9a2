"""Live subscriptions: a table's newly written rows, queued for one DoExchange stream.

The engine calls :meth:`Subscription.offer` after every committed write, under its own
lock, so ``offer`` only appends to a queue. The DoExchange handler drains the queue on
its thread, filters rows by ``where``, projects ``fields`` and sends bounded batches.

Memory per subscriber is bounded: when the queue holds more than ``max_bytes`` of
unsent rows (a consumer slower than the writers), the subscription is marked
overflowed, its queue is dropped and the stream ends with an UNAVAILABLE error telling
the client to resubscribe and read the gap with a ``read`` command. Rows are never
dropped silently.

Columns added to the table after the subscription started are not sent: the stream's
schema is fixed when it starts.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tsengine.flight.queries import bounded_batches

#: Default limit of unsent rows queued for one subscriber, in bytes.
SUBSCRIBER_MAX_BYTES = 64 << 20


class Subscription:
    """Rows written to ``table`` after :meth:`start`, for one consumer.

    Parameters
    ----------
    engine : tsengine.Engine
        The engine whose writes are followed.
    table : str
        Table (or rollup) name; it must exist.
    where : dict, optional
        Tag name to a value or list of values (null matches a missing tag).
    fields : list of str, optional
        Fields to send (default: all fields at start).
    max_bytes : int
        Queue limit in bytes before the subscription overflows.
    """

    def __init__(
        self,
        engine: Any,
        table: str,
        where: dict[str, Any] | None = None,
        fields: list[str] | None = None,
        max_bytes: int = SUBSCRIBER_MAX_BYTES,
    ) -> None:
        definition = engine.definition(table)
        unknown_tags = [t for t in where or {} if t not in definition.tags]
        unknown_fields = [f for f in fields or () if f not in definition.fields]
        if unknown_tags or unknown_fields:
            from tsengine.errors import SchemaError

            raise SchemaError(
                f"subscription to {table!r} names unknown tag(s) {unknown_tags!r} or "
                f"field(s) {unknown_fields!r} (tags: {definition.tags!r}, fields: "
                f"{list(definition.fields)!r})"
            )
        self.engine = engine
        self.table = table
        self.schema = definition.arrow_schema(fields)
        self.where = dict(where or {})
        self.max_bytes = max_bytes
        self.overflowed = False
        self.rows_sent = 0
        self._queue: deque[pa.Table] = deque()
        self._queued_bytes = 0
        self._closed = False
        self._ready = threading.Condition(threading.Lock())

    # -- producer side: called by the engine after each committed write ------------

    def offer(self, table: str, data: pa.Table, rewritten=None) -> None:
        """Queue one written batch (engine listener; must stay cheap)."""
        size = data.nbytes
        with self._ready:
            if self._closed or self.overflowed:
                return
            if self._queued_bytes + size > self.max_bytes:
                self.overflowed = True
                self._queue.clear()
                self._queued_bytes = 0
            else:
                self._queue.append(data)
                self._queued_bytes += size
            self._ready.notify()

    # -- consumer side: the DoExchange handler thread --------------------------------

    def start(self) -> None:
        """Begin following writes; rows committed from now on are delivered."""
        self.engine.add_listener(self.table, self.offer)

    def close(self) -> None:
        """Stop following writes and drop anything unsent (idempotent)."""
        self.engine.remove_listener(self.table, self.offer)
        with self._ready:
            self._closed = True
            self._queue.clear()
            self._queued_bytes = 0
            self._ready.notify_all()

    def next(self, timeout: float) -> pa.Table | None:
        """The next written batch, or None after ``timeout`` seconds without one."""
        with self._ready:
            if not self._queue and not self._closed and not self.overflowed:
                self._ready.wait(timeout)
            if not self._queue:
                return None
            data = self._queue.popleft()
            self._queued_bytes -= data.nbytes
            return data

    def wake(self) -> None:
        """Make a waiting :meth:`next` return now (server shutdown)."""
        with self._ready:
            self._ready.notify_all()

    def shape(self, data: pa.Table) -> list[pa.RecordBatch]:
        """Filter, project and type one written batch to the stream's schema."""
        if self.where:
            data = data.filter(self._mask(data))
        if data.num_rows == 0:
            return []
        columns = []
        for target in self.schema:
            if target.name in data.column_names:
                column = data.column(target.name)
                if column.type != target.type:
                    column = column.cast(target.type)
            else:
                column = pa.nulls(data.num_rows, target.type)
            columns.append(column)
        shaped = pa.Table.from_arrays(columns, schema=self.schema)
        self.rows_sent += shaped.num_rows
        return list(bounded_batches(shaped))

    def _mask(self, data: pa.Table) -> pa.ChunkedArray:
        mask = None
        for tag, wanted in self.where.items():
            values = wanted if isinstance(wanted, list) else [wanted]
            if tag in data.column_names:
                column = data.column(tag)
            else:
                column = pa.nulls(data.num_rows, pa.string())
            present = [v for v in values if v is not None]
            hit = pc.is_in(column, value_set=pa.array(present, pa.string()))
            if None in values:
                hit = pc.or_(hit, pc.is_null(column))
            mask = hit if mask is None else pc.and_(mask, hit)
        return mask
