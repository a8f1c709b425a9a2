"""Numba kernels for fixed-width bit packing into 64-bit words.

A run of ``m`` values packed at width ``w`` (0 to 64 bits) occupies ``words_for(m, w)``
little-endian 64-bit words: value ``i`` sits at bit ``i * w`` of the run, low bits
first, and may straddle two words. Readers take the words section of the payload
typed as a (possibly unaligned, read-only) uint64 view of the input section: x86
loads do not need alignment, so decoders never copy their input.

Every kernel here trusts its caller: positions and widths are validated by the codec
that owns the format before a kernel touches the buffer. Integers are ``uint64``
throughout because mixing signed and unsigned 64-bit values makes Numba fall back to
float64.

Numba's on-disk cache does not notice when a kernel called from another module
changes: after editing a kernel here, delete ``tsengine/codecs/__pycache__/*.nb?`` (or
run with ``TSENGINE_NUMBA_CACHE=0``) so that its callers are compiled again.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.cpython.unsafe.numbers import leading_zeros

from tsengine._config import NJIT

U0 = np.uint64(0)
U1 = np.uint64(1)
U8 = np.uint64(8)
U63 = np.uint64(63)
U64 = np.uint64(64)
ALL_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


def words_for(m: int, w: int) -> int:
    """Number of 64-bit words that ``m`` values of ``w`` bits occupy."""
    return (m * w + 63) // 64


@numba.njit(**NJIT)
def _mask(w):
    """Low ``w`` bits set, for 0 <= w <= 64."""
    if w >= 64:
        return ALL_ONES
    return (U1 << np.uint64(w)) - U1


@numba.njit(**NJIT)
def _width(x):
    """Bits needed to hold the unsigned value ``x`` (0 for 0)."""
    if x == U0:
        return 0
    return 64 - np.int64(leading_zeros(x))


@numba.njit(**NJIT)
def _pack(src, lo, hi, base, w, words, wo):
    """Pack ``(src[lo:hi] - base) & mask(w)`` into ``words`` from word ``wo``.

    The run's words are cleared first, so ``words`` may come from ``np.empty``.
    Returns the word index after the run.
    """
    m = hi - lo
    if w == 0:
        return wo
    end = wo + (m * w + 63) // 64
    for k in range(wo, end):
        words[k] = U0
    uw = np.uint64(w)
    mask = _mask(w)
    bitpos = U0
    for i in range(m):
        v = (np.uint64(src[lo + i]) - base) & mask
        wi = wo + np.int64(bitpos >> np.uint64(6))
        sh = bitpos & U63
        words[wi] |= v << sh
        if sh + uw > U64:
            words[wi + 1] |= v >> (U64 - sh)
        bitpos += uw
    return end


@numba.njit(**NJIT)
def _unpack(words, wo, m, w, base, out, lo):
    """Unpack ``m`` values of ``w`` bits starting at word ``wo`` of ``words``.

    Results plus ``base`` (wrapping uint64 sums) go to ``out[lo:lo + m]``. ``words``
    may be an unaligned read-only view of the input; x86 loads do not care.
    """
    if w == 0:
        for i in range(m):
            out[lo + i] = base
        return
    uw = np.uint64(w)
    mask = _mask(w)
    for i in range(m):
        bitpos = np.uint64(i) * uw
        wi = wo + np.int64(bitpos >> np.uint64(6))
        sh = bitpos & U63
        v = words[wi] >> sh
        if sh + uw > U64:
            v |= words[wi + 1] << (U64 - sh)
        out[lo + i] = (v & mask) + base


@numba.njit(**NJIT)
def _append(out, pos, part):
    """Copy the uint8 array ``part`` into ``out`` at ``pos``; returns the end.

    Encoders write their sections back to back with it, in native byte order (the
    formats' little-endian order on the hosts that use these kernels).
    """
    end = pos + part.shape[0]
    out[pos:end] = part
    return end


def pack_words(values: np.ndarray, w: int) -> np.ndarray:
    """Pack a uint64 array at width ``w`` (no base); returns the uint64 words."""
    words = np.empty(words_for(len(values), w), dtype=np.uint64)
    _pack(values, 0, len(values), np.uint64(0), w, words, 0)
    return words


def unpack_words(words: np.ndarray, m: int, w: int) -> np.ndarray:
    """Inverse of ``pack_words``; the caller has checked ``len(words)``."""
    out = np.empty(m, dtype=np.uint64)
    _unpack(words, 0, m, w, np.uint64(0), out, 0)
    return out
