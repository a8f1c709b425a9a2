"""Dictionary + zstd codec for string columns.

Sensor string fields (states, units, alarm texts) repeat a handful of values, so each
distinct string is stored once and every row keeps only its index. The payload, which
the frame always stores zstd-compressed (``FLAG_ZSTD``), is::

    dict_count   u32
    dict_bytes   u64              total UTF-8 bytes of the dictionary
    lengths      PFOR, dict_count UTF-8 lengths in bytes
    text         dict_bytes       the dictionary strings, concatenated
    codes        PFOR, n indices  (< dict_count)

Values come in as a numpy object array of ``str`` or a pyarrow (large) string array;
they come back as a numpy object array of ``str`` (``None`` under a null).
"""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import zstandard

from tsengine.codecs import _frame, _pfor
from tsengine.codecs._frame import Where
from tsengine.errors import SchemaError

ZSTD_LEVEL = 3


def as_strings(
    values, validity: np.ndarray | None
) -> tuple[pa.Array, np.ndarray | None]:
    """Present values as a pyarrow large_string array, plus the merged validity.

    Nulls of a pyarrow input are folded into ``validity``. A value that is not a str
    at a present position raises SchemaError naming it.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        if not (
            pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
        ):
            raise SchemaError(f"string column needs strings, got {values.type!r}")
        if values.null_count:
            present = values.is_valid().to_numpy(zero_copy_only=False)
            validity = present if validity is None else validity & present
        arr = values.cast(pa.large_string())
        if validity is not None:
            arr = arr.filter(pa.array(validity))
        return arr, validity
    obj = np.asarray(values, dtype=object)
    if obj.ndim != 1:
        raise SchemaError(f"string column needs a 1-D array, got shape {obj.shape!r}")
    if validity is not None:
        obj = obj[validity]
    for v in obj:
        if not isinstance(v, str):
            raise SchemaError(f"string column holds {v!r}, which is not a str")
    return pa.array(obj, type=pa.large_string()), validity


def encode_payload(arr: pa.Array) -> bytes:
    """Uncompressed dictionary payload of a large_string array without nulls."""
    encoded = arr.dictionary_encode()
    dictionary = encoded.dictionary
    offsets = np.frombuffer(dictionary.buffers()[1], dtype=np.int64)[
        dictionary.offset : dictionary.offset + len(dictionary) + 1
    ]
    text = dictionary.buffers()[2]
    text_bytes = b"" if text is None else text.to_pybytes()[offsets[0] : offsets[-1]]
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return b"".join(
        [
            len(dictionary).to_bytes(4, "little"),
            len(text_bytes).to_bytes(8, "little"),
            _pfor.encode(np.diff(offsets)),
            text_bytes,
            _pfor.encode(codes),
        ]
    )


def decode_payload(buf: np.ndarray, n: int, where: Where) -> np.ndarray:
    """Decode ``n`` strings (object array) from an inflated dictionary payload."""
    end = len(buf)
    if end < 12:
        raise where.fail(0, "payload ends inside the dictionary header")
    ndict = int(buf[0:4].view("<u4")[0])
    nbytes = int(buf[4:12].view("<u8")[0])
    if ndict > max(n, 0) or (n and not ndict) or nbytes > end:
        raise where.fail(0, f"{ndict!r} dictionary entries of {nbytes!r} bytes")
    lengths, pos = _pfor.decode(buf, 12, ndict, end, where)
    if (lengths > nbytes).any() or int(lengths.sum()) != nbytes:
        raise where.fail(12, f"string lengths do not add up to {nbytes} bytes")
    if pos + nbytes > end:
        raise where.fail(pos, f"dictionary text of {nbytes} bytes runs past the end")
    text = buf[pos : pos + nbytes]
    codes, stop = _pfor.decode(buf, pos + nbytes, n, end, where)
    if stop != end:
        raise where.fail(stop, f"{end - stop} bytes left over after {n} codes")
    if n and int(codes.max()) >= ndict:
        raise where.fail(
            pos + nbytes, f"a code points past the {ndict}-entry dictionary"
        )

    # Arrow checks the UTF-8 and builds the Python strings in C++.
    offsets = np.zeros(ndict + 1, dtype=np.int64)
    np.cumsum(lengths.astype(np.int64), out=offsets[1:])
    dictionary = pa.LargeStringArray.from_buffers(
        ndict, pa.py_buffer(offsets), pa.py_buffer(text.tobytes())
    )
    try:
        dictionary.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise where.fail(pos, f"dictionary is not valid UTF-8: {exc}") from None
    return dictionary.to_numpy(zero_copy_only=False)[codes.astype(np.int64)]


# One compressor per thread and level: building one costs about as much Python time as
# compressing a few kilobytes, and a ZstdCompressor must not be shared between threads.
_COMPRESSORS = threading.local()


def compress(raw: bytes, level: int = ZSTD_LEVEL) -> bytes:
    """zstd frame of ``raw``, no zstd checksum: the enclosing block has one.

    Each thread reuses its own compressor per level; ``compress`` is one-shot and
    resets the context, so the frame is the same as from a new compressor.
    """
    cache = getattr(_COMPRESSORS, "by_level", None)
    if cache is None:
        cache = _COMPRESSORS.by_level = {}
    cctx = cache.get(level)
    if cctx is None:
        cctx = zstandard.ZstdCompressor(level=level, write_checksum=False)
        cache[level] = cctx
    return cctx.compress(raw)


def encode_string(values) -> bytes:
    """Encode strings (numpy object array of str, or pyarrow string array) as a block.

    Null entries of a pyarrow array are not allowed here; use ``encode_column``.

    Examples
    --------
    >>> v = np.array(["on", "off", "on", "on"], dtype=object)
    >>> list(decode_string(encode_string(v)))
    ['on', 'off', 'on', 'on']
    """
    arr, validity = as_strings(values, None)
    if validity is not None:
        raise SchemaError("strings with nulls need encode_column (it stores validity)")
    raw = encode_payload(arr)
    return _frame.build(
        "dict", "string", len(arr), compress(raw), zstd_raw_len=len(raw)
    )


def decode_string(buf, *, source: str = "<memory>", offset: int = 0) -> np.ndarray:
    """Decode a block written by ``encode_string`` into an object array of str."""
    frame, payload, where = _frame.open_payload(buf, source, offset, ("dict",))
    return decode_payload(payload, frame.count, where)
