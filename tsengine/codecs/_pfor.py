"""Patched frame-of-reference packing of 64-bit integer sequences.

The sequence is cut into vectors of 1024 values. Each vector stores a base, a bit width
``w`` and the values ``v - base`` (wrapping, unsigned) packed at ``w`` bits; values that
do not fit are *exceptions*, stored whole with their position and patched in after
unpacking. The base and width are chosen per vector to minimise
``1024 * w + 80 * exceptions`` bits: the widest window of ``2**w`` consecutive integers
that holds the most values wins, so a few outliers (a gap in a timestamp stream, a
spike in a counter) do not widen every other value.

Section layout, all little-endian, for ``m`` values in ``nvec`` vectors::

    bases        nvec x u64
    widths       nvec x u8     (0..64)
    exc_counts   nvec x u16    (<= vector length)
    words        sum of words_for(len_i, width_i) x u64
    exc_values   total exceptions x u64
    exc_pos      total exceptions x u16 (< vector length)

Arithmetic is modulo 2**64, so any int64 or uint64 sequence round-trips.
"""

from __future__ import annotations

import sys

import numba
import numpy as np

from tsengine._config import NJIT
from tsengine.codecs._bitpack import U1, _append, _mask, _pack, _unpack, _width
from tsengine.codecs._frame import Where, section

VECTOR = 1024
EXC_BITS = 80
_META = 8 + 1 + 2


@numba.njit(**NJIT)
def _pivot(src, lo, hi):
    """Median of up to 15 evenly spaced values: the centre of the bulk."""
    m = hi - lo
    k = min(m, 15)
    sample = np.empty(k, dtype=np.int64)
    for i in range(k):
        sample[i] = src[lo + (i * m) // k]
    sample.sort()
    return sample[k // 2]


@numba.njit(**NJIT)
def _choose(src, lo, hi):
    """Pick (base, width) for ``src[lo:hi]`` (int64) to minimise packed + patch bits.

    Three window placements are priced for every width: anchored at the minimum
    (outliers above), at the maximum (outliers below) and centred on the median of a
    sample (outliers on both sides, the shape of a gap in a delta-of-delta stream).
    Each costs O(m); an exact search would need a sort per vector.
    """
    m = hi - lo
    vmin = src[lo]
    vmax = src[lo]
    for i in range(lo, hi):
        vmin = min(vmin, src[i])
        vmax = max(vmax, src[i])
    umin = np.uint64(vmin)
    umax = np.uint64(vmax)
    full = _width(umax - umin)
    if m * full <= EXC_BITS:
        return umin, full

    # Histograms of the width each value needs under each placement, from every
    # fourth value of a long vector: exceptions are found exactly afterwards, the
    # histograms only price the widths.
    stride = 4 if m >= 512 else 1
    exc_cost = EXC_BITS * stride
    pivot = _pivot(src, lo, hi)
    upiv = np.uint64(pivot)
    h_lo = np.zeros(66, dtype=np.int64)
    h_hi = np.zeros(66, dtype=np.int64)
    h_mid = np.zeros(66, dtype=np.int64)
    for i in range(lo, hi, stride):
        u = np.uint64(src[i])
        h_lo[_width(u - umin)] += 1
        h_hi[_width(umax - u)] += 1
        d = u - upiv if src[i] >= pivot else upiv - u
        h_mid[_width(d) + 1] += 1

    # Price each width with the values that would not fit; keep the cheapest.
    best_cost = m * full
    best_w = full
    best_base = umin
    out_lo = 0
    out_hi = 0
    out_mid = h_mid[full + 1 :].sum()
    for w in range(full - 1, -1, -1):
        out_lo += h_lo[w + 1]
        out_hi += h_hi[w + 1]
        out_mid += h_mid[w + 1]
        packed = m * w
        if packed + exc_cost * out_lo < best_cost:
            best_cost, best_w, best_base = packed + exc_cost * out_lo, w, umin
        if packed + exc_cost * out_hi < best_cost:
            best_cost, best_w, best_base = (
                packed + exc_cost * out_hi,
                w,
                umax - _mask(w),
            )
        if w >= 1 and packed + exc_cost * out_mid < best_cost:
            half = U1 << np.uint64(w - 1)
            best_cost, best_w, best_base = packed + exc_cost * out_mid, w, upiv - half
    return best_base, best_w


@numba.njit(**NJIT)
def _encode(src, bases, widths, counts, words, exc_vals, exc_pos):
    """Encode int64 ``src``; returns (words used, exceptions used)."""
    n = src.shape[0]
    wo = 0
    ne = 0
    for v in range((n + VECTOR - 1) // VECTOR):
        lo = v * VECTOR
        hi = min(n, lo + VECTOR)
        base, w = _choose(src, lo, hi)
        span = _mask(w)

        # Patch list first: values outside [base, base + 2**w).
        start = ne
        for i in range(lo, hi):
            if np.uint64(src[i]) - base > span:
                exc_vals[ne] = np.uint64(src[i])
                exc_pos[ne] = i - lo
                ne += 1
        bases[v] = base
        widths[v] = w
        counts[v] = ne - start
        wo = _pack(src, lo, hi, base, w, words, wo)
    return wo, ne


@numba.njit(**NJIT)
def _check(widths, counts, m):
    """Validate vector headers; returns (first bad vector or -1, words, exceptions)."""
    nwords = 0
    nexc = 0
    for v in range(widths.shape[0]):
        length = min(m - v * VECTOR, VECTOR)
        if widths[v] > 64 or counts[v] > length:
            return v, 0, 0
        nwords += (length * np.int64(widths[v]) + 63) // 64
        nexc += np.int64(counts[v])
    return -1, nwords, nexc


@numba.njit(**NJIT)
def _decode(words, exc_vals, exc_pos, widths, counts, bases, out):
    """Unpack and patch all vectors; returns -1 or the index of a bad exception."""
    n = out.shape[0]
    wo = 0
    e = 0
    for v in range(widths.shape[0]):
        lo = v * VECTOR
        m = min(n, lo + VECTOR) - lo
        w = np.int64(widths[v])
        _unpack(words, wo, m, w, bases[v], out, lo)
        wo += (m * w + 63) // 64
        for _ in range(np.int64(counts[v])):
            pos = np.int64(exc_pos[e])
            if pos >= m:
                return e
            out[lo + pos] = exc_vals[e]
            e += 1
    return -1


@numba.njit(**NJIT)
def _encode_bytes(src):
    """The whole payload of int64 ``src`` as native-order bytes (see the layout)."""
    n = src.shape[0]
    nvec = (n + VECTOR - 1) // VECTOR
    bases = np.empty(nvec, dtype=np.uint64)
    widths = np.empty(nvec, dtype=np.uint8)
    counts = np.empty(nvec, dtype=np.uint16)
    words = np.empty(n + nvec, dtype=np.uint64)
    exc_vals = np.empty(n, dtype=np.uint64)
    exc_pos = np.empty(n, dtype=np.uint16)
    nw, ne = _encode(src, bases, widths, counts, words, exc_vals, exc_pos)

    # Sections back to back, in the documented order.
    out = np.empty(nvec * _META + 8 * nw + 10 * ne, dtype=np.uint8)
    pos = _append(out, 0, bases.view(np.uint8))
    pos = _append(out, pos, widths)
    pos = _append(out, pos, counts.view(np.uint8))
    pos = _append(out, pos, words[:nw].view(np.uint8))
    pos = _append(out, pos, exc_vals[:ne].view(np.uint8))
    _append(out, pos, exc_pos[:ne].view(np.uint8))
    return out


#: The kernels write native byte order: the format's on little-endian hosts.
NATIVE_IS_FORMAT = sys.byteorder == "little"


def encode(values: np.ndarray) -> bytes:
    """Encode an int64 (or uint64, reinterpreted) array; see the module layout."""
    src = np.ascontiguousarray(values).view(np.int64)
    if NATIVE_IS_FORMAT:
        # One kernel call: small blocks spend more on Python calls than on packing.
        return _encode_bytes(src).tobytes()
    n = len(src)
    nvec = -(-n // VECTOR)
    bases = np.empty(nvec, dtype=np.uint64)
    widths = np.empty(nvec, dtype=np.uint8)
    counts = np.empty(nvec, dtype="<u2")
    words = np.empty(n + nvec, dtype=np.uint64)
    exc_vals = np.empty(n, dtype=np.uint64)
    exc_pos = np.empty(n, dtype="<u2")
    nw, ne = _encode(src, bases, widths, counts, words, exc_vals, exc_pos)
    return b"".join(
        [
            bases.astype("<u8").tobytes(),
            widths.tobytes(),
            counts.tobytes(),
            words[:nw].astype("<u8").tobytes(),
            exc_vals[:ne].astype("<u8").tobytes(),
            exc_pos[:ne].tobytes(),
        ]
    )


def decode(buf: np.ndarray, pos: int, m: int, end: int, where: Where):
    """Decode ``m`` values from ``buf[pos:end]`` (uint8); return (uint64s, next pos).

    Every section length is checked against ``end`` before the kernel runs.
    """
    nvec = -(-m // VECTOR)
    meta_end = pos + nvec * _META
    if meta_end > end:
        raise where.fail(
            pos, f"{nvec} vector headers need {nvec * _META} bytes, {end - pos} left"
        )
    bases = section(buf, pos, "<u8", nvec)
    widths = section(buf, pos + 8 * nvec, "u1", nvec)
    counts = section(buf, pos + 9 * nvec, "<u2", nvec)

    # Widths and exception counts must describe sections that exist.
    bad, nwords, nexc = _check(widths, counts, m)
    if bad >= 0:
        raise where.fail(
            pos + 8 * nvec + bad,
            f"vector {bad}: width {int(widths[bad])!r} or {int(counts[bad])!r} "
            "exceptions out of range",
        )
    p_vals = meta_end + 8 * nwords
    p_pos = p_vals + 8 * nexc
    nxt = p_pos + 2 * nexc
    if nxt > end:
        raise where.fail(
            meta_end, f"packed data needs {nxt - meta_end} bytes, {end - meta_end} left"
        )

    out = np.empty(m, dtype=np.uint64)
    err = _decode(
        section(buf, meta_end, "<u8", nwords),
        section(buf, p_vals, "<u8", nexc),
        section(buf, p_pos, "<u2", nexc),
        widths,
        counts,
        bases,
        out,
    )
    if err >= 0:
        raise where.fail(p_pos + 2 * err, "exception position outside its vector")
    return out, nxt
