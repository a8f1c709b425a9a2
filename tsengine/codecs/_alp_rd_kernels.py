"""Numba kernels of ALP-RD, ALP's fallback for doubles that are not short decimals.

Real-valued doubles (coordinates in radians, products of arithmetic) have
high-entropy mantissas, but their top bits (sign, exponent, leading mantissa) take few
distinct values within a block. ALP-RD cuts each 64-bit pattern at bit ``r``: the
*right* ``r`` bits are bit-packed as they are, the *left* ``64 - r`` bits (at most 16)
are replaced by a ``b``-bit index into a dictionary of ``2**b`` common left parts.
A left part missing from the dictionary is an exception: its index slot holds 0 and the
real left part is stored (u16) with its position (u16) and patched in on decode.

The cut and the dictionary size are chosen per block from a sorted sample: shifting a
sorted sample keeps it sorted, so the distinct left parts and their counts fall out of
one pass per candidate cut.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT
from tsengine.codecs._bitpack import U0, U63, U64, _mask

VECTOR = 1024
MAX_LEFT = 16
MAX_INDEX_BITS = 3
EXC_BITS = 32
SAMPLE = 2048


@numba.njit(**NJIT)
def _top_counts(lefts, k):
    """The ``k`` most frequent values of the sorted array ``lefts`` and their counts."""
    top_v = np.zeros(k, dtype=np.uint64)
    top_c = np.zeros(k, dtype=np.int64)
    n = lefts.shape[0]
    i = 0
    while i < n:
        j = i
        while j < n and lefts[j] == lefts[i]:
            j += 1
        c = j - i
        # Insert into the descending top list if it beats the last entry.
        if c > top_c[k - 1]:
            p = k - 1
            while p > 0 and top_c[p - 1] < c:
                top_c[p] = top_c[p - 1]
                top_v[p] = top_v[p - 1]
                p -= 1
            top_c[p] = c
            top_v[p] = lefts[i]
        i = j
    return top_v, top_c


@numba.njit(**NJIT)
def _choose(xb):
    """Pick (right bits r, index bits b, dictionary) for the uint64 patterns ``xb``.

    Returns r, b, a uint64 dictionary of 2**b left parts, and the estimated bits per
    value.
    """
    n = xb.shape[0]
    count = min(n, SAMPLE)
    sample = np.empty(count, dtype=np.uint64)
    for k in range(count):
        sample[k] = xb[(k * n) // count]
    sample.sort()

    best_bits = 1e300
    best_r = 48
    best_b = 0
    best_dict = np.zeros(1, dtype=np.uint64)
    top = 1 << MAX_INDEX_BITS
    for left in range(1, MAX_LEFT + 1):
        r = 64 - left
        lefts = sample >> np.uint64(r)
        top_v, top_c = _top_counts(lefts, top)
        covered = 0
        for b in range(MAX_INDEX_BITS + 1):
            size = 1 << b
            covered = 0
            for q in range(size):
                covered += top_c[q]
            exc_rate = (count - covered) / count
            bits = r + b + exc_rate * EXC_BITS + size * 16.0 / n
            if bits < best_bits:
                best_bits = bits
                best_r = r
                best_b = b
                best_dict = top_v[:size].copy()
    return best_r, best_b, best_dict, best_bits


@numba.njit(**NJIT)
def _put(words, bitpos, v, w):
    """OR the ``w``-bit value ``v`` into ``words`` at ``bitpos`` (0 < w <= 64)."""
    wi = np.int64(bitpos >> np.uint64(6))
    sh = bitpos & U63
    words[wi] |= v << sh
    if sh + np.uint64(w) > U64:
        words[wi + 1] |= v >> (U64 - sh)


@numba.njit(**NJIT)
def _encode(xb, r, b, dictionary, rights, codes, counts, exc_lefts, exc_pos):
    """Split, look up and pack every value; returns the number of exceptions."""
    n = xb.shape[0]
    ur = np.uint64(r)
    rmask = _mask(r)
    size = dictionary.shape[0]
    ne = 0
    for v in range((n + VECTOR - 1) // VECTOR):
        lo = v * VECTOR
        hi = min(n, lo + VECTOR)
        start = ne
        for i in range(lo, hi):
            left = xb[i] >> ur
            code = size
            for q in range(size):
                if dictionary[q] == left:
                    code = q
                    break
            if code == size:
                exc_lefts[ne] = left
                exc_pos[ne] = i - lo
                ne += 1
                code = 0
            _put(rights, np.uint64(i) * ur, xb[i] & rmask, r)
            if b > 0:
                _put(codes, np.uint64(i) * np.uint64(b), np.uint64(code), b)
        counts[v] = ne - start
    return ne


@numba.njit(**NJIT)
def _decode(rights, codes, exc_lefts, exc_pos, r, b, dictionary, counts, out):
    """Rebuild the uint64 patterns ``out``; -1 or the index of a bad exception.

    Section sizes were checked by the caller; ``dictionary`` has exactly 2**b entries,
    so every index is valid. Exception positions are checked here.
    """
    n = out.shape[0]
    ur = np.uint64(r)
    rmask = _mask(r)

    # Right part and dictionary index of every value in one pass.
    ub = np.uint64(b)
    bmask = _mask(b)
    for i in range(n):
        bitpos = np.uint64(i) * ur
        wi = np.int64(bitpos >> np.uint64(6))
        sh = bitpos & U63
        right = rights[wi] >> sh
        if sh + ur > U64:
            right |= rights[wi + 1] << (U64 - sh)
        code = U0
        if b > 0:
            bitpos = np.uint64(i) * ub
            wi = np.int64(bitpos >> np.uint64(6))
            sh = bitpos & U63
            code = codes[wi] >> sh
            if sh + ub > U64:
                code |= codes[wi + 1] << (U64 - sh)
        out[i] = (dictionary[np.int64(code & bmask)] << ur) | (right & rmask)

    # Patch the left parts that were not in the dictionary.
    e = 0
    for v in range(counts.shape[0]):
        lo = v * VECTOR
        m = min(n, lo + VECTOR) - lo
        for _ in range(np.int64(counts[v])):
            pos = np.int64(exc_pos[e])
            if pos >= m:
                return e
            left = np.uint64(exc_lefts[e])
            out[lo + pos] = (left << ur) | (out[lo + pos] & rmask)
            e += 1
    return -1
