"""Numba kernels that decode ALP payloads (byte layout in ``alp``).

``_check`` validates the vector headers and counts the packed words, exceptions and
delta anchors they imply, so the caller can check every section size before reading
one. ``_decode`` then rebuilds each value with ``_unscale``, the expression the encoder
in ``_alp_kernels`` verified every value against, so each comes back bit for bit, and
patches in the exceptions, checking their positions as it goes.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT
from tsengine.codecs._alp_kernels import DELTA_FLAG, MAX_E, VECTOR, _unscale
from tsengine.codecs._bitpack import _unpack


@numba.njit(**NJIT)
def _check(exps, facs, widths, counts, n):
    """Validate vector headers.

    Returns (first bad vector or -1, packed words, exceptions, delta vectors).
    """
    nwords = 0
    nexc = 0
    ndelta = 0
    for v in range(widths.shape[0]):
        length = min(n - v * VECTOR, VECTOR)
        e = exps[v] & ~DELTA_FLAG
        if e > MAX_E or facs[v] > e or widths[v] > 64 or counts[v] > length:
            return v, 0, 0, 0
        nwords += (length * np.int64(widths[v]) + 63) // 64
        nexc += np.int64(counts[v])
        ndelta += 1 if exps[v] & DELTA_FLAG else 0
    return -1, nwords, nexc, ndelta


@numba.njit(**NJIT)
def _decode(words, anchors, exc_vals, exc_pos, bases, exps, facs, widths, counts, out):
    """Decode every vector into ``out`` (float64); -1 or the index of a bad exception.

    Headers were checked by ``_check`` and section sizes by the caller; exception
    positions are checked here. Digit arithmetic wraps, like the encoder's.
    """
    n = out.shape[0]
    ob = out.view(np.uint64)
    tmp = np.empty(VECTOR, dtype=np.uint64)
    wo = 0
    e_idx = 0
    a_idx = 0
    for v in range(widths.shape[0]):
        lo = v * VECTOR
        m = min(n, lo + VECTOR) - lo
        w = np.int64(widths[v])
        e = np.int64(exps[v] & ~DELTA_FLAG)
        f = np.int64(facs[v])
        _unpack(words, wo, m, w, np.uint64(bases[v]), tmp, 0)
        wo += (m * w + 63) // 64
        if exps[v] & DELTA_FLAG:
            # Running sum of the steps from the vector's anchor digit.
            digit = np.uint64(anchors[a_idx])
            a_idx += 1
            out[lo] = _unscale(np.int64(digit), e, f)
            for i in range(1, m):
                digit += tmp[i]
                out[lo + i] = _unscale(np.int64(digit), e, f)
        else:
            for i in range(m):
                out[lo + i] = _unscale(np.int64(tmp[i]), e, f)
        for _ in range(np.int64(counts[v])):
            pos = np.int64(exc_pos[e_idx])
            if pos >= m:
                return e_idx
            ob[lo + pos] = exc_vals[e_idx]
            e_idx += 1
    return -1
