"""Names of the aggregates a window query may ask for, and what each needs.

An aggregate is named by a string; the output column is ``f"{field}_{name}"`` with the
name exactly as given (``vibration_mean``, ``vibration_p99``, ``vibration_p99.9``,
``vibration_q0.25``).

=============  ==========================================================  ===========
name           value                                                       output type
=============  ==========================================================  ===========
count          values that are not null (nor NaN unless ``skip_nan=False``)  int64
sum            compensated sum                                             field's [1]_
mean           compensated sum / count                                     float64
min, max       smallest / largest value                                    field's
first, last    earliest / latest value in time (ties: input order)         field's
spread         max - min                                                   float64
var, std       sample variance / deviation (n - 1; null below 2 values)    float64
var_pop,       population variance / deviation (n)                         float64
std_pop
median, p<N>,  exact quantile, linear interpolation between order          float64
q<F>           statistics (pandas' default); ``p99.9`` is q = 0.999
twa            time-weighted average, trapezoid rule between the window's   float64
               points (one point, or all at one instant: their mean)
integral       trapezoid integral over the window's points, value x seconds float64
rate           (last - first) / (t_last - t_first), per second              float64
=============  ==========================================================  ===========

.. [1] float64 for float fields; int64 for int64 and bool fields; uint64 for uint64
   fields. Integer sums are exact while the true sum fits the type (they are computed
   modulo 2**64, so an overflowing window sum wraps).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from tsengine.errors import SchemaError

#: Aggregates computed from mergeable running states (sum, extremes, moments).
MERGEABLE = frozenset(
    {"sum", "mean", "min", "max", "spread", "var", "std", "var_pop", "std_pop"}
)
#: Aggregates allowed on string fields.
STRING_OK = frozenset({"count", "first", "last"})
_SIMPLE = MERGEABLE | STRING_OK | {"twa", "integral", "rate"}
_PCT = re.compile(r"p(\d+(?:\.\d+)?)")
_QNT = re.compile(r"q(\d*\.?\d+)")


@dataclass(frozen=True)
class AggSpec:
    """One parsed aggregate.

    Attributes
    ----------
    name : str
        The name as the caller wrote it; the output column suffix.
    kind : str
        ``"quantile"`` for median/p<N>/q<F>, else the name.
    q : float or None
        Quantile in [0, 1] for ``kind == "quantile"``.
    """

    name: str
    kind: str
    q: float | None = None


def parse_agg(name: str) -> AggSpec:
    """Parse one aggregate name (results are remembered: names repeat across queries).

    Raises
    ------
    SchemaError
        If the name is not a known aggregate or the quantile is outside [0, 1].

    Examples
    --------
    >>> parse_agg("p99.9")
    AggSpec(name='p99.9', kind='quantile', q=0.999)
    >>> parse_agg("median").q
    0.5
    """
    if not isinstance(name, str):
        raise SchemaError(f"aggregate {name!r} is not a string")
    return _parse_agg(name)


@functools.lru_cache(maxsize=1024)
def _parse_agg(name: str) -> AggSpec:
    if name in _SIMPLE:
        return AggSpec(name, name)
    if name == "median":
        return AggSpec(name, "quantile", 0.5)

    # Percentiles and quantiles: decimal text, converted once so p99.9 is 0.999 exactly
    # as float("0.999") is, not 99.9 / 100
    pct = _PCT.fullmatch(name)
    qnt = _QNT.fullmatch(name)
    if pct or qnt:
        try:
            q = Decimal(pct.group(1)) / 100 if pct else Decimal(qnt.group(1))
        except InvalidOperation:
            q = Decimal(-1)
        if not 0 <= q <= 1:
            raise SchemaError(f"aggregate {name!r} asks for a quantile outside [0, 1]")
        return AggSpec(name, "quantile", float(q))
    raise SchemaError(
        f"unknown aggregate {name!r} (expected one of {sorted(_SIMPLE)}, 'median', "
        "'p<N>' such as 'p99.9', or 'q<F>' such as 'q0.25')"
    )


def parse_aggs(aggs: dict[str, list[str]]) -> dict[str, list[AggSpec]]:
    """Parse the ``aggs`` argument: field name to a list of aggregate names.

    Raises
    ------
    SchemaError
        If ``aggs`` is empty or malformed, or an aggregate repeats for a field.
    """
    if not isinstance(aggs, dict) or not aggs:
        raise SchemaError(
            f"aggs={aggs!r} must be a non-empty dict of field name -> list of "
            "aggregate names"
        )
    out: dict[str, list[AggSpec]] = {}
    for field, names in aggs.items():
        if isinstance(names, str):
            names = [names]
        if (
            not isinstance(field, str)
            or not isinstance(names, list | tuple)
            or not names
        ):
            raise SchemaError(
                f"aggs entry {field!r}: {names!r} must map a field name to a "
                "non-empty list of aggregate names"
            )
        specs = [parse_agg(n) for n in names]
        seen = [s.name for s in specs]
        if len(set(seen)) != len(seen):
            raise SchemaError(f"aggs for field {field!r} repeat a name: {names!r}")
        out[field] = specs
    return out
