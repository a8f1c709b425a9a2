"""Numba kernels of ALP, the adaptive lossless float codec (Afroozeh, Kuffo, Boncz,
SIGMOD 2024), written from the paper's description.

A double ``x`` that was printed with few decimals is, after multiplying by ``10**e`` and
dividing by ``10**f``, (nearly) an integer ``d``. ALP stores ``d`` and decodes
``d * 10**f * 10**-e``; a value whose decode is not bit-identical to ``x`` becomes an
exception stored whole. The encoder checks every value with the very expression the
decoder uses, so the round trip is exact by construction: no value is ever trusted to
come back right, each one is verified.

Choosing ``(e, f)`` is done by sampling in two levels, as the paper describes: a few
vectors of each row group (100 vectors) are searched over all 190 pairs, the most
frequent winners are kept (at most ``TOP_K``), and every vector then picks the cheapest
of those on a sample of its own values.

tsengine extension, not in the paper: sensor readings change little from one sample to
the next, so a vector may instead pack the differences of consecutive digits (plain
frame of reference over the steps, plus one anchor digit). The encoder prices both
layouts per vector and keeps the smaller; pure paper ALP is ``delta=False``.

This module holds the encoder and its sampling; the decoder's kernels are in
``_alp_decode_kernels``, which shares ``_unscale`` and the constants defined here.
"""

from __future__ import annotations

import numba
import numpy as np

from tsengine._config import NJIT
from tsengine.codecs._bitpack import _append, _mask, _pack, _width
from tsengine.codecs._pfor import _choose

VECTOR = 1024
MAX_E = 18
TOP_K = 5
EXC_BITS = 80
SAMPLE_VECTORS = 8
ROW_GROUP = 100
#: Set in a vector's exponent byte when it stores digit differences from an anchor.
DELTA_FLAG = 0x80
SAMPLE_VALUES = 32

# Powers of ten; both tables are correctly rounded doubles (1e0..1e18 are exact).
F10 = np.array([10.0**i for i in range(MAX_E + 1)], dtype=np.float64)
IF10 = np.array([float(f"1e-{i}") for i in range(MAX_E + 1)], dtype=np.float64)

# Adding then subtracting 1.5 * 2**52 rounds a double below 2**51 to an integer.
_MAGIC = 6755399441055744.0
_LIMIT = 2251799813685248.0
_NEG_ZERO = np.uint64(0x8000000000000000)


@numba.njit(**NJIT)
def _scale(x, e, f):
    """Digits of ``x`` under (e, f); the second item is False when out of range."""
    s = x * F10[e] * IF10[f]
    if not (s > -_LIMIT and s < _LIMIT):
        return np.int64(0), False
    return np.int64((s + _MAGIC) - _MAGIC), True


@numba.njit(**NJIT)
def _unscale(d, e, f):
    """The decoder's expression; the encoder calls it too, so both agree bit for bit."""
    return np.float64(d) * F10[f] * IF10[e]


@numba.njit(**NJIT)
def _encodes(x, xb, e, f):
    """Digits of ``x`` and whether they decode to exactly the bits ``xb``."""
    d, ok = _scale(x, e, f)
    if not ok:
        return d, False
    # Equal finite doubles have equal bits, except 0.0 == -0.0.
    return d, _unscale(d, e, f) == x and xb != _NEG_ZERO


@numba.njit(**NJIT)
def _gather(x, xb, lo, m, xs, xbs):
    """Copy the evenly spaced sample of the vector ``x[lo:lo + m]`` (and its bits)
    into ``xs`` and ``xbs``; returns the sample size."""
    step, count = _sample_grid(m)
    for k in range(count):
        xs[k] = x[lo + k * step]
        xbs[k] = xb[lo + k * step]
    return count


@numba.njit(**NJIT)
def _sample_cost(xs, xbs, count, m, e, f, bound, digits):
    """Estimated bits for ``m`` values under (e, f), from the ``count`` gathered
    samples ``xs`` (bits ``xbs``); ``digits`` is scratch of ``count`` doubles.

    With ``bound >= 0`` a pair whose exceptions alone price it at ``bound`` or more
    is not priced further and ``bound`` comes back: a caller looking for the
    cheapest pair loses nothing by it.
    """
    # Pass 1, branch-free so that it runs on vectors of doubles: which samples
    # round-trip. Out of range, (s + magic) - magic is no integer and the check fails
    # for it anyway; in range, that double is the digit exactly (|s| < 2**51).
    up = F10[e]
    down = IF10[f]
    back_up = F10[f]
    back_down = IF10[e]
    exc = 0
    for k in range(count):
        s = xs[k] * up * down
        d = (s + _MAGIC) - _MAGIC
        ok = (s > -_LIMIT) & (s < _LIMIT) & (d * back_up * back_down == xs[k])
        ok = ok & (xbs[k] != _NEG_ZERO)
        digits[k] = d if ok else np.nan
        exc += 0 if ok else 1

    # The cost is floor((packed + patched) / count): it reaches ``bound`` exactly when
    # packed + patched >= bound * count.
    patched = exc * m * EXC_BITS
    if bound >= 0 and patched >= bound * count:
        return bound

    # Pass 2: the range of the digits that round-trip.
    dmin = np.int64(0)
    dmax = np.int64(0)
    seen = False
    for k in range(count):
        if digits[k] == digits[k]:  # not NaN: a digit that round-trips
            d = np.int64(digits[k])
            if not seen or d < dmin:
                dmin = d
            if not seen or d > dmax:
                dmax = d
            seen = True
    width = _width(np.uint64(dmax) - np.uint64(dmin)) if seen else 0
    return (m * width * count + patched) // count


@numba.njit(**NJIT)
def _sample_grid(m):
    """(step, count) of an evenly spaced sample of a vector of ``m`` values."""
    count = min(m, SAMPLE_VALUES)
    return max(1, m // count), count


@numba.njit(**NJIT)
def _top_combos(x, xb):
    """First sampling level: the (e, f) pairs that win most often across the block.

    Returns an int64 array of shape (k, 2), best first, and the mean estimated bits
    per value of the winners.
    """
    n = x.shape[0]
    nvec = (n + VECTOR - 1) // VECTOR
    picks = min(nvec, SAMPLE_VECTORS)
    wins = np.zeros((MAX_E + 1, MAX_E + 1), dtype=np.int64)
    costs = np.zeros((MAX_E + 1, MAX_E + 1), dtype=np.int64)
    total = 0
    xs = np.empty(SAMPLE_VALUES, dtype=np.float64)
    xbs = np.empty(SAMPLE_VALUES, dtype=np.uint64)
    digits = np.empty(SAMPLE_VALUES, dtype=np.float64)
    for s in range(picks):
        v = (s * nvec) // picks
        lo = v * VECTOR
        m = min(n, lo + VECTOR) - lo
        count = _gather(x, xb, lo, m, xs, xbs)
        best = np.int64(-1)
        be = 0
        bf = 0
        for e in range(MAX_E, -1, -1):
            for f in range(e, -1, -1):
                c = _sample_cost(xs, xbs, count, m, e, f, best, digits)
                if best < 0 or c < best:
                    best, be, bf = c, e, f
        wins[be, bf] += 1
        costs[be, bf] += best
        total += best

    # Rank by wins, then by cheaper total cost.
    out = np.zeros((TOP_K, 2), dtype=np.int64)
    k = 0
    while k < TOP_K:
        bw = 0
        bc = 0
        be = -1
        bf = -1
        for e in range(MAX_E + 1):
            for f in range(e + 1):
                w = wins[e, f]
                if w > bw or (w == bw and w > 0 and costs[e, f] < bc):
                    bw, bc, be, bf = w, costs[e, f], e, f
        if be < 0:
            break
        out[k, 0] = be
        out[k, 1] = bf
        wins[be, bf] = 0
        k += 1
    return out[:k], total / max(1, picks) / VECTOR


@numba.njit(**NJIT)
def _pick_pair(x, xb, lo, m, combos):
    """The (e, f) among ``combos`` with the cheapest estimate on this vector."""
    e = combos[0, 0]
    f = combos[0, 1]
    if combos.shape[0] > 1:
        xs = np.empty(SAMPLE_VALUES, dtype=np.float64)
        xbs = np.empty(SAMPLE_VALUES, dtype=np.uint64)
        digits = np.empty(SAMPLE_VALUES, dtype=np.float64)
        count = _gather(x, xb, lo, m, xs, xbs)
        best = np.int64(-1)
        for c in range(combos.shape[0]):
            ce, cf = combos[c, 0], combos[c, 1]
            cost = _sample_cost(xs, xbs, count, m, ce, cf, best, digits)
            if best < 0 or cost < best:
                best, e, f = cost, combos[c, 0], combos[c, 1]
    return e, f


@numba.njit(**NJIT)
def _encode(
    x,
    delta,
    first,
    bases,
    exps,
    facs,
    widths,
    counts,
    anchors,
    words,
    exc_vals,
    exc_pos,
):
    """Encode float64 ``x`` vector by vector.

    With ``delta`` set, a vector whose digits change slowly may store the differences
    of its digits instead (see ``DELTA_FLAG``). ``first`` is ``_top_combos`` of the
    first row group when the caller already has it (else an empty (0, 2) array).
    Returns (words, exceptions, anchors) used.
    """
    n = x.shape[0]
    xb = x.view(np.uint64)
    digits = np.empty(VECTOR, dtype=np.int64)
    chain = np.empty(VECTOR, dtype=np.int64)
    combos = np.zeros((1, 2), dtype=np.int64)
    wo = 0
    ne = 0
    na = 0
    for v in range((n + VECTOR - 1) // VECTOR):
        lo = v * VECTOR
        m = min(n, lo + VECTOR) - lo

        # First sampling level, once per row group: a long block may change character.
        if v == 0 and first.shape[0] > 0:
            combos = first
        elif v % ROW_GROUP == 0:
            hi = min(n, lo + ROW_GROUP * VECTOR)
            combos, _ = _top_combos(x[lo:hi], xb[lo:hi])

        # Second sampling level: this vector's cheapest pair among the block's best.
        e, f = _pick_pair(x, xb, lo, m, combos)

        # Digits and exceptions; an exception's slot borrows a valid digit so that it
        # does not widen the frame of reference.
        start = ne
        fill = np.int64(0)
        have_fill = False
        for i in range(m):
            d, ok = _encodes(x[lo + i], xb[lo + i], e, f)
            if ok:
                digits[i] = d
                if not have_fill:
                    fill = d
                    have_fill = True
            else:
                digits[i] = 0
                exc_vals[ne] = xb[lo + i]
                exc_pos[ne] = i
                ne += 1

        # Delta candidate: the chain of valid digits (an exception repeats the digit
        # before it, so it costs no width) and the range of its steps.
        delta_cost = np.int64(-1)
        dmin = np.int64(0)
        dmax = np.int64(0)
        if delta and m > 1:
            prev = fill
            k = start
            for i in range(m):
                if k < ne and exc_pos[k] == i:
                    k += 1
                else:
                    prev = digits[i]
                chain[i] = prev
            dmin = chain[1] - chain[0]
            dmax = dmin
            for i in range(2, m):
                dmin = min(dmin, chain[i] - chain[i - 1])
                dmax = max(dmax, chain[i] - chain[i - 1])
            wd = _width(np.uint64(dmax) - np.uint64(dmin))
            delta_cost = m * wd + 64

        # Frame-of-reference candidate, patched: digits far from the bulk (a spike, a
        # stuck-at-zero stretch around real readings) become exceptions too when that
        # is cheaper than widening every slot.
        for k in range(start, ne):
            digits[exc_pos[k]] = fill
        base, w = _choose(digits, 0, m)
        span = _mask(w)
        outside = 0
        for i in range(m):
            if np.uint64(digits[i]) - base > span:
                outside += 1
        facs[v] = f
        if delta_cost >= 0 and delta_cost < m * w + EXC_BITS * outside:
            anchors[na] = chain[0]
            na += 1
            digits[0] = dmin
            for i in range(1, m):
                digits[i] = chain[i] - chain[i - 1]
            base = np.uint64(dmin)
            w = _width(np.uint64(dmax) - np.uint64(dmin))
            exps[v] = e | DELTA_FLAG
        else:
            for i in range(m):
                if np.uint64(digits[i]) - base > span:
                    exc_vals[ne] = xb[lo + i]
                    exc_pos[ne] = i
                    ne += 1
            exps[v] = e
        bases[v] = np.int64(base)
        widths[v] = w
        counts[v] = ne - start
        wo = _pack(digits, 0, m, base, w, words, wo)
    return wo, ne, na


@numba.njit(**NJIT)
def _encode_sections(x, delta, first):
    """The sections of the ALP payload of ``x`` (layout in ``alp``), in order:
    bases, counts, exponents, factors, widths, anchors, words, exception values
    and positions; ``delta`` and ``first`` as for ``_encode``."""
    n = x.shape[0]
    nvec = (n + VECTOR - 1) // VECTOR
    bases = np.empty(nvec, dtype=np.int64)
    exps = np.empty(nvec, dtype=np.uint8)
    facs = np.empty(nvec, dtype=np.uint8)
    widths = np.empty(nvec, dtype=np.uint8)
    counts = np.empty(nvec, dtype=np.uint16)
    anchors = np.empty(nvec, dtype=np.int64)
    words = np.empty(n + nvec, dtype=np.uint64)
    exc_vals = np.empty(n, dtype=np.uint64)
    exc_pos = np.empty(n, dtype=np.uint16)
    nw, ne, na = _encode(
        x,
        delta,
        first,
        bases,
        exps,
        facs,
        widths,
        counts,
        anchors,
        words,
        exc_vals,
        exc_pos,
    )
    return (
        bases,
        counts,
        exps,
        facs,
        widths,
        anchors[:na],
        words[:nw],
        exc_vals[:ne],
        exc_pos[:ne],
    )


@numba.njit(**NJIT)
def _encode_bytes(x, delta, first):
    """The whole ALP payload of ``x`` as one array, native byte order."""
    bases, counts, exps, facs, widths, anchors, words, exc_vals, exc_pos = (
        _encode_sections(x, delta, first)
    )
    nvec, na, nw, ne = bases.size, anchors.size, words.size, exc_vals.size
    # Sections back to back, in the documented order.
    out = np.empty(13 * nvec + 8 * (na + nw + ne) + 2 * ne, dtype=np.uint8)
    pos = _append(out, 0, bases.view(np.uint8))
    pos = _append(out, pos, counts.view(np.uint8))
    pos = _append(out, pos, exps)
    pos = _append(out, pos, facs)
    pos = _append(out, pos, widths)
    pos = _append(out, pos, anchors.view(np.uint8))
    pos = _append(out, pos, words.view(np.uint8))
    pos = _append(out, pos, exc_vals.view(np.uint8))
    _append(out, pos, exc_pos.view(np.uint8))
    return out
