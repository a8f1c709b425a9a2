"""Filling empty windows: ``fill=None | "none" | "previous" | "linear" | constant``.

A window is empty for a field when the field has no value in it (its ``count`` is 0);
``count`` itself is never filled. Other aggregates of an empty window are null unless:

- ``"previous"``: the latest non-null value of the same aggregate in an earlier window
  of the group. Windows before the group's first value take the **seed**: the last value
  before ``start`` (see :func:`~tsengine.window.aggregate_table`), treated as a window
  holding that one point -- so sum/mean/min/max/first/last/quantiles/twa take the value,
  spread/var_pop/std_pop/integral take 0, and var/std/rate stay null.
- ``"linear"``: the straight line, over window label times, between the nearest non-null
  values before and after; the seed (at its own time) may be the value before, and
  windows labelled before the seed's time take its value. Windows with no value after
  them stay null. Integer and bool columns become float64. String
  ``first``/``last`` are not interpolated (they stay null).
- a constant (int, float or bool): every empty window's value. A constant that an
  integer column cannot hold exactly turns that column into float64. String
  ``first``/``last`` stay null (a text constant is refused: a typo such as
  ``"prev"`` must not silently become the fill value).
- ``"none"``: empty windows are not returned at all (decided before aggregation).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tsengine.errors import ParseError
from tsengine.window._kernels.fill import _fill_linear, _fill_previous

_WORDS = ("none", "previous", "linear")
# What a one-point seed window yields for each aggregate
_SEED_VALUE = frozenset(
    {"sum", "mean", "min", "max", "first", "last", "quantile", "twa"}
)
_SEED_ZERO = frozenset({"spread", "var_pop", "std_pop", "integral"})


def check_fill(fill):
    """Validate ``fill``; returns it unchanged.

    Raises
    ------
    ParseError
        For an unknown word or a value that is neither a number, a bool nor a str.
    """
    if fill is None or fill in _WORDS:
        return fill
    if isinstance(fill, str):
        raise ParseError(
            f"fill={fill!r} must be None, 'none', 'previous', 'linear' or a constant"
        )
    if isinstance(fill, bool | int | float | np.number):
        return fill
    raise ParseError(f"fill={fill!r} must be None, a fill word or a constant")


def seed_for(out, seed_values, seed_ok):
    """Per-group seed of one output column (values, usable) from the field's seeds."""
    kind = out.spec.kind
    n = seed_ok.size
    if kind in _SEED_VALUE and seed_values is not None:
        if out.is_index:
            return seed_values.astype(np.int64), seed_ok
        return seed_values.astype(out.values.dtype), seed_ok
    if kind in _SEED_ZERO:
        return np.zeros(n, out.values.dtype), seed_ok
    return np.zeros(n, out.values.dtype), np.zeros(n, np.bool_)


def apply_fill(out, fill, w_off, labels, seed) -> None:
    """Fill ``out``'s empty windows in place (see the module docstring).

    ``seed`` is ``(values, times, usable)`` per group, or None.
    """
    if fill is None or fill == "none" or out.spec.kind == "count":
        return
    n_groups = w_off.size - 1
    if seed is None:
        seed = (None, np.zeros(n_groups, np.int64), np.zeros(n_groups, np.bool_))
    seed_values, seed_times, seed_usable = seed
    values, usable = seed_for(out, seed_values, seed_usable)

    if fill == "previous":
        out.values, out.valid = _fill_previous(
            out.values, out.valid, out.empty, w_off, values, usable
        )
    elif fill == "linear":
        if out.is_index:
            return
        floats = values.astype(np.float64)
        out.values, out.valid = _fill_linear(
            out.values, out.valid, out.empty, labels, w_off, floats, seed_times, usable
        )
        out.type = pa.float64()
    else:
        _fill_constant(out, fill)


def _fill_constant(out, value) -> None:
    """Put ``value`` into every empty window of a column that can hold it."""
    if out.is_index:
        return
    values = out.values
    if values.dtype.kind in "iub":
        with np.errstate(invalid="ignore", over="ignore"):
            exact = np.array(value).astype(values.dtype)
        if exact != value or isinstance(value, float) and values.dtype.kind == "b":
            values = values.astype(np.float64)
            out.type = pa.float64()
    out.values = np.where(out.empty, np.array(value).astype(values.dtype), values)
    out.valid = out.valid | out.empty
