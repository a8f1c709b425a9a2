"""Chimp128 float codec (Liakos, Papakonstantinopoulou, Kotidis, VLDB 2022), from the
paper's description.

Like Gorilla, each double is XORed with an earlier one, but the reference may be any of
the previous 128 values: the encoder remembers, for every pattern of the 14 lowest
bits, where it last saw it, because a reference sharing those bits leaves an XOR with
many trailing zeros. Leading-zero counts are rounded down to one of eight steps so that
they fit in 3 bits. Per value, after a 2-bit flag:

``00``  equal to the reference: 7-bit reference slot.
``01``  XOR with more than 13 trailing zeros: 7-bit slot, 3-bit leading code, 6-bit
        length of the centre bits, the centre bits.
``10``  XOR with the previous value, same leading code as last time: the low
        ``64 - leading`` bits.
``11``  XOR with the previous value, new leading code: 3-bit code, then those bits.

Payload: the first value's bits (u64), then the bit stream as whole u64 words.
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

WINDOW = 128
_SLOT_BITS = 7
_KEY_BITS = 14
_THRESHOLD = 13
#: Worst case per value after the first: 2 flag + 3 code + 64 bits.
_MAX_BITS = 69

# Leading-zero counts rounded down to the representable steps, and their 3-bit codes.
_STEPS = np.array([0, 8, 12, 16, 18, 20, 22, 24], dtype=np.int64)
_ROUND = np.array(
    [max(s for s in (0, 8, 12, 16, 18, 20, 22, 24) if s <= k) for k in range(65)],
    dtype=np.int64,
)
_CODE = np.zeros(25, dtype=np.int64)
_CODE[_STEPS] = np.arange(8)


@numba.njit(**NJIT)
def _encode(xb, words):
    """Write values 1..n-1 of the uint64 patterns ``xb``; returns the bits used."""
    n = xb.shape[0]
    ring = np.zeros(WINDOW, dtype=np.uint64)
    last_seen = np.full(1 << _KEY_BITS, -1, dtype=np.int64)
    key_mask = np.uint64((1 << _KEY_BITS) - 1)
    ring[0] = xb[0]
    last_seen[np.int64(xb[0] & key_mask)] = 0
    lead_prev = -1
    pos = 0
    for i in range(1, n):
        v = xb[i]
        key = np.int64(v & key_mask)

        # A recent value with the same low bits, if any, is the best reference.
        ref = last_seen[key]
        use_ref = False
        x = np.uint64(0)
        if ref >= 0 and i - ref < WINDOW:
            x = ring[ref % WINDOW] ^ v
            use_ref = x == np.uint64(0) or np.int64(trailing_zeros(x)) > _THRESHOLD
        if use_ref:
            slot = np.uint64(ref % WINDOW)
            if x == np.uint64(0):
                pos = _write(words, pos, np.uint64(0b00), 2)
                pos = _write(words, pos, slot, _SLOT_BITS)
            else:
                trail = np.int64(trailing_zeros(x))
                lead = _ROUND[np.int64(leading_zeros(x))]
                centre = 64 - lead - trail
                pos = _write(words, pos, np.uint64(0b10), 2)
                pos = _write(words, pos, slot, _SLOT_BITS)
                pos = _write(words, pos, np.uint64(_CODE[lead]), 3)
                pos = _write(words, pos, np.uint64(centre), 6)
                pos = _write(words, pos, x >> np.uint64(trail), centre)
            lead_prev = -1
        else:
            x = ring[(i - 1) % WINDOW] ^ v
            lead = _ROUND[np.int64(leading_zeros(x))]
            if lead == lead_prev:
                pos = _write(words, pos, np.uint64(0b01), 2)
            else:
                pos = _write(words, pos, np.uint64(0b11), 2)
                pos = _write(words, pos, np.uint64(_CODE[lead]), 3)
                lead_prev = lead
            pos = _write(words, pos, x, 64 - lead)
        ring[i % WINDOW] = v
        last_seen[key] = i
    return pos


@numba.njit(**NJIT)
def _decode(words, first, out):
    """Fill ``out`` (uint64); returns -1 or the bit position where the stream is bad."""
    nbits = words.shape[0] * 64
    ring = np.zeros(WINDOW, dtype=np.uint64)
    ring[0] = first
    out[0] = first
    lead_prev = -1
    pos = 0
    for i in range(1, out.shape[0]):
        at = pos
        flag, pos = _read(words, nbits, pos, 2)
        if pos < 0:
            return at
        if flag == np.uint64(0b00) or flag == np.uint64(0b10):
            # Reference slot: must already have been filled.
            slot, pos = _read(words, nbits, pos, _SLOT_BITS)
            if pos < 0 or np.int64(slot) >= i:
                return at
            v = ring[np.int64(slot)]
            if flag == np.uint64(0b10):
                code, pos = _read(words, nbits, pos, 3)
                if pos < 0:
                    return at
                centre, pos = _read(words, nbits, pos, 6)
                if pos < 0:
                    return at
                trail = 64 - _STEPS[np.int64(code)] - np.int64(centre)
                if centre == np.uint64(0) or trail <= _THRESHOLD:
                    return at
                bits, pos = _read(words, nbits, pos, np.int64(centre))
                if pos < 0:
                    return at
                v ^= bits << np.uint64(trail)
            lead_prev = -1
        else:
            if flag == np.uint64(0b11):
                code, pos = _read(words, nbits, pos, 3)
                if pos < 0:
                    return at
                lead_prev = _STEPS[np.int64(code)]
            elif lead_prev < 0:
                return at
            bits, pos = _read(words, nbits, pos, 64 - lead_prev)
            if pos < 0:
                return at
            v = ring[(i - 1) % WINDOW] ^ bits
        ring[i % WINDOW] = v
        out[i] = v
    return -1


def encode_payload(x: np.ndarray) -> bytes:
    """Chimp128 payload of the float64 array ``x``."""
    if len(x) == 0:
        return b""
    xb = x.view(np.uint64)
    words = np.zeros(((len(x) - 1) * _MAX_BITS + 63) // 64 + 1, dtype=np.uint64)
    nbits = _encode(xb, words)
    head = xb[:1].astype("<u8").tobytes()
    return head + words[: (nbits + 63) // 64].astype("<u8").tobytes()


def decode_payload(buf: np.ndarray, n: int, where: Where) -> np.ndarray:
    """Decode ``n`` doubles from a Chimp128 payload (uint8)."""
    end = len(buf)
    if n == 0:
        if end:
            raise where.fail(0, f"{end} payload bytes for an empty block")
        return np.empty(0, dtype=np.float64)
    if end < 8 or (end - 8) % 8:
        raise where.fail(0, f"payload of {end} bytes is not a value plus whole words")
    nwords = (end - 8) // 8
    # Every value after the first costs at least two bits.
    if 2 * (n - 1) > 64 * nwords:
        raise where.fail(8, f"{nwords} words cannot hold {n} values")
    out = np.empty(n, dtype=np.uint64)
    bad = _decode(section(buf, 8, "<u8", nwords), section(buf, 0, "<u8", 1)[0], out)
    if bad >= 0:
        raise where.fail(
            8 + bad // 8, f"bit stream runs out or is invalid at bit {bad}"
        )
    return out.view(np.float64)


def encode_chimp128(values: np.ndarray) -> bytes:
    """Encode float64 values with Chimp128 into one block (bit-exact).

    Examples
    --------
    >>> x = np.array([20.5, 20.5, 20.25, 20.5, np.inf])
    >>> y = decode_chimp128(encode_chimp128(x))
    >>> bool((y.view(np.uint64) == x.view(np.uint64)).all())
    True
    """
    x = as_float64(values)
    return _frame.build("chimp128", "float64", len(x), encode_payload(x))


def decode_chimp128(buf, *, source: str = "<memory>", offset: int = 0) -> np.ndarray:
    """Decode a block written by ``encode_chimp128``; raises CorruptionError if bad."""
    frame, payload, where = _frame.open_payload(buf, source, offset, ("chimp128",))
    return decode_payload(payload, frame.count, where)
