"""Rows of one series to segment chunks (one encoded block per column) and back.

A block is encoded by the codec named in the chunk's ``meta["codec"]``, so files stay
readable when the default changes. The one codec so far, ``"arrow-zstd"``, stores a
column as an Arrow IPC stream of a single array with zstd-compressed buffers: exact for
every type (NaN payloads, nulls, strings) and decoded with Arrow's validating reader.

Known gap: the column codecs of :mod:`tsengine.codecs` (ALP, delta-of-delta, ...) are
not used yet because they were not in the repository when this module was written;
adding them is a new codec name here, with ``"arrow-zstd"`` kept for old files.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tsengine.core.merge import Rows
from tsengine.core.reader import field_array
from tsengine.errors import CorruptionError
from tsengine.schema import FIELD_TYPES, TIME_TYPE
from tsengine.storage.segment import Chunk

CODEC = "arrow-zstd"
_WRITE_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")
_SCHEMA_CACHE: dict[pa.DataType, pa.Schema] = {}


def _encode_array(array: pa.Array) -> bytes:
    schema = _SCHEMA_CACHE.setdefault(array.type, pa.schema([("v", array.type)]))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema, options=_WRITE_OPTIONS) as writer:
        writer.write_batch(pa.record_batch([array], schema=schema))
    return sink.getvalue().to_pybytes()


def _decode_array(data: bytes, arrow_type: pa.DataType, rows: int) -> pa.Array:
    try:
        table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
        table.validate(full=True)
    except (pa.ArrowException, ValueError, OSError, TypeError, IndexError) as exc:
        raise CorruptionError(f"block does not decode: {exc}") from exc
    if table.num_columns != 1 or table.num_rows != rows:
        raise CorruptionError(
            f"block holds {table.num_columns} columns of {table.num_rows} rows, "
            f"expected 1 of {rows}"
        )
    column = table.column(0)
    if column.type != arrow_type:
        raise CorruptionError(f"block has type {column.type}, expected {arrow_type}")
    return column.combine_chunks()


def rows_to_chunk(
    table: str,
    key: tuple,
    rows: Rows,
    fields: list[tuple[str, str]],
    *,
    hot: bool,
) -> Chunk:
    """Encode the rows of one series as a segment chunk.

    Parameters
    ----------
    table : str
        Table name.
    key : tuple
        Tag values of the series (str or None), in the table's tag order.
    rows : Rows
        Times (int64 ns, sorted) and field columns as the core holds them; not
        modified.
    fields : list of (name, kind)
        Name and type of each column of ``rows.cols``, in order.
    hot : bool
        True for a snapshot of a ring (replaced at the next checkpoint), False for
        a sealed chunk (immutable).

    Returns
    -------
    Chunk
        ``meta`` holds the codec, the field list and ``hot``.
    """
    n = len(rows)
    blocks = {"time": _encode_array(pa.array(rows.times, type=pa.int64()))}
    for (name, kind), values, valid in zip(fields, rows.cols, rows.valids, strict=True):
        blocks[name] = _encode_array(field_array(kind, values, valid))
    t_min = int(rows.times[0]) if n else 0
    t_max = int(rows.times[-1]) if n else 0
    meta = {"codec": CODEC, "fields": [list(f) for f in fields], "hot": hot}
    return Chunk(table, tuple(key), t_min, t_max, n, blocks, meta)


def chunk_fields(chunk: Chunk) -> list[tuple[str, str]]:
    """The (name, kind) list a chunk was written with; CorruptionError if unusable."""
    meta = chunk.meta
    if meta.get("codec") != CODEC:
        raise CorruptionError(f"unknown block codec {meta.get('codec')!r}")
    try:
        fields = [(str(name), str(kind)) for name, kind in meta["fields"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptionError(f"chunk field list is malformed: {exc!r}") from exc
    bad = [kind for _, kind in fields if kind not in FIELD_TYPES]
    if bad or set(chunk.blocks) != {"time", *(name for name, _ in fields)}:
        raise CorruptionError(
            f"chunk fields {fields!r} do not match its blocks {list(chunk.blocks)!r}"
        )
    return fields


def chunk_to_arrow(chunk: Chunk, tags: list[str]) -> pa.Table:
    """Decode a chunk into a write batch: ``time``, one column per tag, the fields.

    Raises
    ------
    CorruptionError
        If the codec is unknown or a block does not decode to ``chunk.rows`` values
        of the expected type.
    """
    fields = chunk_fields(chunk)
    if len(chunk.series_key) != len(tags):
        raise CorruptionError(
            f"series key {chunk.series_key!r} does not match the tags {tags!r}"
        )
    n = chunk.rows
    times = _decode_array(chunk.blocks["time"], pa.int64(), n)
    if n and not bool(np.all(np.diff(times.to_numpy()) >= 0)):
        raise CorruptionError("chunk times are not sorted")
    columns = {"time": times.view(TIME_TYPE)}
    for tag, value in zip(tags, chunk.series_key, strict=True):
        if value is not None and not isinstance(value, str):
            raise CorruptionError(f"tag value {value!r} of {tag!r} is not a string")
        columns[tag] = pa.array([value] * n, pa.string())
    for name, kind in fields:
        columns[name] = _decode_array(chunk.blocks[name], FIELD_TYPES[kind], n)
    return pa.table(columns)
