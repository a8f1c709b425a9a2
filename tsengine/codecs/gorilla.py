"""Gorilla XOR float codec (Pelkonen et al., VLDB 2015), from the paper's description.

Each double is XORed with the one before it. Equal neighbours cost one bit; otherwise
the XOR's meaningful bits (between its leading and trailing zeros) are written, either
inside the previous value's window (2 control bits) or with a new window described by
5 bits of leading-zero count and 6 bits of length (64 written as 0).

Payload: the first value's bits (u64), then the bit stream as whole u64 words (the last
one zero-padded). Kept as a selectable alternative to ALP for comparison; ALP is smaller
on decimal data and decodes an order of magnitude faster.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros

from tsengine._config import NJIT
from tsengine.codecs import _frame
from tsengine.codecs._bitstream import _read, _write
from tsengine.codecs._frame import Where, section
from tsengine.codecs.alp import as_float64

#: Worst case per value after the first: 2 control + 5 + 6 + 64 bits.
_MAX_BITS = 77


@numba.njit(**NJIT)
def _encode(xb, words):
    """Write values 1..n-1 of the uint64 patterns ``xb``; returns the bits used."""
    pos = 0
    prev = xb[0]
    lead_prev = -1
    trail_prev = 0
    for i in range(1, xb.shape[0]):
        x = xb[i] ^ prev
        prev = xb[i]
        if x == np.uint64(0):
            pos = _write(words, pos, np.uint64(0), 1)
            continue
        lead = min(np.int64(leading_zeros(x)), 31)
        trail = np.int64(trailing_zeros(x))

        # Reuse the previous window when the new meaningful bits fit inside it.
        if lead_prev >= 0 and lead >= lead_prev and trail >= trail_prev:
            pos = _write(words, pos, np.uint64(0b01), 2)
            pos = _write(
                words, pos, x >> np.uint64(trail_prev), 64 - lead_prev - trail_prev
            )
        else:
            length = 64 - lead - trail
            pos = _write(words, pos, np.uint64(0b11), 2)
            pos = _write(words, pos, np.uint64(lead), 5)
            pos = _write(words, pos, np.uint64(length & 63), 6)
            pos = _write(words, pos, x >> np.uint64(trail), length)
            lead_prev = lead
            trail_prev = trail
    return pos


@numba.njit(**NJIT)
def _decode(words, first, out):
    """Fill ``out`` (uint64); returns -1 or the bit position where the stream is bad."""
    nbits = words.shape[0] * 64
    out[0] = first
    prev = first
    lead_prev = -1
    trail_prev = 0
    pos = 0
    for i in range(1, out.shape[0]):
        at = pos
        bit, pos = _read(words, nbits, pos, 1)
        if pos < 0:
            return at
        if bit != np.uint64(0):
            same, pos = _read(words, nbits, pos, 1)
            if pos < 0:
                return at
            if same == np.uint64(0):
                if lead_prev < 0:
                    return at
                trail = trail_prev
                length = 64 - lead_prev - trail_prev
            else:
                lead, pos = _read(words, nbits, pos, 5)
                if pos < 0:
                    return at
                length_code, pos = _read(words, nbits, pos, 6)
                if pos < 0:
                    return at
                length = np.int64(length_code) if length_code != np.uint64(0) else 64
                trail = 64 - np.int64(lead) - length
                if trail < 0:
                    return at
                lead_prev = np.int64(lead)
                trail_prev = trail
            bits, pos = _read(words, nbits, pos, length)
            if pos < 0:
                return at
            prev ^= bits << np.uint64(trail)
        out[i] = prev
    return -1


def encode_payload(x: np.ndarray) -> bytes:
    """Gorilla payload of the float64 array ``x``."""
    if len(x) == 0:
        return b""
    xb = x.view(np.uint64)
    words = np.zeros(((len(x) - 1) * _MAX_BITS + 63) // 64 + 1, dtype=np.uint64)
    nbits = _encode(xb, words)
    return (
        xb[:1].astype("<u8").tobytes()
        + words[: (nbits + 63) // 64].astype("<u8").tobytes()
    )


def decode_payload(buf: np.ndarray, n: int, where: Where) -> np.ndarray:
    """Decode ``n`` doubles from a Gorilla payload (uint8)."""
    end = len(buf)
    if n == 0:
        if end:
            raise where.fail(0, f"{end} payload bytes for an empty block")
        return np.empty(0, dtype=np.float64)
    if end < 8 or (end - 8) % 8:
        raise where.fail(0, f"payload of {end} bytes is not a value plus whole words")
    nwords = (end - 8) // 8
    # Every value after the first costs at least one bit.
    if n - 1 > 64 * nwords:
        raise where.fail(8, f"{nwords} words cannot hold {n} values")
    out = np.empty(n, dtype=np.uint64)
    bad = _decode(section(buf, 8, "<u8", nwords), section(buf, 0, "<u8", 1)[0], out)
    if bad >= 0:
        raise where.fail(
            8 + bad // 8, f"bit stream runs out or is invalid at bit {bad}"
        )
    return out.view(np.float64)


def encode_gorilla(values: np.ndarray) -> bytes:
    """Encode float64 values with Gorilla XOR into one block (bit-exact).

    Examples
    --------
    >>> x = np.array([1.5, 1.5, 2.25, np.nan, -0.0])
    >>> y = decode_gorilla(encode_gorilla(x))
    >>> bool((y.view(np.uint64) == x.view(np.uint64)).all())
    True
    """
    x = as_float64(values)
    return _frame.build("gorilla", "float64", len(x), encode_payload(x))


def decode_gorilla(buf, *, source: str = "<memory>", offset: int = 0) -> np.ndarray:
    """Decode a block written by ``encode_gorilla``; raises CorruptionError if bad."""
    frame, payload, where = _frame.open_payload(buf, source, offset, ("gorilla",))
    return decode_payload(payload, frame.count, where)
