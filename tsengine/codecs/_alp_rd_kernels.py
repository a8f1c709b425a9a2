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
one pass over the sample's top 16 bits, and each narrower cut merges neighbouring runs
of the one before.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT
from tsengine.codecs._bitpack import U0, U1, U63, U64, _append, _mask

VECTOR = 1024
MAX_LEFT = 16
MAX_INDEX_BITS = 3
EXC_BITS = 32
SAMPLE = 2048


@numba.njit(**NJIT)
def _sorted_tops(xb, count):
    """The top ``MAX_LEFT`` bits of ``count`` values spread evenly over ``xb``, sorted.

    Two counting passes of 8 bits each (an LSD radix sort): the keys have 16 bits.
    """
    n = xb.shape[0]
    keys = np.empty(count, dtype=np.uint64)
    shift = np.uint64(64 - MAX_LEFT)
    for k in range(count):
        keys[k] = xb[(k * n) // count] >> shift
    tmp = np.empty(count, dtype=np.uint64)
    hist = np.empty(257, dtype=np.int64)
    for byte in range(2):
        at = np.uint64(8 * byte)
        hist[:] = 0
        for k in range(count):
            hist[np.int64((keys[k] >> at) & np.uint64(0xFF)) + 1] += 1
        for d in range(256):
            hist[d + 1] += hist[d]
        for k in range(count):
            d = np.int64((keys[k] >> at) & np.uint64(0xFF))
            tmp[hist[d]] = keys[k]
            hist[d] += 1
        keys, tmp = tmp, keys
    return keys


@numba.njit(**NJIT)
def _top_runs(vals, counts, m, top_v, top_c):
    """Fill ``top_v``/``top_c`` (zeroed, length k) with the k longest of the ``m``
    runs ``vals``/``counts``, longest first; of equal runs the earlier one ranks
    higher."""
    k = top_c.shape[0]
    for i in range(m):
        c = counts[i]
        # Insert into the descending top list if it beats the last entry.
        if c > top_c[k - 1]:
            p = k - 1
            while p > 0 and top_c[p - 1] < c:
                top_c[p] = top_c[p - 1]
                top_v[p] = top_v[p - 1]
                p -= 1
            top_c[p] = c
            top_v[p] = vals[i]


@numba.njit(**NJIT)
def _choose(xb):
    """Pick (right bits r, index bits b, dictionary) for the uint64 patterns ``xb``.

    Returns r, b, a uint64 dictionary of 2**b left parts, and the estimated bits per
    value. The left parts are judged on an evenly spaced sample of ``SAMPLE`` values.
    """
    n = xb.shape[0]
    count = min(n, SAMPLE)
    top = 1 << MAX_INDEX_BITS

    # Runs of equal left parts in the sorted sample, widest cut first: a cut one bit
    # narrower only merges neighbouring runs (x >> 1 of sorted keys), so each cut
    # costs a pass over the previous cut's runs, not over the sample.
    keys = _sorted_tops(xb, count)
    vals = np.empty(count, dtype=np.uint64)
    runs = np.empty(count, dtype=np.int64)
    m = 0
    for k in range(count):
        if m > 0 and vals[m - 1] == keys[k]:
            runs[m - 1] += 1
        else:
            vals[m] = keys[k]
            runs[m] = 1
            m += 1
    top_v = np.zeros((MAX_LEFT + 1, top), dtype=np.uint64)
    top_c = np.zeros((MAX_LEFT + 1, top), dtype=np.int64)
    for left in range(MAX_LEFT, 0, -1):
        if left < MAX_LEFT:
            j = 0
            for i in range(m):
                v = vals[i] >> U1
                if j > 0 and vals[j - 1] == v:
                    runs[j - 1] += runs[i]
                else:
                    vals[j] = v
                    runs[j] = runs[i]
                    j += 1
            m = j
        _top_runs(vals, runs, m, top_v[left], top_c[left])

    # Price every cut and dictionary size; the first of equal prices wins.
    best_bits = 1e300
    best_r = 48
    best_b = 0
    best_dict = np.zeros(1, dtype=np.uint64)
    for left in range(1, MAX_LEFT + 1):
        r = 64 - left
        covered = 0
        for b in range(MAX_INDEX_BITS + 1):
            size = 1 << b
            covered = 0
            for q in range(size):
                covered += top_c[left, q]
            exc_rate = (count - covered) / count
            bits = r + b + exc_rate * EXC_BITS + size * 16.0 / n
            if bits < best_bits:
                best_bits = bits
                best_r = r
                best_b = b
                best_dict = top_v[left, :size].copy()
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
def _encode_bytes(xb, r, b, dictionary):
    """The whole ALP-RD payload of ``xb`` (layout in ``alp``), native byte order."""
    n = xb.shape[0]
    nvec = (n + VECTOR - 1) // VECTOR
    rights = np.zeros((n * r + 63) // 64, dtype=np.uint64)
    codes = np.zeros((n * b + 63) // 64, dtype=np.uint64)
    counts = np.empty(nvec, dtype=np.uint16)
    exc_lefts = np.empty(n, dtype=np.uint16)
    exc_pos = np.empty(n, dtype=np.uint16)
    ne = _encode(xb, r, b, dictionary, rights, codes, counts, exc_lefts, exc_pos)

    # Sections back to back, in the documented order.
    size = dictionary.shape[0]
    nbytes = 2 + 2 * size + 2 * nvec + 8 * (rights.shape[0] + codes.shape[0])
    out = np.empty(nbytes + 4 * ne, dtype=np.uint8)
    out[0] = r
    out[1] = b
    pos = _append(out, 2, dictionary.astype(np.uint16).view(np.uint8))
    pos = _append(out, pos, counts.view(np.uint8))
    pos = _append(out, pos, rights.view(np.uint8))
    pos = _append(out, pos, codes.view(np.uint8))
    pos = _append(out, pos, exc_lefts[:ne].view(np.uint8))
    _append(out, pos, exc_pos[:ne].view(np.uint8))
    return out


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
