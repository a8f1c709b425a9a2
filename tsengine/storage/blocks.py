"""Rows of one series to segment chunks (one encoded block per column) and back.

Each column is encoded by :func:`tsengine.codecs.encode_column`, which picks the
smallest codec for it (ALP for decimal floats, step or delta-of-delta for times, ...)
and frames it with its own header and crc32; ``meta["codec"]`` names the block family
so that another one can be added later without breaking old files. A chunk holds at
most :data:`tsengine.codecs.MAX_ROWS` rows, so longer runs become several chunks.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tsengine.codecs import MAX_ROWS, decode_column, encode_column
from tsengine.core.merge import Rows
from tsengine.core.reader import field_array
from tsengine.errors import CorruptionError
from tsengine.schema import FIELD_TYPES, TIME_TYPE
from tsengine.storage.segment import Chunk

CODEC = "tsengine-column-1"

#: Cheapest codec per kind: for data that a later checkpoint replaces anyway (ring
#: snapshots, chunks the engine has not compressed yet). Costs about a copy.
FAST_CODECS = {
    "time": "raw",
    "int64": "raw",
    "uint64": "raw",
    "float64": "raw",
    "bool": "bitmap",
    "string": "dict",
}


def _validity(valid: np.ndarray | None) -> np.ndarray | None:
    return None if valid is None else valid.astype(bool, copy=False)


def rows_to_chunks(
    table: str,
    key: tuple,
    rows: Rows,
    fields: list[tuple[str, str]],
    *,
    hot: bool,
    fast: bool = False,
    max_rows: int = MAX_ROWS,
) -> list[Chunk]:
    """Encode the rows of one series as segment chunks of at most ``max_rows`` rows.

    Parameters
    ----------
    table : str
        Table name.
    key : tuple
        Tag values of the series (str or None), in the table's tag order.
    rows : Rows
        Times (int64 ns, sorted) and field columns as the core holds them (bool as
        uint8, string as object, validity as uint8 or None); not modified.
    fields : list of (name, kind)
        Name and type of each column of ``rows.cols``, in order.
    hot : bool
        True for a snapshot of a ring (replaced at the next checkpoint), False for
        a sealed chunk (immutable).
    fast : bool
        Use :data:`FAST_CODECS` instead of letting the codecs pick the smallest.
    max_rows : int
        Rows per chunk at most.

    Returns
    -------
    list of Chunk
        ``meta`` holds the codec family, the field list and ``hot``.
    """
    chunks = []
    meta = {"codec": CODEC, "fields": [list(f) for f in fields], "hot": hot}
    for lo in range(0, len(rows), max_rows):
        part = rows.slice(lo, lo + max_rows)
        n = len(part)
        codec = FAST_CODECS if fast else dict.fromkeys(FAST_CODECS, "auto")
        blocks = {"time": encode_column(part.times, kind="time", codec=codec["time"])}
        for (name, kind), values, valid in zip(
            fields, part.cols, part.valids, strict=True
        ):
            if kind == "bool":
                values = values.astype(bool, copy=False)
            blocks[name] = encode_column(
                values, _validity(valid), kind=kind, codec=codec[kind]
            )
        t_min = int(part.times[0]) if n else 0
        t_max = int(part.times[-1]) if n else 0
        chunks.append(Chunk(table, tuple(key), t_min, t_max, n, blocks, dict(meta)))
    return chunks


def encoded_to_chunk(
    table: str, key: tuple, chunk, fields: list[tuple[str, str]]
) -> Chunk | None:
    """A segment chunk made of the blocks a compressed engine chunk already holds,
    without encoding anything again; None when the chunk is not (yet) compressed or
    spans several blocks per column.

    Parameters
    ----------
    chunk : tsengine.core.chunk.SealedChunk
        Its encoded column blocks (time first) are shared, not copied.
    fields : list of (name, kind)
        Name and type of the chunk's field columns, in order.
    """
    # Known gap: reads the chunk's private block list; a public accessor on
    # SealedChunk would make this independent of the core's internals
    columns = getattr(chunk, "_blocks", None)
    if columns is None or any(len(pieces) != 1 for pieces in columns):
        return None
    names = ["time", *(name for name, _ in fields)]
    if len(columns) != len(names):
        return None
    blocks = {name: pieces[0] for name, pieces in zip(names, columns, strict=True)}
    meta = {"codec": CODEC, "fields": [list(f) for f in fields], "hot": False}
    return Chunk(table, tuple(key), chunk.tmin, chunk.tmax, chunk.n, blocks, meta)


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


def _decode(chunk: Chunk, name: str, kind: str, source: str, offsets: dict):
    values, valid = decode_column(
        chunk.blocks[name], source=source, offset=offsets.get(name, 0)
    )
    expected = np.dtype(object if kind == "string" else kind.replace("time", "int64"))
    if len(values) != chunk.rows or values.dtype != expected:
        raise CorruptionError(
            f"{source!r}: block {name!r} decodes to {len(values)} {values.dtype} "
            f"values, expected {chunk.rows} {kind}"
        )
    return values, valid


def chunk_to_arrow(
    chunk: Chunk,
    tags: list[str],
    *,
    source: str = "<memory>",
    offsets: dict[str, int] | None = None,
) -> pa.Table:
    """Decode a chunk into a write batch: ``time``, one column per tag, the fields.

    Parameters
    ----------
    chunk : Chunk
        As read from a segment.
    tags : list of str
        Tag names matching ``chunk.series_key``.
    source, offsets
        File name and absolute offset of each block, quoted in errors.

    Raises
    ------
    CorruptionError
        If the codec family is unknown, a block does not decode to ``chunk.rows``
        values of the expected type, or the times are not sorted.
    """
    fields = chunk_fields(chunk)
    offsets = offsets or {}
    if len(chunk.series_key) != len(tags):
        raise CorruptionError(
            f"series key {chunk.series_key!r} does not match the tags {tags!r}"
        )
    times, _ = _decode(chunk, "time", "time", source, offsets)
    if not bool(np.all(times[1:] >= times[:-1])):
        raise CorruptionError(f"{source!r}: chunk times are not sorted")
    columns = {"time": pa.array(times, type=pa.int64()).view(TIME_TYPE)}
    for tag, value in zip(tags, chunk.series_key, strict=True):
        if value is not None and not isinstance(value, str):
            raise CorruptionError(f"tag value {value!r} of {tag!r} is not a string")
        columns[tag] = pa.array([value] * chunk.rows, pa.string())
    for name, kind in fields:
        values, valid = _decode(chunk, name, kind, source, offsets)
        columns[name] = field_array(kind, values, valid)
    return pa.table(columns)
