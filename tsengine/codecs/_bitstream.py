"""Numba helpers for variable-length bit streams (Gorilla, Chimp128).

A stream is an array of uint64 words; bit ``k`` of the stream is bit ``k % 64`` of word
``k // 64``, so fields are written low bits first and may straddle two words. Writers
need a zeroed array large enough for the worst case; readers check every field against
the number of bits present and report running past the end instead of reading it.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT
from tsengine.codecs._bitpack import U64, _mask


@numba.njit(**NJIT)
def _write(words, pos, value, k):
    """Append the low ``k`` bits (1..64) of ``value`` at bit ``pos``; return new pos."""
    wi = pos >> 6
    sh = np.uint64(pos & 63)
    value &= _mask(k)
    words[wi] |= value << sh
    if sh + np.uint64(k) > U64:
        words[wi + 1] |= value >> (U64 - sh)
    return pos + k


@numba.njit(**NJIT)
def _read(words, nbits, pos, k):
    """Read ``k`` bits (1..64) at ``pos``; returns (value, new pos), pos -1 past end."""
    if pos + k > nbits:
        return np.uint64(0), -1
    wi = pos >> 6
    sh = np.uint64(pos & 63)
    value = words[wi] >> sh
    if sh + np.uint64(k) > U64:
        value |= words[wi + 1] << (U64 - sh)
    return value & _mask(k), pos + k
