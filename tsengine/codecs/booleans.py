"""Codecs for boolean columns and for the validity (null) section of every block.

``bitmap``
    One bit per value, least significant bit first (``numpy.packbits`` little order).
``runs``
    First value (u8: 0 or 1), run count (u32), then the run lengths PFOR packed;
    runs alternate between True and False. A status flag that changes a few times per
    chunk costs a few bytes.

A validity section is one codec-id byte followed by that codec's payload, so nulls
cost next to nothing when a column has none or has them in long stretches.
"""

from __future__ import annotations

import numpy as np

from tsengine.codecs import _frame, _pfor
from tsengine.codecs._frame import CODEC_IDS, CODEC_NAMES, Where
from tsengine.errors import SchemaError

BOOL_CODECS = ("bitmap", "runs")


def as_bool(values: np.ndarray, what: str = "bool column") -> np.ndarray:
    """A contiguous 1-D numpy bool array, or SchemaError naming the dtype."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype != np.bool_:
        raise SchemaError(
            f"{what} needs a 1-D bool array, got {arr.dtype!r} with shape {arr.shape!r}"
        )
    return np.ascontiguousarray(arr)


def encode_payload(v: np.ndarray, codec: str) -> bytes:
    """Encode the bool array ``v`` with ``"bitmap"`` or ``"runs"``."""
    if codec == "bitmap":
        return np.packbits(v, bitorder="little").tobytes()
    if codec == "runs":
        if len(v) == 0:
            return b""
        edges = np.flatnonzero(v[1:] != v[:-1]) + 1
        lengths = np.diff(np.r_[0, edges, len(v)]).astype(np.int64)
        return (
            bytes([int(v[0])])
            + len(lengths).to_bytes(4, "little")
            + _pfor.encode(lengths)
        )
    raise SchemaError(f"unknown bool codec {codec!r}; expected one of {BOOL_CODECS!r}")


def choose_payload(v: np.ndarray) -> tuple[str, bytes]:
    """The smaller of the bitmap and run-length encodings of ``v``."""
    bitmap = encode_payload(v, "bitmap")
    changes = int(np.count_nonzero(v[1:] != v[:-1])) if len(v) else 0
    # A run costs at least a few bits; skip the attempt when it cannot win.
    if changes * 2 >= len(bitmap) * 8:
        return "bitmap", bitmap
    runs = encode_payload(v, "runs")
    return ("runs", runs) if len(runs) < len(bitmap) else ("bitmap", bitmap)


def decode_payload(codec: str, buf: np.ndarray, n: int, where: Where) -> np.ndarray:
    """Decode ``n`` booleans from the whole of ``buf`` (uint8)."""
    end = len(buf)
    if codec == "bitmap":
        if end != (n + 7) // 8:
            raise where.fail(0, f"bitmap of {end} bytes for {n} values")
        return np.unpackbits(buf, count=n, bitorder="little").view(np.bool_)
    if codec != "runs":
        raise where.fail(0, f"codec {codec!r} does not hold booleans")
    if n == 0:
        if end:
            raise where.fail(0, f"{end} payload bytes for an empty block")
        return np.empty(0, dtype=np.bool_)
    if end < 5 or buf[0] > 1:
        raise where.fail(0, "run header missing or first value not 0/1")
    runs = int(buf[1:5].view("<u4")[0])
    if not 1 <= runs <= n:
        raise where.fail(1, f"{runs!r} runs for {n} values")
    lengths, pos = _pfor.decode(buf, 5, runs, end, where)
    if pos != end:
        raise where.fail(pos, f"{end - pos} bytes left over after the runs")

    # Lengths are checked one by one so that their sum cannot wrap around.
    if (lengths < 1).any() or (lengths > n).any() or int(lengths.sum()) != n:
        raise where.fail(5, f"run lengths do not add up to {n} values")
    flags = (np.arange(runs) + int(buf[0])) % 2 == 1
    return np.repeat(flags, lengths.astype(np.int64))


def encode_validity(validity: np.ndarray) -> bytes:
    """Validity section: codec-id byte, then the smaller boolean payload."""
    codec, payload = choose_payload(validity)
    return bytes([CODEC_IDS[codec]]) + payload


def decode_validity(buf: np.ndarray, n: int, where: Where) -> np.ndarray:
    """Decode a validity section of ``n`` flags (True = present)."""
    if len(buf) < 1:
        raise where.fail(0, "validity section is empty")
    codec = CODEC_NAMES.get(int(buf[0]), "")
    if codec not in BOOL_CODECS:
        raise where.fail(0, f"validity codec id {int(buf[0])!r} is not a bool codec")
    return decode_payload(codec, buf[1:], n, where.at(1))


def encode_bool(values: np.ndarray, codec: str = "auto") -> bytes:
    """Encode a bool array into one block (``"auto"``, ``"bitmap"`` or ``"runs"``).

    Examples
    --------
    >>> v = np.zeros(100_000, dtype=bool); v[40_000:60_000] = True
    >>> len(encode_bool(v)) < 40
    True
    """
    v = as_bool(values)
    if codec == "auto":
        codec, payload = choose_payload(v)
    else:
        payload = encode_payload(v, codec)
    return _frame.build(codec, "bool", len(v), payload)


def decode_bool(buf, *, source: str = "<memory>", offset: int = 0) -> np.ndarray:
    """Decode a block written by ``encode_bool``; raises CorruptionError if bad."""
    frame, payload, where = _frame.open_payload(buf, source, offset, BOOL_CODECS)
    return decode_payload(frame.codec_name, payload, frame.count, where)
