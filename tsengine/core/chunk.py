"""Sealed chunks: immutable, time-sorted runs of one series that left the hot ring.

A chunk is born plain (its columns as arrays, cheap to seal under the write lock) and
is replaced by an encoded twin by the compactor: every column compressed by
:mod:`tsengine.codecs`, checksummed. An encoded chunk decodes on read through a
bounded cache, so recently read history stays as fast as plain arrays.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

import numpy as np

from tsengine.codecs import MAX_ROWS, codec_name, decode_column, encode_column
from tsengine.core.merge import Rows

#: Bytes of decoded chunk columns kept for reads (least recently used dropped first).
DECODE_CACHE_BYTES = 256 * 1024 * 1024


class _DecodeCache:
    """LRU of decoded rows per encoded chunk, bounded in bytes, thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[int, tuple[Rows, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, chunk: SealedChunk) -> Rows | None:
        with self._lock:
            item = self._items.get(id(chunk))
            if item is None:
                return None
            self._items.move_to_end(id(chunk))
            return item[0]

    def put(self, chunk: SealedChunk, rows: Rows, size: int) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            if id(chunk) in self._items:
                return
            self._items[id(chunk)] = (rows, size)
            self._bytes += size
            weakref.finalize(chunk, self.drop, id(chunk))
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def drop(self, key: int) -> None:
        with self._lock:
            item = self._items.pop(key, None)
            if item is not None:
                self._bytes -= item[1]


DECODE_CACHE = _DecodeCache(DECODE_CACHE_BYTES)


class SealedChunk:
    """An immutable run of points of one series, sorted by time.

    Parameters
    ----------
    rows : Rows
        The points; the chunk takes ownership of the arrays.
    kinds : list of str
        Field type names in column order (the table's fields when sealed).
    """

    __slots__ = (
        "__weakref__",
        "_blocks",
        "_rows",
        "kinds",
        "n",
        "raw_nbytes",
        "tmax",
        "tmin",
    )

    def __init__(
        self,
        rows: Rows | None,
        kinds: list[str],
        *,
        blocks: list[list[bytes]] | None = None,
        n: int = 0,
        tmin: int = 0,
        tmax: int = 0,
        raw_nbytes: int = 0,
    ) -> None:
        self._rows = rows
        self._blocks = blocks
        self.kinds = list(kinds)
        if rows is not None:
            self.n = len(rows)
            self.tmin = int(rows.times[0]) if self.n else 0
            self.tmax = int(rows.times[-1]) if self.n else 0
            self.raw_nbytes = _rows_nbytes(rows)
        else:
            self.n, self.tmin, self.tmax, self.raw_nbytes = n, tmin, tmax, raw_nbytes

    @property
    def blocks(self) -> list[list[bytes]] | None:
        """Encoded blocks per column (time first), or None while plain."""
        return self._blocks

    @property
    def encoded(self) -> bool:
        """Whether the columns are held compressed."""
        return self._blocks is not None

    def rows(self) -> Rows:
        """The chunk's points (shared, read-only arrays: copy before changing)."""
        if self._rows is not None:
            return self._rows
        rows = DECODE_CACHE.get(self)
        if rows is None:
            rows = self._decode()
            DECODE_CACHE.put(self, rows, self.raw_nbytes)
        return rows

    def times(self) -> np.ndarray:
        """Time column, int64 ns."""
        return self.rows().times

    @property
    def nbytes(self) -> int:
        """Bytes the chunk holds in memory (encoded size once compacted)."""
        if self._blocks is not None:
            return sum(len(b) for col in self._blocks for b in col)
        return self.raw_nbytes

    def column_codecs(self) -> list[str]:
        """Codec of each column (time first); ``"plain"`` before compaction."""
        if self._blocks is None:
            return ["plain"] * (1 + len(self.kinds))
        return [codec_name(col[0]) if col else "empty" for col in self._blocks]

    def column_nbytes(self) -> list[int]:
        """Stored bytes of each column (time first)."""
        if self._blocks is None:
            r = self._rows
            return [r.times.nbytes] + [
                c.nbytes + (0 if v is None else v.nbytes)
                for c, v in zip(r.cols, r.valids)
            ]
        return [sum(len(b) for b in col) for col in self._blocks]

    def compress(self) -> SealedChunk:
        """An encoded twin of this chunk (this one is left unchanged)."""
        if self._blocks is not None:
            return self
        r = self._rows
        blocks = [_encode(r.times, None, "time")]
        for kind, col, valid in zip(self.kinds, r.cols, r.valids):
            blocks.append(_encode(col, valid, kind))
        return SealedChunk(
            None,
            self.kinds,
            blocks=blocks,
            n=self.n,
            tmin=self.tmin,
            tmax=self.tmax,
            raw_nbytes=self.raw_nbytes,
        )

    def _decode(self) -> Rows:
        columns = []
        for col, kind in zip(self._blocks, ["time", *self.kinds]):
            parts = [decode_column(b, source="sealed chunk") for b in col]
            values = np.concatenate([p[0] for p in parts]) if parts else np.empty(0)
            if kind == "bool":
                values = values.astype(np.uint8)
            valid = None
            if any(p[1] is not None for p in parts):
                valid = np.concatenate(
                    [
                        np.ones(len(p[0]), np.uint8)
                        if p[1] is None
                        else p[1].astype(np.uint8)
                        for p in parts
                    ]
                )
            columns.append((values, valid))
        rows = Rows(
            columns[0][0], [c for c, _ in columns[1:]], [v for _, v in columns[1:]]
        )
        _freeze(rows)
        return rows

    def __repr__(self) -> str:
        state = "encoded" if self.encoded else "plain"
        return f"SealedChunk(n={self.n}, tmin={self.tmin}, tmax={self.tmax}, {state})"


def _encode(values: np.ndarray, valid: np.ndarray | None, kind: str) -> list[bytes]:
    if kind == "bool":
        values = values.view(bool)
    validity = None if valid is None else valid.astype(bool)
    return [
        encode_column(
            values[lo : lo + MAX_ROWS],
            None if validity is None else validity[lo : lo + MAX_ROWS],
            kind=kind,
        )
        for lo in range(0, max(len(values), 1), MAX_ROWS)
    ]


def _rows_nbytes(rows: Rows) -> int:
    total = rows.times.nbytes + sum(c.nbytes for c in rows.cols)
    return total + sum(v.nbytes for v in rows.valids if v is not None)


def _freeze(rows: Rows) -> None:
    for arr in [rows.times, *rows.cols, *(v for v in rows.valids if v is not None)]:
        arr.flags.writeable = False


def seal(rows: Rows, kinds: list[str]) -> SealedChunk:
    """Seal ``rows`` (copies owned by the caller) into an immutable plain chunk."""
    _freeze(rows)
    return SealedChunk(rows, kinds)
