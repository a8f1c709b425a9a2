"""Running query commands against an engine and cutting results into bounded batches.

A result leaves the server as record batches of at most about
:data:`tsengine._config.MAX_BATCH_BYTES`: zero-copy slices of the engine's result, so a
10 M-point read streams as many messages that the client decodes while the server is
still sending, and no message nears gRPC's 2 GiB limit.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from tsengine._config import MAX_BATCH_BYTES
from tsengine.errors import SchemaError
from tsengine.flight.commands import Command
from tsengine.flight.errors import RequestError, UnsupportedError

#: Schema of a ``catalog`` result: one row per table or rollup.
CATALOG_SCHEMA = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("fields", pa.string()),  # JSON object: field name -> type name
        pa.field("rows", pa.int64()),
        pa.field("series", pa.int64()),
        pa.field("memory_bytes", pa.int64()),
        pa.field("definition", pa.string()),  # JSON of the full definition
    ]
)


def rollup_names(engine: Any) -> list[str]:
    """Names of the engine's rollups (none if the engine has no rollups yet)."""
    rollups = getattr(engine, "rollups", None)
    return sorted(rollups()) if callable(rollups) else []


def log_position(engine: Any) -> tuple[int | None, int | None]:
    """``(seq, durable_seq)`` of the engine's write-ahead log; ``(None, None)`` in
    memory.

    ``seq`` is the last logged record: read right after a write returns, it is at or
    after that write's record, so the write is durable once ``durable_seq >= seq``.
    """
    seq = _attribute(engine, "last_seq")
    durable = _attribute(engine, "durable_seq")
    return seq, durable


def durable_seq(engine: Any) -> int | None:
    """Highest write-ahead-log sequence known fsynced; None for an in-memory engine."""
    return _attribute(engine, "durable_seq")


def _attribute(engine: Any, name: str) -> int | None:
    # Stopgap: Engine does not expose its log position yet, so fall back to its
    # durable store's properties. Engine.last_seq / Engine.durable_seq would remove
    # the reach into a private attribute.
    value = getattr(engine, name, None)
    if value is None:
        value = getattr(getattr(engine, "_store", None), name, None)
    if callable(value):
        value = value()
    return None if value is None else int(value)


def run(engine: Any, command: Command) -> pa.Table:
    """Execute a ``read``, ``latest``, ``aggregate`` or ``catalog`` command.

    Raises
    ------
    TableNotFoundError, SchemaError, TimestampError, RequestError
        From the engine or from argument checks; the server maps them to statuses.
    """
    if command.kind == "catalog":
        return catalog(engine)
    if command.kind == "read":
        return engine.read(command.table, **command.args)
    if command.kind == "latest":
        return engine.latest(command.table, **command.args)
    if command.kind == "aggregate":
        method = _aggregate_method(engine, command.args)
        return method(command.table, **command.args)
    raise RequestError(f"command kind {command.kind!r} cannot be run as a query")


def result_schema(engine: Any, command: Command) -> tuple[pa.Schema, int]:
    """Schema and row count (-1 when unknown) of a command's result.

    ``read`` and ``latest`` schemas come from the table definition without running
    anything. An ``aggregate``'s columns depend on its arguments, so it is run once
    (its row count is then known); a later DoGet runs it again.
    """
    if command.kind in ("read", "latest"):
        fields = command.args.get("fields")
        definition = engine.definition(command.table)
        unknown = [f for f in fields or () if f not in definition.fields]
        if unknown:
            raise SchemaError(
                f"fields {unknown!r} are not fields of table {command.table!r} "
                f"(fields: {list(definition.fields)!r})"
            )
        return definition.arrow_schema(fields), -1
    table = run(engine, command)
    return table.schema, table.num_rows


def _aggregate_method(engine: Any, args: dict[str, Any]):
    method = getattr(engine, "aggregate", None)
    if method is None:
        raise UnsupportedError("this engine has no aggregate() yet")
    params = inspect.signature(method).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        accepted = [n for n in params if n != "table"]
        unknown = sorted(set(args) - set(accepted))
        if unknown:
            raise RequestError(
                f"aggregate got unknown argument(s) {unknown!r}; accepted: {accepted!r}"
            )
    return method


def catalog(engine: Any) -> pa.Table:
    """One row per table and rollup: name, kind, tags, fields, rows, bytes."""
    stats = engine.stats().get("tables", {})
    rollups = set(rollup_names(engine))
    names = sorted(set(engine.tables()) | rollups)
    rows: dict[str, list] = {f.name: [] for f in CATALOG_SCHEMA}
    for name in names:
        definition = _definition_dict(engine, name)
        table_stats = stats.get(name, {})
        rows["name"].append(name)
        rows["kind"].append("rollup" if name in rollups else "table")
        rows["tags"].append(list(definition.get("tags", [])))
        rows["fields"].append(json.dumps(definition.get("fields", {})))
        rows["rows"].append(table_stats.get("points"))
        rows["series"].append(table_stats.get("series"))
        rows["memory_bytes"].append(table_stats.get("memory_bytes"))
        rows["definition"].append(json.dumps(definition, default=str))
    return pa.table(rows, schema=CATALOG_SCHEMA)


def _definition_dict(engine: Any, name: str) -> dict:
    try:
        definition = engine.definition(name)
    except LookupError:
        # a rollup the engine does not describe as a table: derive from its schema
        schema = engine.schema(name)
        return {"name": name, "fields": {f.name: str(f.type) for f in schema}}
    return definition.to_dict()


def bounded_table(table: pa.Table, max_bytes: int = MAX_BATCH_BYTES) -> pa.Table:
    """``table`` re-chunked so no record batch is over about ``max_bytes``.

    Zero-copy. With fixed-width columns only (tags are dictionary indices) the row
    width is known from the schema, so Arrow's C++ slicing does the work and a table
    whose batches are already small enough is returned as is; otherwise
    :func:`bounded_batches` measures each batch. Dictionaries are not counted: a
    stream sends each one once, not with every batch.
    """
    row_bytes = fixed_row_bytes(table.schema)
    if row_bytes is None or table.num_columns == 0:
        batches = list(bounded_batches(table, max_bytes))
        return pa.Table.from_batches(batches, table.schema)
    rows = max(1, int(max_bytes // row_bytes))
    # A stream's batches are never longer than the chunks of its first column.
    if all(len(chunk) <= rows for chunk in table.column(0).chunks):
        return table
    return pa.Table.from_batches(table.to_batches(max_chunksize=rows), table.schema)


def table_parts(table: pa.Table, max_bytes: int) -> Iterator[pa.Table]:
    """Zero-copy row ranges of ``table`` of about ``max_bytes`` each, in order."""
    row_bytes = fixed_row_bytes(table.schema)
    if row_bytes is None:
        row_bytes = table.nbytes / max(1, table.num_rows)
    step = max(1, int(max_bytes // max(row_bytes, 1.0)))
    for offset in range(0, table.num_rows, step):
        yield table.slice(offset, step)


def fixed_row_bytes(schema: pa.Schema) -> float | None:
    """Bytes per row of a schema whose columns all have a fixed width, validity bits
    included; None if any column has variable width (strings, lists)."""
    total = 0.0
    for field in schema:
        kind = field.type
        if pa.types.is_dictionary(kind):
            kind = kind.index_type
        try:
            bits = kind.bit_width
        except ValueError:  # variable width: no bit width
            return None
        total += (bits + 1) / 8
    return total


def bounded_batches(
    table: pa.Table | pa.RecordBatch, max_bytes: int = MAX_BATCH_BYTES
) -> Iterator[pa.RecordBatch]:
    """Zero-copy slices of ``table`` of at most about ``max_bytes`` each.

    The row count per slice comes from the average row width of each source batch
    (dictionaries included), so a slice may exceed ``max_bytes`` only by one row or
    by the size of a shared dictionary. Empty batches are skipped.
    """
    batches = table.to_batches() if isinstance(table, pa.Table) else [table]
    for batch in batches:
        n = batch.num_rows
        if n == 0:
            continue
        row_bytes = max(1, batch.nbytes // n)
        step = max(1, max_bytes // row_bytes)
        if step >= n:
            yield batch
            continue
        for offset in range(0, n, step):
            yield batch.slice(offset, step)
