"""Segment files: immutable files of sealed chunks, each column an encoded block.

:func:`write_segment` writes a file and :class:`SegmentReader` reads it back. The byte
layout, :class:`Chunk` and :class:`ChunkEntry` are in
:mod:`~tsengine.storage.segmentformat` (and importable from here). Every byte of a
file is under some checksum. When the footer index is damaged the reader walks the
inline descriptors instead, so one bad byte never hides the other chunks. A damaged
descriptor or block loses its own chunk only, with an error that names the file and
the offset.

Files are written to a temporary name, fsynced, renamed and the directory fsynced, so
a segment either exists whole or not at all.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from tsengine.errors import CorruptionError
from tsengine.storage._crc import crc32
from tsengine.storage._fsio import atomic_write
from tsengine.storage.diagnostics import StorageFormatError, corruption
from tsengine.storage.segmentformat import (
    CHUNK_HEAD,
    CHUNK_MAGIC,
    FOOTER_ENTRY,
    FORMAT_VERSION,
    HEADER,
    MAGIC,
    TRAILER,
    TRAILER_MAGIC,
    Chunk,
    ChunkEntry,
    descriptor_bytes,
    entry_from_descriptor,
)


class SegmentInfo(NamedTuple):
    """What :func:`write_segment` wrote: file size in bytes and the chunk index."""

    size: int
    entries: list[ChunkEntry]


def write_segment(path: str | Path, chunks: Iterable[Chunk]) -> SegmentInfo:
    """Write ``chunks`` to a new segment file at ``path``, atomically and durably.

    Parameters
    ----------
    path : str or Path
        Destination; replaced if it exists. Its directory must exist.
    chunks : iterable of Chunk
        Written in order; block bytes are not copied before the write.

    Returns
    -------
    SegmentInfo
        The file size and one entry per chunk, as :class:`SegmentReader` would
        find them.
    """
    index: list[bytes] = []
    entries: list[ChunkEntry] = []

    def parts() -> Iterator[bytes]:
        # Header, then each chunk's descriptor and blocks, then footer and trailer
        head = struct.pack("<6sH", MAGIC, FORMAT_VERSION)
        yield head + struct.pack("<I", crc32(head))
        pos = HEADER.size
        for chunk in chunks:
            entry = ChunkEntry(
                offset=pos,
                table=chunk.table,
                series_key=tuple(chunk.series_key),
                t_min=int(chunk.t_min),
                t_max=int(chunk.t_max),
                rows=int(chunk.rows),
                meta=dict(chunk.meta),
                blocks=(),
            )
            # Block offsets depend on the descriptor's length, which depends on them
            blocks, desc = _place_blocks(entry, chunk.blocks)
            crc = crc32(desc)
            yield CHUNK_HEAD.pack(CHUNK_MAGIC, len(desc), crc)
            yield desc
            yield from chunk.blocks.values()
            index.append(FOOTER_ENTRY.pack(pos, len(desc), crc))
            entries.append(blocks)
            pos = blocks.end
        footer = b"".join(index)
        yield footer
        yield TRAILER.pack(pos, len(footer), crc32(footer), TRAILER_MAGIC)

    return SegmentInfo(atomic_write(path, parts()), entries)


def _place_blocks(entry: ChunkEntry, blocks: dict) -> tuple[ChunkEntry, bytes]:
    # Iterate to a fixed point: each pass can only lengthen the descriptor's digits
    lengths = [
        (str(name), memoryview(b).nbytes, crc32(b)) for name, b in blocks.items()
    ]
    start = entry.offset + CHUNK_HEAD.size
    desc_len = 0
    while True:
        at = start + desc_len
        placed = []
        for name, length, crc in lengths:
            placed.append((name, at, length, crc))
            at += length
        candidate = replace(entry, blocks=tuple(placed))
        desc = descriptor_bytes(candidate)
        if len(desc) == desc_len:
            return candidate, desc
        desc_len = len(desc)


class SegmentReader:
    """Read chunks from one segment file, checking every checksum.

    Opening reads the header, trailer, footer and inline descriptors; problems there
    are collected in :attr:`errors` (the chunks found through the inline descriptors
    stay readable). Blocks are read on demand with ``pread`` and their crc32 checked.

    Raises
    ------
    StorageFormatError
        If the file declares a format version this code does not know.
    OSError
        If the file cannot be opened.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        #: Damage found, as CorruptionError values naming file and offset.
        self.errors: list[CorruptionError] = []
        self._fd = os.open(self.path, os.O_RDONLY)
        try:
            self.size = os.fstat(self._fd).st_size
            self.entries: list[ChunkEntry] = self._load_index()
        except BaseException:
            os.close(self._fd)
            raise

    def _read(self, offset: int, length: int) -> bytes:
        return os.pread(self._fd, length, offset)

    def _load_index(self) -> list[ChunkEntry]:
        # Header: a checksummed unknown version is a newer format, not damage
        head = self._read(0, HEADER.size)
        if len(head) < HEADER.size:
            self.errors.append(corruption(self.path, 0, "segment header cut short"))
            return []
        magic, version, crc = HEADER.unpack(head)
        if magic != MAGIC or crc32(head[:-4]) != crc:
            self.errors.append(corruption(self.path, 0, "damaged segment header"))
        elif version != FORMAT_VERSION:
            raise StorageFormatError(
                f"{str(self.path)!r}: segment format version {version} is not "
                f"supported (this tsengine reads version {FORMAT_VERSION})"
            )

        # Footer index, then each chunk's inline descriptor; chunks tile the file
        footer_at, index = self._read_footer()
        if index is None:
            return self._walk_descriptors(footer_at)
        entries = []
        pos: int | None = HEADER.size  # None after a damaged descriptor
        for at, length, crc in index:
            if pos is not None and at != pos:
                self.errors.append(corruption(self.path, pos, "unindexed bytes"))
            raw = self._read(at, CHUNK_HEAD.size + length)
            entry = self._parse_inline(raw, 0, at)
            if entry is None or crc32(raw[CHUNK_HEAD.size :]) != crc:
                self.errors.append(
                    corruption(self.path, at, "damaged chunk descriptor")
                )
                pos = None
                continue
            entries.append(entry)
            pos = entry.end
        if pos is not None and pos != footer_at:
            self.errors.append(
                corruption(self.path, pos, f"chunks end at {pos}, index at {footer_at}")
            )
        return [e for e in entries if e.end <= footer_at]

    def _read_footer(self) -> tuple[int, list[tuple[int, int, int]] | None]:
        """Return (footer offset, index), or (best end guess, None) when damaged."""
        end = self.size - TRAILER.size
        if end < HEADER.size:
            self.errors.append(corruption(self.path, 0, "segment trailer missing"))
            return max(self.size, HEADER.size), None
        footer_at, length, crc, magic = TRAILER.unpack(self._read(end, TRAILER.size))
        if magic != TRAILER_MAGIC or footer_at + length != end:
            problem, where = "damaged segment trailer", end
        elif length % FOOTER_ENTRY.size:
            problem, where = "malformed footer", footer_at
        else:
            raw = self._read(footer_at, length)
            if crc32(raw) == crc:
                return footer_at, list(FOOTER_ENTRY.iter_unpack(raw))
            problem, where = "footer crc32 mismatch", footer_at
        self.errors.append(corruption(self.path, where, problem + "; scanning chunks"))
        return self.size, None

    def _walk_descriptors(self, limit: int) -> list[ChunkEntry]:
        """Recover the index from the inline descriptors, skipping damaged ones."""
        entries: list[ChunkEntry] = []
        data = self._read(0, limit)
        pos = HEADER.size
        while pos < len(data):
            entry = self._parse_inline(data, pos)
            if entry is not None:
                entries.append(entry)
                pos = entry.end
                continue
            # Skip to the next chunk that checks out; the index follows the last one
            nxt = data.find(CHUNK_MAGIC, pos + 1)
            while nxt >= 0 and self._parse_inline(data, nxt) is None:
                nxt = data.find(CHUNK_MAGIC, nxt + 1)
            end = len(data) if nxt < 0 else nxt
            detail = f"no valid chunk in bytes {pos} to {end}"
            if nxt < 0:
                detail += " (the damaged index, or chunks lost with it)"
            self.errors.append(corruption(self.path, pos, detail))
            if nxt < 0:
                break
            pos = nxt
        return entries

    def _parse_inline(self, data: bytes, pos: int, base: int = 0) -> ChunkEntry | None:
        """The chunk whose header is at ``data[pos]`` (file offset ``base + pos``),
        or None unless its descriptor checks out and its blocks fit in the file."""
        if len(data) - pos < CHUNK_HEAD.size:
            return None
        magic, length, crc = CHUNK_HEAD.unpack_from(data, pos)
        raw = data[pos + CHUNK_HEAD.size : pos + CHUNK_HEAD.size + length]
        if magic != CHUNK_MAGIC or len(raw) != length or crc32(raw) != crc:
            return None
        try:
            entry = entry_from_descriptor(json.loads(raw), base + pos)
        except ValueError:
            return None
        if entry.blocks_start != base + pos + CHUNK_HEAD.size + length:
            return None
        return entry if entry.end <= self.size else None

    def read_block(self, entry: ChunkEntry, name: str) -> bytes:
        """Bytes of column ``name`` of ``entry``, checked against their crc32.

        Raises
        ------
        CorruptionError
            Naming the file and the block's offset, if the bytes do not match.
        KeyError
            If the chunk has no column ``name``.
        """
        for block_name, offset, length, crc in entry.blocks:
            if block_name == name:
                data = self._read(offset, length)
                if len(data) != length or crc32(data) != crc:
                    raise corruption(
                        self.path,
                        offset,
                        f"block {name!r} of table {entry.table!r} series "
                        f"{entry.series_key!r}: crc32 mismatch",
                    )
                return data
        raise KeyError(f"chunk has no column {name!r}; it has {entry.blocks!r}")

    def read_chunk(self, entry: ChunkEntry) -> Chunk:
        """The whole chunk with all its blocks; any damaged block raises."""
        blocks = {b[0]: self.read_block(entry, b[0]) for b in entry.blocks}
        return Chunk(
            entry.table,
            entry.series_key,
            entry.t_min,
            entry.t_max,
            entry.rows,
            blocks,
            dict(entry.meta),
        )

    def chunks(self, errors: list | None = None) -> Iterator[Chunk]:
        """Yield every readable chunk; damaged ones are appended to ``errors``."""
        for entry in self.entries:
            try:
                yield self.read_chunk(entry)
            except CorruptionError as err:
                if errors is None:
                    raise
                errors.append(err)

    def close(self) -> None:
        """Close the file descriptor."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> SegmentReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
