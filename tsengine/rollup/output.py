"""Closed windows' output columns, named and typed as ``Engine.aggregate`` makes them.

Float-state aggregates (count, sum, mean, extremes, first/last, spread, the variance
family, sketch percentiles) come out as float64 (count int64); integer fields keep
their exact integer count, sum, min, max, first and last in the field's own type
(bool sums as int64), like the query kernels. A window without a value of the field
gives null for everything but count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from tsengine.rollup import _finish as F
from tsengine.schema import FIELD_TYPES
from tsengine.window import AggSpec

if TYPE_CHECKING:
    from tsengine.rollup.state import FieldPlan

_INT_AGGS = frozenset({"count", "sum", "min", "max", "first", "last", "spread"})
_SIGN = np.int64(-(2**63))


def field_columns(state, plan, rows: np.ndarray, sketches) -> dict[str, pa.Array]:
    """Output columns of one field for the closing state rows ``rows``.

    ``state`` is the :class:`~tsengine.rollup.state.WindowState`, ``plan`` the
    field's plan, ``sketches`` the (id, bin, count) arrays taken for these rows.
    """
    out = {}
    f = plan.slot
    fl = F._finish_float(rows, state._fs[f], state._is[f]) if plan.use_float else None
    ints = (
        _int_results(plan, F._finish_int(rows, state._is[f])) if plan.use_int else None
    )
    quantiles = {}
    if plan.sketches:
        ids, bins, counts = sketches
        for k, agg in plan.sketches:
            targets = rows * state.n_sketch + k
            quantiles[agg.name] = F._sketch_quantiles(
                ids, bins, counts, targets, agg.q, state._inv, state._kmax, fl[3], fl[4]
            )
    for agg in plan.aggs:
        column = f"{plan.name}_{agg.name}"
        if ints is not None and agg.kind in _INT_AGGS:
            out[column] = ints[agg.kind]
        else:
            out[column] = _float_result(agg, fl, quantiles)
    return out


_DIRECT = {"sum": 1, "mean": 2, "min": 3, "max": 4, "first": 5, "last": 6}
_MOMENTS = {"var": (1.0, False), "std": (1.0, True), "var_pop": (0.0, False),
            "std_pop": (0.0, True)}  # fmt: skip


def _float_result(agg: AggSpec, fl, quantiles) -> pa.Array:
    """One float-state output column: values, and null where it has no value."""
    cnt, mean, m2 = fl[0], fl[2], fl[7]
    kind = agg.kind
    if kind == "count":
        return pa.array(cnt, pa.int64())
    ok = cnt > 0
    if kind in _DIRECT:
        vals = fl[_DIRECT[kind]]
    elif kind == "spread":
        with np.errstate(over="ignore"):
            vals = fl[4] - fl[3]  # inf when max - min overflows
    elif kind == "quantile":
        vals = quantiles[agg.name]
    else:
        # Sample (n - 1) or population (n) moments; none when the mean is not finite
        ddof, root = _MOMENTS[kind]
        ok = cnt > ddof
        with np.errstate(invalid="ignore", divide="ignore"):
            vals = m2 / (cnt - ddof)
        vals = np.where(np.isfinite(mean), np.sqrt(vals) if root else vals, np.nan)
    return pa.array(vals, pa.float64(), mask=None if ok.all() else ~ok)


def _int_results(plan: FieldPlan, raw: np.ndarray) -> dict[str, pa.Array]:
    """Integer outputs from (count, sum, min, max, first, last) bit patterns."""
    cnt, total, mn, mx, first, last = raw
    present = None if cnt.all() else cnt == 0  # the null mask
    if plan.kind == "uint64":
        # Undo the sign flip; the flipped sum is off by count * 2**63
        mn, mx, first, last = (a ^ _SIGN for a in (mn, mx, first, last))
        total = total ^ np.where(cnt & 1, _SIGN, np.int64(0))
        mn, mx, first, last, total = (
            a.view(np.uint64) for a in (mn, mx, first, last, total)
        )
    # max - min is in [0, 2**64): exact in unsigned arithmetic
    spread = (mx.view(np.uint64) - mn.view(np.uint64)).astype(np.float64)
    if plan.kind == "bool":
        mn, mx, first, last = (a.astype(np.bool_) for a in (mn, mx, first, last))
    kind = FIELD_TYPES[plan.kind]
    sum_type = pa.uint64() if plan.kind == "uint64" else pa.int64()
    return {
        "count": pa.array(cnt, pa.int64()),
        "sum": pa.array(total, sum_type, mask=present),
        "min": pa.array(mn, kind, mask=present),
        "max": pa.array(mx, kind, mask=present),
        "first": pa.array(first, kind, mask=present),
        "last": pa.array(last, kind, mask=present),
        "spread": pa.array(spread, pa.float64(), mask=present),
    }
