"""A mergeable quantile sketch with a relative error bound (DDSketch-style).

Rollups cannot keep every value of a window to sort it at close, so percentiles
(``median``, ``p<N>``, ``q<F>``) come from a sketch: values are counted in logarithmic
bins whose width is a fixed ratio, so any value is known to within a fixed *relative*
error however large or small it is.

Binning (relative accuracy ``alpha``, ``gamma = (1 + alpha) / (1 - alpha)``)
    A positive value ``x`` falls in bin ``k = ceil(log(x) / log(gamma))``, which holds
    ``(gamma**(k-1), gamma**k]``; the bin stands for ``2 * gamma**k / (gamma + 1)``,
    within ``alpha * x`` of every value in it. Negative values mirror this on ``|x|``.
    Zero, ``-inf`` and ``+inf`` have their own bins. NaN is not counted. All bins are
    laid out on one integer scale, ordered by value (see :func:`_bin_of`), so a
    sketch is a map from bin to count and two sketches merge by adding counts.

Quantiles
    ``quantile(q)`` follows the exact definition used by queries: position
    ``h = (n - 1) * q`` between the order statistics ``x[k]`` and ``x[k + 1]``,
    ``k = floor(h)``, ``f = h - k``. Each order statistic is estimated by the value of
    the bin that holds it, clamped to the exact minimum and maximum (which the sketch
    also keeps, so ``q = 0`` and ``q = 1`` are exact), then the two are interpolated.

Error bound
    ``|estimate - exact| <= alpha * ((1 - f) * |x[k]| + f * |x[k + 1]|)``, which is
    ``alpha * |exact|`` whenever the two neighbouring order statistics share a sign
    (always for one-signed data). The bound holds over the whole float64 range, with
    no collapsing of bins; floating-point rounding of the logarithm can move a value
    sitting on a bin edge to the next bin, where its error is still ``alpha`` (up to
    about 1e-15 relative). Memory grows with the number of occupied bins, at most
    ``log(max / min) / log(gamma)`` per sign: about 1,200 bins for values spanning
    a factor 1e10 at ``alpha = 0.01``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from tsengine._config import NJIT
from tsengine.errors import ArgumentError

#: Default relative accuracy of rollup percentiles.
DEFAULT_ALPHA = 0.01
#: Accepted range of ``alpha``: finer bins would not fit the bin scale of rollups.
MIN_ALPHA = 1e-4
MAX_ALPHA = 0.5
# log of the smallest subnormal and of the largest double bound every bin index
_LOG_LO = -745.2
_LOG_HI = 709.8


def mapping(alpha: float) -> tuple[float, int]:
    """``(1 / log(gamma), kmax)`` for relative accuracy ``alpha``.

    ``kmax`` bounds ``|k|`` for every finite non-zero double, so the bin scale of
    :func:`_bin_of` runs from 0 to ``4 * kmax + 4``.

    Raises
    ------
    ValueError
        If ``alpha`` is not a number in ``[MIN_ALPHA, MAX_ALPHA]``.
    """
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, int | float)
        or not MIN_ALPHA <= alpha <= MAX_ALPHA
    ):
        raise ArgumentError(
            f"sketch accuracy alpha={alpha!r} must be a number in "
            f"[{MIN_ALPHA}, {MAX_ALPHA}]"
        )
    gamma = (1.0 + alpha) / (1.0 - alpha)
    inv = 1.0 / math.log(gamma)
    kmax = int(math.ceil(max(-_LOG_LO, _LOG_HI) * inv)) + 2
    return inv, kmax


@numba.njit(inline="always", **NJIT)
def _bin_of(x, inv_log_gamma, kmax):
    """Position of value ``x`` (not NaN) on the value-ordered bin scale.

    ``0`` is -inf; ``1 .. 2*kmax+1`` negative values, largest magnitude first;
    ``2*kmax+2`` zero; ``2*kmax+3 .. 4*kmax+3`` positive values; ``4*kmax+4`` +inf.
    """
    if x == 0.0:
        return 2 * kmax + 2
    if x == np.inf:
        return 4 * kmax + 4
    if x == -np.inf:
        return 0
    k = int(np.ceil(np.log(abs(x)) * inv_log_gamma))
    if x > 0.0:
        return 3 * kmax + 3 + k
    return 1 + kmax - k


@numba.njit(inline="always", **NJIT)
def _value_of(b, inv_log_gamma, kmax):
    """Representative value of bin ``b`` (the inverse of :func:`_bin_of`)."""
    if b == 2 * kmax + 2:
        return 0.0
    if b == 0:
        return -np.inf
    if b == 4 * kmax + 4:
        return np.inf
    log_gamma = 1.0 / inv_log_gamma
    gamma = np.exp(log_gamma)
    if b > 2 * kmax + 2:
        k = b - (3 * kmax + 3)
        return 2.0 * np.exp(k * log_gamma) / (gamma + 1.0)
    k = 1 + kmax - b
    return -2.0 * np.exp(k * log_gamma) / (gamma + 1.0)


@numba.njit(inline="always", **NJIT)
def _blend(x0, x1, frac):
    """Linear interpolation from ``x0`` to ``x1``, exact at both ends."""
    if x0 == x1 or frac == 0.0:
        return x0
    diff = x1 - x0
    if not np.isfinite(diff):
        return x0 * (1.0 - frac) + x1 * frac
    return x0 + diff * frac


@numba.njit(**NJIT)
def _nth(bins, counts, lo, hi, j, inv_log_gamma, kmax, vmin, vmax):
    """Estimate of the ``j``-th smallest value (0-based) of bins ``[lo, hi)``."""
    n = 0
    for i in range(lo, hi):
        n += counts[i]
    if j <= 0:
        return vmin
    if j >= n - 1:
        return vmax
    seen = 0
    for i in range(lo, hi):
        seen += counts[i]
        if seen > j:
            v = _value_of(bins[i], inv_log_gamma, kmax)
            return min(max(v, vmin), vmax)
    return vmax


@numba.njit(**NJIT)
def _quantile(bins, counts, lo, hi, q, inv_log_gamma, kmax, vmin, vmax):
    """Quantile ``q`` of the values counted in bins ``[lo, hi)`` (sorted by bin).

    ``vmin``/``vmax`` are the exact extremes; NaN when the bins are empty.
    """
    n = 0
    for i in range(lo, hi):
        n += counts[i]
    if n == 0:
        return np.nan
    h = (n - 1) * q
    k = min(int(np.floor(h)), n - 1)
    frac = h - k
    x0 = _nth(bins, counts, lo, hi, k, inv_log_gamma, kmax, vmin, vmax)
    if frac == 0.0 or k + 1 >= n:
        return x0
    x1 = _nth(bins, counts, lo, hi, k + 1, inv_log_gamma, kmax, vmin, vmax)
    return _blend(x0, x1, frac)


@numba.njit(**NJIT)
def _bins_of(values, inv_log_gamma, kmax):
    """Bin of every non-NaN value, and how many values were NaN."""
    out = np.empty(values.size, np.int64)
    m = 0
    for i in range(values.size):
        x = values[i]
        if x != x:
            continue
        out[m] = _bin_of(x, inv_log_gamma, kmax)
        m += 1
    return out[:m], values.size - m


class DDSketch:
    """Mergeable quantile sketch with relative accuracy ``alpha``.

    Parameters
    ----------
    alpha : float
        Relative accuracy in ``[1e-4, 0.5]``; see the module docstring for the bound.

    Examples
    --------
    >>> import numpy as np
    >>> a, b = DDSketch(0.01), DDSketch(0.01)
    >>> a.add(np.arange(1.0, 501.0)); b.add(np.arange(501.0, 1001.0))
    >>> a.merge(b).count
    1000
    >>> abs(a.quantile(0.5) - 500.5) <= 0.01 * 501
    True
    """

    def __init__(self, alpha: float = DEFAULT_ALPHA) -> None:
        self.alpha = float(alpha)
        self._inv, self._kmax = mapping(alpha)
        self._counts: dict[int, int] = {}
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    def add(self, values) -> None:
        """Count values (array-like of numbers); NaN is skipped."""
        v = np.asarray(values, dtype=np.float64).ravel()
        bins, _ = _bins_of(v, self._inv, self._kmax)
        if not bins.size:
            return
        keys, counts = np.unique(bins, return_counts=True)
        for key, c in zip(keys.tolist(), counts.tolist()):
            self._counts[key] = self._counts.get(key, 0) + c
        self.count += int(bins.size)
        finite = v[v == v]
        self.min = min(self.min, float(finite.min()))
        self.max = max(self.max, float(finite.max()))

    def merge(self, other: DDSketch) -> DDSketch:
        """Add ``other``'s counts into this sketch (same ``alpha``); returns self."""
        if other.alpha != self.alpha:
            raise ValueError(
                f"cannot merge sketches of alpha={other.alpha!r} into "
                f"alpha={self.alpha!r}"
            )
        for key, c in other._counts.items():
            self._counts[key] = self._counts.get(key, 0) + c
        self.count += other.count
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        return self

    @property
    def bins(self) -> int:
        """Occupied bins (the sketch's size)."""
        return len(self._counts)

    def quantile(self, q: float) -> float:
        """Estimate of quantile ``q`` in [0, 1]; NaN for an empty sketch."""
        if not 0.0 <= q <= 1.0:
            raise ArgumentError(f"quantile q={q!r} must be in [0, 1]")
        keys = np.array(sorted(self._counts), dtype=np.int64)
        counts = np.array([self._counts[k] for k in keys.tolist()], dtype=np.int64)
        return float(
            _quantile(
                keys,
                counts,
                0,
                keys.size,
                float(q),
                self._inv,
                self._kmax,
                self.min,
                self.max,
            )
        )
