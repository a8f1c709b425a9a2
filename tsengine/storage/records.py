"""Payloads of write-ahead log records: table definitions and write calls.

A table definition is compact UTF-8 JSON, keys in the caller's order (the order of
fields is the table's column order). A write call is every table it
touches, each serialised in the Arrow IPC stream format, which keeps values, nulls,
NaN payloads and types exact::

    u32 table count
    per table: u32 name length | name (UTF-8) | u64 stream length | Arrow IPC stream

Little-endian. Decoding checks every length against the payload and turns anything
malformed into :class:`tsengine.errors.CorruptionError`; a record reaches these
decoders only after its crc32 matched, so such an error means a writer bug or a
crc collision rather than ordinary disk damage.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping

import pyarrow as pa

from tsengine.errors import CorruptionError

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def encode_definition(definition: Mapping) -> bytes:
    """Serialise a table definition (JSON-compatible mapping) to record payload bytes.

    Raises
    ------
    TypeError
        If ``definition`` holds a value JSON cannot represent.

    Examples
    --------
    >>> encode_definition({"name": "pump", "tags": ["site"]})
    b'{"name":"pump","tags":["site"]}'
    """
    return json.dumps(definition, separators=(",", ":"), ensure_ascii=False).encode()


def decode_definition(payload: bytes | memoryview) -> dict:
    """Inverse of :func:`encode_definition`; malformed bytes raise CorruptionError."""
    try:
        definition = json.loads(bytes(payload).decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptionError(
            f"table definition record is not valid JSON: {exc}"
        ) from exc
    if not isinstance(definition, dict):
        raise CorruptionError(
            f"table definition record holds {type(definition).__name__}, not an object"
        )
    return definition


class _Parts:
    """A write-only stream that keeps what it is given instead of copying it.

    pyarrow's IPC writer hands a Python sink its small metadata as ``bytes`` and the
    column buffers as ``pyarrow.Buffer`` views of the table's own memory, so a
    stream gathered here costs no copy of the data; ``writev`` then sends the views
    to the kernel. The bytes are exactly those of an in-memory IPC stream.
    """

    closed = False

    def __init__(self) -> None:
        self.parts: list = []
        self.size = 0

    def write(self, data) -> int:
        self.parts.append(data)
        n = memoryview(data).nbytes
        self.size += n
        return n

    def tell(self) -> int:
        return self.size

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def _ipc_parts(data: pa.Table | pa.RecordBatch) -> _Parts:
    sink = _Parts()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write(data)
    return sink


def encode_write(tables: Mapping[str, pa.Table | pa.RecordBatch]) -> list:
    """Serialise one write call to a list of byte parts (joined, they are the payload).

    Parts are returned instead of one joined buffer so the log can hand them to
    ``writev`` without copying the Arrow data at all: the column buffers among them
    are views of ``tables``' memory, which must stay unchanged until they are
    written.

    Parameters
    ----------
    tables : mapping of str to pyarrow.Table or pyarrow.RecordBatch
        Every table the write call touches, with the rows it adds.

    Returns
    -------
    list of bytes-like
    """
    parts: list = [_U32.pack(len(tables))]
    for name, data in tables.items():
        if not isinstance(data, pa.Table | pa.RecordBatch):
            raise TypeError(
                f"write record for table {name!r} needs a pyarrow Table or "
                f"RecordBatch, got {type(data).__name__}"
            )
        encoded_name = name.encode()
        stream = _ipc_parts(data)
        parts += [_U32.pack(len(encoded_name)), encoded_name, _U64.pack(stream.size)]
        parts += stream.parts
    return parts


def _take(view: memoryview, pos: int, size: int, what: str) -> memoryview:
    if size > len(view) - pos:
        raise CorruptionError(
            f"write record: {what} needs {size} bytes at offset {pos}, "
            f"only {len(view) - pos} left"
        )
    return view[pos : pos + size]


def decode_write(payload: bytes | memoryview) -> dict[str, pa.Table]:
    """Inverse of :func:`encode_write`: table name -> pyarrow.Table, in write order.

    Raises
    ------
    CorruptionError
        If a length runs past the payload, a name is not UTF-8, bytes are left over
        or an Arrow stream does not parse and validate.
    """
    view = memoryview(payload).cast("B")
    count = _U32.unpack(_take(view, 0, 4, "table count"))[0]
    pos = 4
    tables: dict[str, pa.Table] = {}
    for _ in range(count):
        # Name, then the Arrow stream, each behind its length
        name_len = _U32.unpack(_take(view, pos, 4, "name length"))[0]
        raw_name = _take(view, pos + 4, name_len, "table name")
        pos += 4 + name_len
        try:
            name = bytes(raw_name).decode()
        except UnicodeDecodeError as exc:
            raise CorruptionError(
                f"write record: table name is not UTF-8: {exc}"
            ) from exc
        stream_len = _U64.unpack(_take(view, pos, 8, "stream length"))[0]
        stream = _take(view, pos + 8, stream_len, f"Arrow stream of {name!r}")
        pos += 8 + stream_len

        # Arrow validates structure; full validation also checks offsets and UTF-8
        try:
            table = pa.ipc.open_stream(pa.py_buffer(stream)).read_all()
            table.validate(full=True)
        except (pa.ArrowException, ValueError, OSError, TypeError, IndexError) as exc:
            raise CorruptionError(
                f"write record: Arrow stream of table {name!r} is invalid: {exc}"
            ) from exc
        tables[name] = table
    if pos != len(view):
        raise CorruptionError(f"write record: {len(view) - pos} trailing bytes")
    return tables
