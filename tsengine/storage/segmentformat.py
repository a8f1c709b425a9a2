"""The byte layout of segment files and the chunk records they hold.

Layout (little-endian)::

    header   magic b"TSESEG" | u16 version | u32 crc32(previous 8 bytes)
    chunk    magic b"CHNK" | u32 descriptor length | u32 crc32(descriptor)
             | descriptor (JSON) | its blocks, back to back
    ...
    footer   per chunk: u64 offset | u32 descriptor length | u32 crc32(descriptor)
    trailer  u64 footer offset | u32 footer length | u32 crc32(footer) | b"TSESEGFT"

A descriptor names the table, series key (tag values), first and last time (int64
ns), row count, free-form ``meta`` (JSON) and per block ``[name, offset, length,
crc32]``. Blocks are opaque bytes (the column codecs' output). Chunks tile the file
from the header to the footer, so every byte is under some checksum: a flipped byte
anywhere is detected. The footer is the index (16 bytes per chunk).

:class:`Chunk` is a chunk in memory, :class:`ChunkEntry` its index entry in a file;
:func:`descriptor_bytes` and :func:`entry_from_descriptor` turn an entry into its
descriptor JSON and back. :mod:`tsengine.storage.segment` writes and reads the files.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

MAGIC = b"TSESEG"
FORMAT_VERSION = 1
HEADER = struct.Struct("<6sHI")
CHUNK_HEAD = struct.Struct("<4sII")
CHUNK_MAGIC = b"CHNK"
TRAILER = struct.Struct("<QII8s")
FOOTER_ENTRY = struct.Struct("<QII")
TRAILER_MAGIC = b"TSESEGFT"


@dataclass
class Chunk:
    """One sealed chunk of one series: metadata plus one encoded block per column.

    ``blocks`` maps a column name to its bytes; the segment stores them verbatim.
    ``t_min`` and ``t_max`` are int64 ns; ``meta`` must be JSON-compatible.
    """

    table: str
    series_key: tuple
    t_min: int
    t_max: int
    rows: int
    blocks: dict[str, bytes]
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ChunkEntry:
    """Index entry of a chunk in a segment file; blocks are ``(name, offset,
    length, crc32)`` with absolute byte offsets."""

    offset: int
    table: str
    series_key: tuple
    t_min: int
    t_max: int
    rows: int
    meta: dict
    blocks: tuple

    @property
    def end(self) -> int:
        """Offset just past the chunk's last block."""
        last = self.blocks[-1] if self.blocks else None
        return last[1] + last[2] if last else self.blocks_start

    @property
    def blocks_start(self) -> int:
        """Offset of the first block (just past the inline descriptor)."""
        return self.offset + CHUNK_HEAD.size + len(descriptor_bytes(self))


def _descriptor(entry: ChunkEntry) -> dict:
    return {
        "table": entry.table,
        "key": list(entry.series_key),
        "t_min": entry.t_min,
        "t_max": entry.t_max,
        "rows": entry.rows,
        "meta": entry.meta,
        "blocks": [list(b) for b in entry.blocks],
    }


def descriptor_bytes(entry: ChunkEntry) -> bytes:
    """The inline descriptor of ``entry``: compact JSON, sorted keys, UTF-8."""
    return _dumps(_descriptor(entry))


def _dumps(obj) -> bytes:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def entry_from_descriptor(obj, offset: int) -> ChunkEntry:
    """Build an entry from parsed descriptor JSON, checking every field's type."""
    try:
        blocks = tuple(
            (str(n), int(o), int(ln), int(c)) for n, o, ln, c in obj["blocks"]
        )
        entry = ChunkEntry(
            offset=offset,
            table=obj["table"],
            series_key=tuple(obj["key"]),
            t_min=obj["t_min"],
            t_max=obj["t_max"],
            rows=obj["rows"],
            meta=obj["meta"],
            blocks=blocks,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed chunk descriptor: {exc!r}") from exc
    if not isinstance(obj["key"], list):
        raise ValueError("chunk descriptor key is not a list")
    ints = (entry.t_min, entry.t_max, entry.rows)
    if not isinstance(entry.table, str) or not all(type(v) is int for v in ints):
        raise ValueError("malformed chunk descriptor field types")
    if not isinstance(entry.meta, dict):
        raise ValueError("chunk descriptor meta is not an object")
    return entry
