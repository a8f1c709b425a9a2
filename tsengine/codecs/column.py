"""Column blocks: pick the smallest codec for a column chunk, store nulls, decode.

This is the entry point the storage tiers use. A block is one frame (see ``_frame``)
holding a validity section when the column has nulls, and a payload with only the
present values, encoded by the codec chosen per kind:

=========  =========================================================================
kind       codecs tried by ``codec="auto"``
=========  =========================================================================
time       step, delta, dod (patched frame of reference)
float64    ALP with delta vectors (or ALP-RD), a dictionary of the distinct values,
           raw as a floor; chunks past 8 vectors are priced on a sample and only the
           winner (and a close runner-up) encoded in full (see ``float_choice``)
int64      step, for, delta, rle, raw
uint64     as int64, on the same bit patterns
bool       bitmap, runs
string     dict (always zstd)
=========  =========================================================================

After the codec, zstd (level ``ZSTD_LEVEL``) is tried on the payload and kept only when
it saves at least ``ZSTD_MIN_SAVING`` of it: it pays on repetitive data (a sensor stuck
at a few levels) and costs decode speed everywhere else.

The kernels release the GIL (Numba ``nogil``), and so does zstd, so blocks can be
encoded or decoded on several threads. Known cost: a block pays a fixed cost whatever
its length, measured on 256-1,024 noisy values at about 40-55 us for a time column and
60-90 us for a float column: the zstd trials (10-20 us each, mostly zstd's per-frame
setup), ALP's first sampling level (about 10 us), ALP-RD's cut (8-14 us), and 10-20 us
of Python (header, checksum, section views). Blocks below a few thousand values run
well under the codecs' bulk throughput; seal chunks of tens of thousands of points
where possible.
"""

from __future__ import annotations

import numpy as np

from tsengine.codecs import (
    _frame,
    alp,
    booleans,
    chimp,
    float_choice,
    float_dict,
    gorilla,
    integers,
    strings,
)
from tsengine.codecs._frame import KINDS, Where
from tsengine.codecs.float_choice import (  # one home for the zstd rule
    ZSTD_LEVEL,
    ZSTD_MIN_BYTES,
    ZSTD_MIN_SAVING,
)
from tsengine.errors import CorruptionError, SchemaError

_INT_KINDS = ("time", "int64", "uint64")
#: Codec names accepted per kind by ``encode_column`` (plus "auto" and "+zstd").
CODECS_BY_KIND = {
    "time": integers.INT_CODECS,
    "int64": integers.INT_CODECS,
    "uint64": integers.INT_CODECS,
    "float64": ("alp", "alp-rd", "gorilla", "chimp128", "dict", "raw"),
    "bool": booleans.BOOL_CODECS,
    "string": ("dict",),
}


def _float_named(x: np.ndarray, codec: str) -> list[tuple[str, bytes]]:
    if codec == "alp":
        return [alp.choose_payload(x)]
    encoders = {
        "alp-rd": alp.encode_rd_payload,
        "gorilla": gorilla.encode_payload,
        "chimp128": chimp.encode_payload,
        "dict": float_dict.encode_payload,
        "raw": lambda v: v.astype("<f8").tobytes(),
    }
    return [(codec, encoders[codec](x))]


def _smallest(
    candidates: list[tuple[str, bytes]], zstd: str
) -> tuple[str, bytes, int | None]:
    """The candidate that is smallest once zstd is applied where it pays.

    ``zstd`` is "try" (keep it when it saves ``ZSTD_MIN_SAVING``), "always" or
    "never". Only candidates within 1.25 times the smallest raw size are tried: zstd
    rarely saves more than that on bit-packed payloads, and it costs encode time.
    """
    least = min(len(p) for _, p in candidates)
    best = None
    for name, payload in candidates:
        final = (name, payload, None)
        if zstd == "always" or (
            zstd == "try" and ZSTD_MIN_BYTES <= len(payload) <= 1.25 * least
        ):
            packed = strings.compress(payload, ZSTD_LEVEL)
            if zstd == "always" or len(packed) <= (1 - ZSTD_MIN_SAVING) * len(payload):
                final = (name, packed, len(payload))
        if best is None or len(final[1]) < len(best[1]):
            best = final
    return best


def _present(values: np.ndarray, validity: np.ndarray | None) -> np.ndarray:
    return values if validity is None else values[validity]


def encode_column(
    values: np.ndarray,
    validity: np.ndarray | None = None,
    *,
    kind: str,
    codec: str = "auto",
) -> bytes:
    """Encode one column chunk into a checksummed block.

    Parameters
    ----------
    values : numpy.ndarray or pyarrow.Array
        1-D values: int64 ns (or datetime64[ns]) for ``"time"``, float64, int64,
        uint64, bool, or for ``"string"`` a numpy object array of str or a pyarrow
        (large) string array whose nulls count as absent.
    validity : numpy.ndarray of bool, optional
        True where a value is present; None means all present. Values under a null
        are not stored (they decode as 0, False or None). A null is not a NaN: NaN is a
        value and keeps its exact bits.
    kind : {"time", "float64", "int64", "uint64", "bool", "string"}
        Column type.
    codec : str
        ``"auto"`` picks the smallest codec and adds zstd where it pays; otherwise a
        name from ``CODECS_BY_KIND[kind]``, optionally suffixed ``"+zstd"``.

    Returns
    -------
    bytes
        The block; at most ``MAX_ROWS`` rows.

    Examples
    --------
    >>> t = np.arange(4096, dtype=np.int64) * 1_000_000_000
    >>> len(encode_column(t, kind="time")) * 8 / 4096 <= 0.1
    True
    >>> x = np.array([1.5, np.nan, -0.0, 2.25])
    >>> ok = np.array([True, True, False, True])
    >>> y, valid = decode_column(encode_column(x, ok, kind="float64"))
    >>> y.tolist(), valid.tolist()
    ([1.5, nan, 0.0, 2.25], [True, True, False, True])
    """
    if kind not in KINDS:
        raise SchemaError(f"unknown column kind {kind!r}; expected one of {KINDS!r}")
    base, _, extra = codec.partition("+")
    if base != "auto" and base not in CODECS_BY_KIND[kind] or extra not in ("", "zstd"):
        raise SchemaError(
            f"codec {codec!r} does not apply to {kind} columns; expected 'auto' or one "
            f"of {CODECS_BY_KIND[kind]!r}, optionally with '+zstd'"
        )

    # Validity: None when every row is present.
    count = len(values)
    if validity is not None:
        validity = booleans.as_bool(validity, "validity")
        if len(validity) != count:
            raise SchemaError(f"validity has {len(validity)} flags for {count} values")
        if validity.all():
            validity = None

    # Present values through the kind's codec(s), then zstd where it pays.
    zstd = "always" if extra == "zstd" else "try" if base == "auto" else "never"
    if kind == "string":
        arr, validity = strings.as_strings(values, validity)
        raw = strings.encode_payload(arr)
        name, payload, zstd_raw_len = "dict", strings.compress(raw), len(raw)
    else:
        if kind in _INT_KINDS:
            v = _present(integers.as_int64(values, kind), validity)
            if base == "auto":
                found = [integers.choose_payload(v, kind)]
            else:
                found = [(base, integers.encode_payload(v, base))]
        elif kind == "float64":
            x = _present(alp.as_float64(values), validity)
            if base == "auto":
                found = None
                name, payload, zstd_raw_len = float_choice.choose(x, zstd)
            else:
                found = _float_named(x, base)
        else:
            v = _present(booleans.as_bool(values), validity)
            if base == "auto":
                found = [booleans.choose_payload(v)]
            else:
                found = [(base, booleans.encode_payload(v, base))]
        if found is not None:
            name, payload, zstd_raw_len = _smallest(found, zstd)
    section = None if validity is None else booleans.encode_validity(validity)
    return _frame.build(name, kind, count, payload, section, zstd_raw_len)


# -- decoding ------------------------------------------------------------------------


def _decode_float(codec, buf, n, where):
    if codec == "raw":
        return integers.decode_payload("raw", buf, n, where).view(np.float64)
    decoders = {
        "alp": alp.decode_alp_payload,
        "alp-rd": alp.decode_rd_payload,
        "gorilla": gorilla.decode_payload,
        "chimp128": chimp.decode_payload,
        "dict": float_dict.decode_payload,
    }
    return decoders[codec](buf, n, where)


def _decode_values(kind: str, codec: str, buf: np.ndarray, n: int, where: Where):
    if kind in _INT_KINDS:
        out = integers.decode_payload(codec, buf, n, where)
        return out if kind == "uint64" else out.view(np.int64)
    if kind == "float64":
        return _decode_float(codec, buf, n, where)
    if kind == "bool":
        return booleans.decode_payload(codec, buf, n, where)
    return strings.decode_payload(buf, n, where)


_EMPTY = {
    "time": np.int64,
    "int64": np.int64,
    "uint64": np.uint64,
    "float64": np.float64,
    "bool": np.bool_,
    "string": object,
}


def decode_column(
    buf: bytes | bytearray | memoryview, *, source: str = "<memory>", offset: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode a block written by ``encode_column``.

    Parameters
    ----------
    buf : bytes-like
        Exactly one block. It is not modified and not kept.
    source : str
        Name of the file or stream the block came from, quoted in errors.
    offset : int
        Byte offset of ``buf`` within ``source``, added to offsets in errors.

    Returns
    -------
    values : numpy.ndarray
        A new array: int64 (time, ns), float64, int64, uint64, bool, or object (str).
        Null slots hold 0, False or None.
    validity : numpy.ndarray of bool or None
        True where a value is present; None when every row is.

    Raises
    ------
    CorruptionError
        If the block fails its checksum or any structural check; the message names
        ``source`` and the absolute byte offset. No input makes a decoder read or
        write outside its buffers.
    """
    frame = _frame.parse(buf, source, offset)
    kind = KINDS[frame.kind]
    head = Where(source, offset, frame.codec_name)
    if frame.codec_name not in CODECS_BY_KIND[kind]:
        raise head.fail(3, f"codec {frame.codec_name!r} cannot hold a {kind} column")

    validity = None
    present = frame.count
    if frame.validity is not None:
        validity = booleans.decode_validity(
            _frame.as_u8(frame.validity), frame.count, frame.validity_at
        )
        present = int(np.count_nonzero(validity))
    payload, where = _frame.inflate(frame)
    values = _decode_values(
        kind, frame.codec_name, _frame.as_u8(payload), present, where
    )
    if validity is None:
        return values, None

    # Spread the present values over their rows.
    full = np.zeros(frame.count, dtype=_EMPTY[kind])
    if kind == "string":
        full[:] = None
    full[validity] = values
    return full, validity


def codec_name(buf: bytes | bytearray | memoryview) -> str:
    """Name of the codec a block uses, e.g. ``"alp"`` or ``"delta+zstd"``.

    Reads only the fixed header (no checksum pass), for statistics.

    Raises
    ------
    CorruptionError
        If ``buf`` does not start with a block header.
    """
    head = bytes(memoryview(buf)[: _frame.FIXED_HEADER])
    where = Where("<memory>", 0)
    if len(head) < _frame.FIXED_HEADER or head[:2] != _frame.MAGIC:
        raise where.fail(0, f"not a block header: {head!r}")
    name = _frame.CODEC_NAMES.get(head[3])
    if head[2] != _frame.VERSION or name is None:
        raise where.fail(2, f"unknown version/codec bytes {head[2:4]!r}")
    return name + ("+zstd" if head[4] & _frame.FLAG_ZSTD else "")


__all__ = [
    "CODECS_BY_KIND",
    "CorruptionError",
    "codec_name",
    "decode_column",
    "encode_column",
]
