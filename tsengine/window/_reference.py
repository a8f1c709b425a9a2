"""A slow, obviously correct reference for :func:`tsengine.window.aggregate_table`.

Pure Python over lists, exact arithmetic wherever it is cheap to be exact
(``fractions.Fraction`` for means, moments, quantile interpolation and integrals), and
brute force for windows: every window is checked against every point, and calendar
edges are found by walking local wall time minute by minute through ``zoneinfo``.
It shares no code with the kernels (only the duration parser), so tests can compare the
two on random data. Small inputs only: the cost is O(points x windows). The
table-level one (groups, ranges, fills) is :mod:`tsengine.window._reference_table`.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from tsengine.window.aggspec import parse_agg
from tsengine.window.duration import NS_PER_DAY, parse_duration

_NS = 10**9
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _floor_div(a: int, b: int) -> int:
    return a // b  # Python's // is already floor division


def _wall_to_utc(zone, wall: datetime) -> int:
    """UTC ns of a naive wall time: first occurrence, or first instant after a gap."""
    if zone is None:
        return (
            int((wall.replace(tzinfo=UTC) - _EPOCH) / timedelta(microseconds=1)) * 1000
        )
    probe = wall
    for _ in range(24 * 60):
        aware = probe.replace(tzinfo=zone, fold=0)
        back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if back == probe:
            if probe == wall:
                return int((aware - _EPOCH) / timedelta(microseconds=1)) * 1000
            # Wall time fell in a gap: the transition is the first instant after it
            utc = int((aware - _EPOCH) / timedelta(microseconds=1)) * 1000
            while True:
                earlier = utc - 60 * _NS
                local = (_EPOCH + timedelta(microseconds=earlier // 1000)).astimezone(
                    zone
                )
                if local.replace(tzinfo=None) < wall:
                    break
                utc = earlier
            # Refine to the second: transitions fall on whole seconds
            while True:
                earlier = utc - _NS
                local = (_EPOCH + timedelta(microseconds=earlier // 1000)).astimezone(
                    zone
                )
                if local.replace(tzinfo=None) < wall:
                    return utc
                utc = earlier
        probe += timedelta(minutes=1)
    raise AssertionError("no existing local time within a day")  # pragma: no cover


def calendar_edges(every: str, tz: str | None, lo_ns: int, hi_ns: int, offset="0s"):
    """All calendar window starts from before ``lo_ns`` to after ``hi_ns`` (UTC ns)."""
    step = parse_duration(every)
    shift = parse_duration(offset, allow_negative=True)
    zone = None if tz in (None, "UTC") else ZoneInfo(tz)
    first = (_EPOCH + timedelta(microseconds=lo_ns // 1000)).astimezone(zone or UTC)
    day = first.date() - timedelta(days=40 if step.months else 10)
    if step.months:
        day = date(day.year, 1, 1)
    edges = []
    while True:
        if step.months:
            months = (day.year - 1970) * 12 + day.month - 1
            aligned = day.day == 1 and months % step.months == 0
        elif step.weeks:
            aligned = (
                day.weekday() == 0
                and ((day - date(1969, 12, 29)).days // 7) % (step.weeks) == 0
            )
        else:
            aligned = (day - date(1970, 1, 1)).days % step.days == 0
        if aligned:
            start = day
            if shift.months:
                months = start.month - 1 + shift.months
                start = date(start.year + months // 12, months % 12 + 1, 1)
            wall = datetime(start.year, start.month, start.day) + timedelta(
                days=shift.weeks * 7 + shift.days, microseconds=shift.ns / 1000
            )
            edge = _wall_to_utc(zone, wall)
            edges.append(edge)
            if edge > hi_ns and len(edges) > 2:
                return edges
        day += timedelta(days=1)


def _value_ok(v, skip_nan):
    return v is not None and not (skip_nan and isinstance(v, float) and math.isnan(v))


def _fsum(vals):
    try:
        return math.fsum(vals)
    except OverflowError:
        return float(sum(Fraction(v) for v in vals))


def _exact(vals):
    """Exact mean, or an IEEE-style result when infinities are present."""
    infs = [v for v in vals if isinstance(v, float) and math.isinf(v)]
    if infs:
        return math.nan if (math.inf in infs and -math.inf in infs) else infs[0]
    return sum(Fraction(v) for v in vals) / len(vals)


def _quantile(vals, q):
    s = sorted(vals)
    h = Fraction(len(s) - 1) * Fraction(q)
    k = math.floor(h)
    frac = h - k
    if frac == 0 or k + 1 >= len(s):
        return float(s[k])
    return float(Fraction(s[k]) + (Fraction(s[k + 1]) - Fraction(s[k])) * frac)


def reduce_window(points, agg: str, skip_nan=True, is_int=False):
    """Aggregate ``agg`` of ``points`` [(time ns, value or None)] in time order.

    Returns the value, or None for null.
    """
    spec = parse_agg(agg)
    kind = spec.kind
    pts = [(t, v) for t, v in points if _value_ok(v, skip_nan)]
    vals = [v for _, v in pts]
    if kind == "count":
        return len(vals)
    if not vals:
        return None
    if kind == "first":
        return vals[0]
    if kind == "last":
        return vals[-1]
    if any(isinstance(v, float) and math.isnan(v) for v in vals):
        return math.nan
    if is_int:
        vals = [int(v) for v in vals]
    if kind == "sum":
        if is_int:
            total = sum(vals) % 2**64
            return total - 2**64 if total >= 2**63 and is_int != "uint" else total
        return _fsum(vals)
    if kind == "min":
        return min(vals)
    if kind == "max":
        return max(vals)
    if kind == "spread":
        return float(max(vals) - min(vals)) if is_int else max(vals) - min(vals)
    if kind == "mean":
        m = _exact(vals)
        return float(m)
    if kind in ("var", "std", "var_pop", "std_pop"):
        n = len(vals)
        ddof = 0 if kind.endswith("_pop") else 1
        if n - ddof <= 0:
            return None
        m = _exact(vals)
        if not isinstance(m, Fraction):
            return math.nan
        var = sum((Fraction(v) - m) ** 2 for v in vals) / (n - ddof)
        return math.sqrt(float(var)) if kind.startswith("std") else float(var)
    if kind == "quantile":
        return _quantile(vals, spec.q)
    times = [t for t, _ in pts]
    span = times[-1] - times[0]
    if kind == "rate":
        if span == 0:
            return None
        return float((Fraction(vals[-1]) - Fraction(vals[0])) / Fraction(span, _NS))
    area = sum(
        (Fraction(vals[i]) + Fraction(vals[i + 1]))
        / 2
        * Fraction(times[i + 1] - times[i], _NS)
        for i in range(len(vals) - 1)
    )
    if kind == "integral":
        return float(area)
    if span == 0:
        return float(_exact(vals))
    return float(area / Fraction(span, _NS))


def fixed_windows(
    keys, every_ns, period_ns, origin_ns, start=None, end=None, dense=True
):
    """Window starts of a fixed grid for sorted keys (brute force over the span)."""
    lo = start if start is not None else (keys[0] if keys else None)
    hi = end - 1 if end is not None else (keys[-1] if keys else None)
    if lo is None or hi is None or hi < lo:
        return []
    k0 = _floor_div(lo - origin_ns, every_ns)
    k1 = _floor_div(hi - origin_ns, every_ns)
    starts = [origin_ns + k * every_ns for k in range(k0, k1 + 1)]
    if dense:
        return starts
    return [s for s in starts if any(s <= x < s + period_ns for x in keys)]


def origin_of(every: str, offset) -> int:
    """Grid origin for a fixed ``every``: epoch (Monday for whole weeks) plus offset."""
    step = parse_duration(every)
    every_ns = step.fixed_ns()
    base = 4 * NS_PER_DAY if step.weeks and not (step.days or step.ns) else 0
    shift = parse_duration(offset or 0, allow_negative=True).fixed_ns()
    return (base + shift) % every_ns


def sessions(points, gap_ns):
    """Sessions of sorted times: (first, last + gap) for runs closer than ``gap``."""
    out = []
    for t in points:
        if out and t - out[-1][1] < gap_ns:
            out[-1][1] = t
        else:
            out.append([t, t])
    return [(a, b + gap_ns) for a, b in out]
