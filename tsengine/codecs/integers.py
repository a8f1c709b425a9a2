"""Codecs for 64-bit integer columns: timestamps (int64 ns), int64 and uint64.

Six payload formats, all with wrapping (modulo 2**64) arithmetic so that every int64
or uint64 sequence round-trips, including steps across the whole range:

``raw``
    ``n`` little-endian u64.
``step``
    An arithmetic sequence (a regular time series, a constant): first value (u64) and
    the step as a zigzag LEB128 varint. About 26 bytes per block whatever its length.
``for``
    The values themselves, patched frame-of-reference packed (see ``_pfor``).
``delta``
    First value (u64), the common divisor ``g`` of the differences (LEB128), then the
    ``n - 1`` differences divided by ``g``, PFOR packed.
``dod``
    First value and first difference (u64 each), ``g`` (LEB128), then the ``n - 2``
    differences of differences divided by ``g``, PFOR packed: a nearly regular clock
    costs a few bits per vector plus its irregular steps as patched exceptions.

Dividing by ``g`` matters for clocks: nanosecond timestamps of a sensor that reports
whole seconds differ by multiples of 10**9, and the quotients need 30 bits less each.
``rle``
    Run count (u32), then the run values and run lengths, each PFOR packed.

Time columns choose among step, delta and dod; int64/uint64 among step, for, delta and
rle (uint64 values are handled as their int64 bit pattern).
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT
from tsengine.codecs import _frame, _pfor
from tsengine.codecs._frame import Where
from tsengine.errors import SchemaError

INT_CODECS = ("raw", "step", "for", "delta", "dod", "rle")
_U64 = np.dtype("<u8")


# -- helpers -------------------------------------------------------------------------


def _zigzag(x: int) -> int:
    """Map a signed 64-bit integer to unsigned so that small magnitudes stay small."""
    return ((x << 1) ^ (x >> 63)) & 0xFFFFFFFFFFFFFFFF


def _unzigzag(z: int) -> int:
    return (z >> 1) ^ -(z & 1)


def _u64_at(buf: np.ndarray, pos: int) -> int:
    return int(buf[pos : pos + 8].view(_U64)[0])


def as_int64(values: np.ndarray, kind: str) -> np.ndarray:
    """Return the contiguous int64 bit pattern of a time, int64 or uint64 array."""
    arr = np.asarray(values)
    if kind == "time" and arr.dtype == np.dtype("datetime64[ns]"):
        arr = arr.view(np.int64)
    expected = np.uint64 if kind == "uint64" else np.int64
    if arr.ndim != 1 or arr.dtype != expected:
        raise SchemaError(
            f"{kind} column needs a 1-D {np.dtype(expected).name} array, got "
            f"{arr.dtype!r} with shape {arr.shape!r}"
        )
    return np.ascontiguousarray(arr).view(np.int64)


def _divided(d: np.ndarray) -> tuple[int, np.ndarray]:
    """(g, d // g) for the greatest common divisor g of ``d``; g is 1 when unhelpful.

    Differences beyond +-2**62 (jumps across the range) keep g = 1, so ``abs`` cannot
    overflow and the quotients stay exact.
    """
    g = int(_gcd(d))
    return (g, d // g) if g > 1 else (1, d)


@numba.njit(**NJIT)
def _gcd(d):
    """GCD of ``|d|``, or 1 when some ``d`` lies beyond +-2**62 or ``d`` is empty.

    The range is checked on every value; the GCD stops at 1, where sensor values get
    fast. 0 when every ``d`` is 0.
    """
    if d.shape[0] == 0:
        return np.int64(1)
    lo = np.int64(-(2**62))
    hi = np.int64(2**62)
    g = np.int64(0)
    for i in range(d.shape[0]):
        x = d[i]
        if x <= lo or x >= hi:
            return np.int64(1)
        if g != 1:
            b = abs(x)
            while b:
                g, b = b, g % b
    return g


def _scaled(g: int) -> bytes:
    return _frame.put_uvarint(g)


def _diff(v: np.ndarray) -> np.ndarray:
    """``np.diff(v)`` (wrapping) without its argument handling, which costs more than
    the subtraction on a block of a thousand values."""
    return v[1:] - v[:-1]


def step_of(v: np.ndarray) -> int | None:
    """The common (wrapping) difference if ``v`` is arithmetic, else None."""
    return _step(v, _diff(v))


def _step(v: np.ndarray, d: np.ndarray) -> int | None:
    """``step_of(v)`` given ``d = np.diff(v)``."""
    if len(v) < 2:
        return 0
    if d[-1] != d[0]:  # settles most irregular blocks without a pass
        return None
    return int(d[0]) if (d == d[0]).all() else None


def run_count(v: np.ndarray) -> int:
    """Number of runs of equal values in ``v`` (1 for an empty array)."""
    return 1 + int(np.count_nonzero(v[1:] != v[:-1]))


# -- encoding ------------------------------------------------------------------------


def encode_payload(v: np.ndarray, codec: str) -> bytes:
    """Encode the int64 bit patterns ``v`` with one named integer codec.

    Raises
    ------
    ValueError
        If ``codec`` is ``"step"`` and ``v`` is not an arithmetic sequence.
    """
    if codec in ("step", "delta", "dod"):
        return _encode_diffs(v, _diff(v), codec)
    n = len(v)
    if codec == "raw":
        return v.astype("<i8", copy=False).tobytes()
    if n == 0:
        return b""
    if codec == "for":
        return _pfor.encode(v)
    if codec == "rle":
        starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
        lengths = np.diff(np.r_[starts, n])
        return (
            len(starts).to_bytes(4, "little")
            + _pfor.encode(v[starts])
            + _pfor.encode(lengths)
        )
    raise SchemaError(f"unknown integer codec {codec!r}; expected one of {INT_CODECS}")


def _encode_diffs(v: np.ndarray, d: np.ndarray, codec: str) -> bytes:
    """``encode_payload`` for step, delta and dod, given ``d = np.diff(v)``: the
    chooser tries all three and computes the differences once."""
    n = len(v)
    if n == 0:
        return b""
    first = int(v[0]).to_bytes(8, "little", signed=True)
    if codec == "step":
        step = _step(v, d)
        if step is None:
            raise SchemaError(
                "values are not an arithmetic sequence; 'step' cannot hold them"
            )
        return first + _frame.put_uvarint(_zigzag(step))
    if codec == "delta" or n < 2:
        g, q = _divided(d)
        return first + _scaled(g) + _pfor.encode(q)
    g, q = _divided(_diff(d))
    d0 = int(d[0]).to_bytes(8, "little", signed=True)
    return first + d0 + _scaled(g) + _pfor.encode(q)


def choose_payload(v: np.ndarray, kind: str) -> tuple[str, bytes]:
    """Encode ``v`` with every codec that may pay for ``kind``; return the smallest."""
    d = _diff(v)
    if _step(v, d) is not None:
        return "step", _encode_diffs(v, d, "step")
    names = ["delta", "dod"] if kind == "time" else ["for", "delta"]
    if kind != "time":
        # a difference is 0 exactly where neighbours are equal (wrapping or not)
        if (1 + int(np.count_nonzero(d))) * 3 <= len(v):
            names.append("rle")
    # raw (8 bytes a value) is the floor; its bytes are made only if it wins
    best = ("raw", None)
    least = 8 * len(v)
    for name in names:
        if name in ("delta", "dod"):
            payload = _encode_diffs(v, d, name)
        else:
            payload = encode_payload(v, name)
        if len(payload) < least:
            best, least = (name, payload), len(payload)
    return best if best[1] is not None else ("raw", encode_payload(v, "raw"))


# -- decoding ------------------------------------------------------------------------


def decode_payload(codec: str, buf: np.ndarray, n: int, where: Where) -> np.ndarray:
    """Decode ``n`` integers (as uint64) from the whole of ``buf`` (uint8).

    Raises
    ------
    CorruptionError
        If the payload is malformed or does not end exactly where its layout says.
    """
    end = len(buf)
    pos = 0
    if codec == "raw":
        if end != 8 * n:
            raise where.fail(0, f"raw payload of {end} bytes for {n} values")
        return buf.view(_U64).astype(np.uint64)
    if n == 0:
        if end:
            raise where.fail(0, f"{end} payload bytes for an empty block")
        return np.empty(0, dtype=np.uint64)

    if codec == "for":
        out, pos = _pfor.decode(buf, 0, n, end, where)
    elif codec == "rle":
        out, pos = _decode_rle(buf, n, end, where)
    else:
        # step, delta and dod all start with the first value.
        if end < 8:
            raise where.fail(0, "payload ends inside the first value")
        first = np.uint64(_u64_at(buf, 0))
        if codec == "step":
            z, pos = _frame.get_uvarint(buf, 8, end, where)
            step = np.uint64(_unzigzag(z) & 0xFFFFFFFFFFFFFFFF)
            out = np.full(n, step, dtype=np.uint64)
            out[0] = first
            np.cumsum(out, out=out)
        elif codec == "delta":
            g, pos = _divisor(buf, 8, end, where)
            diffs, pos = _pfor.decode(buf, pos, n - 1, end, where)
            diffs *= g
            out = np.empty(n, dtype=np.uint64)
            out[0] = first
            np.cumsum(diffs, out=out[1:])
            out[1:] += first
        elif codec == "dod" and n >= 2:
            if end < 16:
                raise where.fail(8, "payload ends inside the first difference")
            d0 = np.uint64(_u64_at(buf, 8))
            g, pos = _divisor(buf, 16, end, where)
            dd, pos = _pfor.decode(buf, pos, n - 2, end, where)
            dd *= g
            d = np.empty(n, dtype=np.uint64)
            d[0] = first
            d[1] = d0
            np.cumsum(dd, out=d[2:])
            d[2:] += d0
            out = np.cumsum(d)
        elif codec == "dod":
            out, pos = decode_payload("delta", buf, n, where), end
        else:
            raise where.fail(0, f"codec {codec!r} does not hold integers")
    if pos != end:
        raise where.fail(pos, f"{end - pos} bytes left over after {n} values")
    return out


def _divisor(buf: np.ndarray, pos: int, end: int, where: Where):
    """Read the common divisor g (>= 1) of a delta or dod payload."""
    g, nxt = _frame.get_uvarint(buf, pos, end, where)
    if g == 0:
        raise where.fail(pos, "common divisor is 0")
    return np.uint64(g), nxt


def _decode_rle(buf: np.ndarray, n: int, end: int, where: Where):
    if end < 4:
        raise where.fail(0, "payload ends inside the run count")
    runs = int(buf[0:4].view("<u4")[0])
    if not 1 <= runs <= n:
        raise where.fail(0, f"{runs!r} runs for {n} values")
    values, pos = _pfor.decode(buf, 4, runs, end, where)
    lengths, pos = _pfor.decode(buf, pos, runs, end, where)

    # Lengths are checked one by one so that their sum cannot wrap around.
    if (lengths < 1).any() or (lengths > n).any() or int(lengths.sum()) != n:
        raise where.fail(4, f"run lengths do not add up to {n} values")
    return np.repeat(values, lengths.astype(np.int64)), pos


# -- public single-codec API ------------------------------------------------------


def encode_time(values: np.ndarray, codec: str = "auto") -> bytes:
    """Encode int64 nanosecond timestamps into one block.

    Parameters
    ----------
    values : numpy.ndarray
        1-D int64 (or datetime64[ns]) timestamps in ns since the epoch, any order.
    codec : {"auto", "step", "delta", "dod", "for", "rle", "raw"}
        ``"auto"`` picks the smallest of step, delta and dod.

    Examples
    --------
    >>> t = np.arange(10_000, dtype=np.int64) * 1_000_000_000
    >>> len(encode_time(t)) <= 32
    True
    """
    return _encode("time", values, codec)


def encode_int(values: np.ndarray, codec: str = "auto") -> bytes:
    """Encode an int64 or uint64 array into one block (kind follows the dtype).

    ``codec`` is ``"auto"`` (smallest of step, for, delta and rle) or one name of
    ``INT_CODECS``.
    """
    kind = "uint64" if np.asarray(values).dtype == np.uint64 else "int64"
    return _encode(kind, values, codec)


def _encode(kind: str, values: np.ndarray, codec: str) -> bytes:
    v = as_int64(values, kind)
    if codec == "auto":
        codec, payload = choose_payload(v, kind)
    else:
        payload = encode_payload(v, codec)
    return _frame.build(codec, kind, len(v), payload)


def decode_time(buf, *, source: str = "<memory>", offset: int = 0) -> np.ndarray:
    """Decode a block written by ``encode_time``; returns int64 ns timestamps."""
    return _decode(buf, source, offset).view(np.int64)


def decode_int(buf, *, source: str = "<memory>", offset: int = 0) -> np.ndarray:
    """Decode a block written by ``encode_int``; returns int64 or uint64 as written."""
    return _decode(buf, source, offset)


def _decode(buf, source: str, offset: int) -> np.ndarray:
    frame, payload, where = _frame.open_payload(buf, source, offset, INT_CODECS)
    kind = _frame.KINDS[frame.kind]
    if kind not in ("time", "int64", "uint64"):
        raise Where(source, offset, frame.codec_name).fail(
            4, f"{kind} block is no integer"
        )
    out = decode_payload(frame.codec_name, payload, frame.count, where)
    return out if kind == "uint64" else out.view(np.int64)
