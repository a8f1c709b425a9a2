"""Every aggregate of one field over all windows.

A field's rows are its non-null values (and, when ``skip_nan`` matters for the
aggregate, its non-NaN values), so each field has its own :class:`Geometry`: row times,
group bounds and the row range of every window. Aggregates come from three sources:

- running states (count, compensated sum, min, max, moments) per window -- directly for
  disjoint windows, per pane and then merged for overlapping ones;
- order statistics (quantiles);
- time weighting (twa, integral, rate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from tsengine.window._kernels.order import _quantiles_disjoint, _quantiles_sliding
from tsengine.window._kernels.ranges import _window_rows
from tsengine.window._kernels.reduce import (
    _count_nan,
    _dd_means,
    _segments_ddsum,
    _segments_float,
    _segments_int,
    _segments_m2,
    _segments_scaled_mean,
)
from tsengine.window._kernels.sliding import (
    combine_dd,
    combine_float,
    combine_int,
    combine_var,
)
from tsengine.window._kernels.timeweight import _finish, _trapezoids
from tsengine.window.aggspec import MERGEABLE, AggSpec
from tsengine.window.windows import Panes, Windows, pane_units

_INT_STATE = frozenset({"sum", "min", "max", "spread"})
_TIMED = frozenset({"twa", "integral", "rate"})


@dataclass
class Out:
    """One output column before filling: values, validity and Arrow type.

    ``is_index`` marks values that are arranged-row numbers of the field's source
    column (string ``first``/``last``), resolved by the caller with ``take``.
    """

    field: str
    spec: AggSpec
    values: np.ndarray
    valid: np.ndarray
    type: pa.DataType
    empty: np.ndarray = field(repr=False, default=None)
    is_index: bool = False


class Geometry:
    """Row times, group bounds and each window's row range ``[lo, hi)`` for a field."""

    def __init__(self, t, g_lo, g_hi, wins: Windows, shift: int):
        self.t, self.g_lo, self.g_hi, self.wins, self.shift = t, g_lo, g_hi, wins, shift
        rows = t if t.size else np.zeros(1, np.int64)
        self.lo, self.hi = _window_rows(
            rows, g_lo, g_hi, wins.w_off, wins.ws, wins.we, shift
        )
        self._panes: Panes | None = None

    @property
    def panes(self) -> Panes:
        """Panes of overlapping windows (computed on first use)."""
        if self._panes is None:
            rows = self.t if self.t.size else np.zeros(1, np.int64)
            self._panes = pane_units(rows, self.g_lo, self.g_hi, self.wins, self.shift)
        return self._panes

    def subset(self, keep: np.ndarray) -> tuple[Geometry, np.ndarray]:
        """Geometry of the rows where ``keep`` is true, and their positions."""
        idx = np.flatnonzero(keep)
        before = np.zeros(keep.size + 1, np.int64)
        np.cumsum(keep, out=before[1:])
        sub = Geometry(
            self.t[idx], before[self.g_lo], before[self.g_hi], self.wins, self.shift
        )
        return sub, idx


def compute_field(name, kind, arrow_type, values, valid, geo, specs, skip_nan):
    """All outputs of one field.

    Parameters
    ----------
    name : str
    kind : {"float", "int", "uint", "bool", "string"}
    arrow_type : pyarrow.DataType
        The field's type (kept by min, max, first, last).
    values : ndarray or None
        Arranged values (nulls hold any value); None for strings.
    valid : ndarray of bool or None
        Non-null mask, None when the field has no nulls.
    geo : Geometry
        Geometry of all arranged rows.
    specs : list of AggSpec
    skip_nan : bool
    """
    # Null rows leave the field's geometry
    src = None
    if valid is not None:
        geo, src = geo.subset(valid)
        if values is not None:
            values = values[src]
    if kind == "string":
        return _string_aggs(name, arrow_type, geo, specs, src)
    if kind == "float":
        return _float_aggs(name, values, geo, specs, skip_nan)
    return _int_aggs(name, kind, arrow_type, values, geo, specs)


def _string_aggs(name, arrow_type, geo, specs, src):
    lo, hi = geo.lo, geo.hi
    present = hi > lo
    outs = []
    for spec in specs:
        if spec.kind == "count":
            outs.append(
                Out(name, spec, hi - lo, np.ones(lo.size, np.bool_), pa.int64())
            )
            continue
        pos = np.where(present, lo if spec.kind == "first" else hi - 1, 0)
        if src is not None:
            pos = src[np.minimum(pos, src.size - 1)] if src.size else np.zeros_like(pos)
        rows = pos
        outs.append(Out(name, spec, rows, present, arrow_type, is_index=True))
    return _mark_empty(outs, present)


def _mark_empty(outs, present):
    empty = ~present
    for out in outs:
        out.empty = empty
    return outs


@dataclass
class _States:
    """Per-window float states; ``units`` holds pane states for overlapping windows."""

    cnt: np.ndarray
    nan: np.ndarray
    shi: np.ndarray
    slo: np.ndarray
    mn: np.ndarray
    mx: np.ndarray
    units: np.ndarray | None = None


def _float_states(v, geo, extremes: bool) -> _States:
    """Window float states, directly for disjoint windows, else merged from panes."""
    if geo.wins.disjoint:
        return _States(*_segments_float(v, geo.lo, geo.hi, extremes))
    p = geo.panes
    units = np.column_stack(_segments_float(v, p.lo, p.hi, extremes)).astype(np.float64)
    merged = combine_float(units, p.a, p.b)
    cols = [merged[:, c] for c in range(6)]
    return _States(cols[0].astype(np.int64), *cols[1:], units=units)


def _float_aggs(name, v, geo, specs, skip_nan):
    kinds = {s.kind for s in specs}

    # NaN leaves the rows when an order- or time-based aggregate must skip it
    if skip_nan and kinds - MERGEABLE - {"count"} and _count_nan(v):
        geo, idx = geo.subset(v == v)
        v = v[idx]
    lo, hi, wins = geo.lo, geo.hi, geo.wins
    n_rows = hi - lo

    # Windows holding NaN yield NaN when it is not skipped
    poisoned = None
    if not skip_nan and _count_nan(v):
        before = np.zeros(v.size + 1, np.int64)
        np.cumsum(v != v, out=before[1:])
        poisoned = (before[hi] - before[lo]) > 0

    st = None
    if kinds & MERGEABLE or "count" in kinds:
        # Extremes only when asked: a mean whose sum overflowed takes the exact path,
        # which finds them anyway for its rescaling test
        st = _float_states(v, geo, bool(kinds & {"min", "max", "spread"}))
    count = st.cnt if (skip_nan and st is not None) else n_rows
    present = count > 0

    results = {}
    if st is not None and kinds & MERGEABLE:
        total = st.shi + st.slo
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / st.cnt
        # Finite values whose plain sum overflowed: rescale (exact powers of two)
        fix = np.flatnonzero(~np.isfinite(mean) & present)
        fix = fix[np.isfinite(st.mn[fix]) & np.isfinite(st.mx[fix])]
        if fix.size:
            mean[fix] = _segments_scaled_mean(v, lo, hi, fix)
        results.update(sum=total, mean=mean, min=st.mn, max=st.mx)
        if "spread" in kinds:
            # inf when max - min overflows, NaN for inf - inf (as IEEE says)
            with np.errstate(over="ignore", invalid="ignore"):
                results["spread"] = st.mx - st.mn
        if kinds & {"var", "std", "var_pop", "std_pop"}:
            results.update(_moments(v, geo, st, mean))
    if "quantile" in kinds:
        qs = np.array([s.q for s in specs if s.kind == "quantile"])
        kernel = _quantiles_disjoint if wins.disjoint else _quantiles_sliding
        table = kernel(v, lo, hi, qs)
        for c, spec in enumerate(s for s in specs if s.kind == "quantile"):
            results[spec.name] = table[:, c]
    if kinds & _TIMED:
        results.update(_timed(v, geo))

    # Assemble in request order
    outs = []
    for spec in specs:
        kind = spec.kind
        if kind == "count":
            outs.append(Out(name, spec, count, np.ones(lo.size, np.bool_), pa.int64()))
            continue
        if kind in ("first", "last"):
            pos = np.where(n_rows > 0, lo if kind == "first" else hi - 1, 0)
            vals = v[pos] if v.size else np.zeros(lo.size)
            outs.append(Out(name, spec, vals, n_rows > 0, pa.float64()))
            continue
        key = spec.name if kind == "quantile" else kind
        vals, ok = results[key], present
        if isinstance(vals, tuple):
            vals, ok = vals
            ok = ok & present
        if poisoned is not None:
            vals = np.where(poisoned, np.nan, vals)
            ok = ok | poisoned
        outs.append(Out(name, spec, vals, ok, pa.float64()))
    return _mark_empty(outs, present)


def _moments(v, geo, st, mean):
    """var/std (sample and population) from squared deviations about local means."""
    if st.units is None:
        n = st.cnt
        center = np.where(np.isfinite(mean), mean, 0.0)
        m2 = _segments_m2(v, geo.lo, geo.hi, center, np.zeros_like(center))
    else:
        # Pane means as unrounded pairs, so merging panes keeps the noise's digits
        p = geo.panes
        units = st.units
        m_hi, m_lo = _dd_means(units[:, 2], units[:, 3], units[:, 0])
        p_m2 = _segments_m2(v, p.lo, p.hi, m_hi, m_lo)
        states = np.column_stack([units[:, 0], m_hi, m_lo, p_m2])
        merged = combine_var(states, p.a, p.b)
        n, m2 = merged[:, 0], merged[:, 3]
    with np.errstate(invalid="ignore", divide="ignore"):
        var = m2 / (n - 1.0)
        var_pop = m2 / n
    bad = ~np.isfinite(mean)
    var[bad] = np.nan
    var_pop[bad] = np.nan
    return {
        "var": (var, n >= 2),
        "std": (np.sqrt(var), n >= 2),
        "var_pop": (var_pop, n >= 1),
        "std_pop": (np.sqrt(var_pop), n >= 1),
    }


def _timed(v, geo):
    """twa, integral and rate of every window."""
    lo, hi = geo.lo, geo.hi
    areas = _trapezoids(geo.t, v)
    pair_hi = np.maximum(hi - 1, lo)
    if geo.wins.disjoint:
        integral = _segments_ddsum(areas, lo, pair_hi)
    else:
        pairs = np.column_stack([areas, np.zeros_like(areas)])
        merged = combine_dd(pairs, lo, pair_hi)
        integral = merged[:, 0] + merged[:, 1]
    t = geo.t if geo.t.size else np.zeros(1, np.int64)
    integral, twa, rate, ok_twa, ok_rate = _finish(t, v, lo, hi, integral)
    return {"integral": integral, "twa": (twa, ok_twa), "rate": (rate, ok_rate)}


def _int_aggs(name, kind, arrow_type, v, geo, specs):
    lo, hi, wins = geo.lo, geo.hi, geo.wins
    count = hi - lo
    present = count > 0
    wide = v.astype(np.int64) if kind == "bool" else v

    # Exact integer states: sum modulo 2**64, min, max
    kinds = {s.kind for s in specs}
    if kinds & _INT_STATE:
        if wins.disjoint:
            s, mn, mx = _segments_int(wide, lo, hi)
        else:
            p = geo.panes
            units = np.column_stack(_segments_int(wide, p.lo, p.hi))
            merged = combine_int(units, p.a, p.b)
            s, mn, mx = merged[:, 0], merged[:, 1], merged[:, 2]

    # Float-valued aggregates of integers run on float64 copies
    float_specs = [
        s for s in specs if s.kind not in _INT_STATE | {"count", "first", "last"}
    ]
    floats = {}
    if float_specs:
        for out in _float_aggs(name, wide.astype(np.float64), geo, float_specs, True):
            floats[out.spec.name] = out

    outs = []
    for spec in specs:
        k = spec.kind
        if k == "count":
            outs.append(Out(name, spec, count, np.ones(lo.size, np.bool_), pa.int64()))
        elif k == "sum":
            outs.append(
                Out(
                    name,
                    spec,
                    s,
                    present,
                    pa.uint64() if kind == "uint" else pa.int64(),
                )
            )
        elif k in ("min", "max"):
            vals = mn if k == "min" else mx
            outs.append(Out(name, spec, vals.astype(v.dtype), present, arrow_type))
        elif k == "spread":
            # max - min is in [0, 2**64): exact in unsigned arithmetic
            diff = mx.view(np.uint64) - mn.view(np.uint64)
            outs.append(Out(name, spec, diff.astype(np.float64), present, pa.float64()))
        elif k in ("first", "last"):
            pos = np.where(present, lo if k == "first" else hi - 1, 0)
            vals = v[pos] if v.size else np.zeros(lo.size, v.dtype)
            outs.append(Out(name, spec, vals, present, arrow_type))
        else:
            outs.append(floats[spec.name])
    return _mark_empty(outs, present)
