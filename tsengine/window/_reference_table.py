"""Table-level slow reference: grouping, ranges, fills and result comparison.

Builds on :mod:`tsengine.window._reference` (windows and per-window aggregates) to
mirror :func:`tsengine.window.aggregate_table` on lists of dict rows, for tests.
"""

from __future__ import annotations

import math

from tsengine.window._reference import (
    _value_ok,
    calendar_edges,
    fixed_windows,
    origin_of,
    reduce_window,
    sessions,
)
from tsengine.window.aggspec import parse_agg
from tsengine.window.duration import parse_duration


def _seed_value(agg, value):
    kind = parse_agg(agg).kind
    if kind in ("sum", "mean", "min", "max", "first", "last", "quantile", "twa"):
        return value
    if kind in ("spread", "var_pop", "std_pop", "integral"):
        return 0 if isinstance(value, int) and kind == "spread" else 0.0
    return None


def _fill_rows(rows, names, fill, seed, counts, text):
    """Apply ``fill`` to the windows of one group (``rows`` in time order).

    Fields in ``text`` hold strings: only ``"previous"`` fills them.
    """
    for col, field in names:
        empty = [c[field] == 0 for c in counts]
        if field in text and fill != "previous":
            continue
        if fill == "previous":
            carry = None
            if field in seed:
                carry = _seed_value(col.split(f"{field}_", 1)[1], seed[field][1])
            for row, e in zip(rows, empty):
                if e:
                    row[col] = carry
                elif row[col] is not None:
                    carry = row[col]
        elif fill == "linear":
            # Known points in window order; the seed comes first whatever its time
            start = None
            if field in seed:
                value = _seed_value(col.split(f"{field}_", 1)[1], seed[field][1])
                if value is not None:
                    start = (seed[field][0], value)
            filled = []
            for i, (row, e) in enumerate(zip(rows, empty)):
                if not e:
                    continue
                before = start
                for r, e2 in zip(rows[:i], empty[:i]):
                    if not e2 and r[col] is not None:
                        before = (r["time"], r[col])
                after = next(
                    (
                        (r["time"], r[col])
                        for r, e2 in zip(rows[i + 1 :], empty[i + 1 :])
                        if not e2 and r[col] is not None
                    ),
                    None,
                )
                if before and after:
                    (x0, y0), (x1, y1) = before, after
                    # A window not after the seed's time takes the seed's value
                    frac = max(0.0, (row["time"] - x0) / (x1 - x0))
                    filled.append((row, y0 + (y1 - y0) * frac))
            for row, value in filled:
                row[col] = value
        elif fill not in (None, "none"):
            for row, e in zip(rows, empty):
                if e:
                    row[col] = fill


def reference_table(
    rows,
    *,
    every=None,
    period=None,
    offset=None,
    gap=None,
    aggs,
    by=(),
    start=None,
    end=None,
    fill=None,
    tz=None,
    closed="left",
    label="left",
    skip_nan=True,
    seed_rows=(),
    int_fields=(),
    string_fields=(),
):
    """Windowed aggregation of ``rows`` (dicts with ``time`` in ns) as a list of dicts.

    Mirrors :func:`~tsengine.window.aggregate_table`'s arguments (times as int ns).
    ``int_fields`` maps integer field names to "int" or "uint"; ``string_fields`` names
    the string fields.
    """
    # Right-closed windows take the range as (start, end]; sessions ignore closed
    shift = 1 if closed == "right" and gap is None else 0
    int_fields = dict(int_fields)
    groups = {}
    for r in rows:
        key = r["time"] - shift
        if (start is None or key >= start) and (end is None or key < end):
            groups.setdefault(tuple(r[b] for b in by), []).append(r)
    seeds = {}
    for r in seed_rows:
        key = tuple(r[b] for b in by)
        groups.setdefault(key, [])
        for field in aggs:
            v = r.get(field)
            if _value_ok(v, skip_nan):
                old = seeds.setdefault(key, {}).get(field)
                if old is None or r["time"] >= old[0]:
                    seeds[key][field] = (r["time"], v)

    def order(key):
        return tuple((k is None, k if k is not None else "") for k in key)

    if not by:
        groups.setdefault((), [])
    out = []
    for key in sorted(groups, key=order):
        pts = sorted(groups[key], key=lambda r: r["time"])
        keys = [r["time"] - shift for r in pts]
        if gap is not None:
            gap_ns = parse_duration(gap).fixed_ns()
            wins = sessions([r["time"] for r in pts], gap_ns)
            shift_w = 0
        elif parse_duration(every).is_calendar(tz):
            if start is not None and end is not None:
                lo, hi = start, end - 1
            elif not keys:
                continue
            else:
                lo = keys[0] if start is None else start
                hi = keys[-1] if end is None else end - 1
            if hi < lo:
                continue
            edges = calendar_edges(every, tz, lo, hi, offset or "0s")
            width = parse_duration(period or every)
            assert width == parse_duration(every), "reference: calendar period == every"
            wins = [(a, b) for a, b in zip(edges, edges[1:]) if b > lo and a <= hi]
            if fill == "none":
                wins = [(a, b) for a, b in wins if any(a <= x < b for x in keys)]
            shift_w = shift
        else:
            every_ns = parse_duration(every).fixed_ns()
            period_ns = parse_duration(period or every).fixed_ns()
            origin = origin_of(every, offset)
            lo, hi = start, end
            if not (start is not None and end is not None) and not keys:
                continue
            starts = fixed_windows(
                keys, every_ns, period_ns, origin, lo, hi, fill != "none"
            )
            wins = [(s, s + period_ns) for s in starts]
            shift_w = shift
        group_rows, counts = [], []
        for a, b in wins:
            inside = [r for r in pts if a <= r["time"] - shift_w < b]
            row = dict(zip(by, key))
            row["time"] = b if label == "right" else a
            cnt = {}
            for field, names in aggs.items():
                series = [(r["time"], r.get(field)) for r in inside]
                is_int = int_fields.get(field, False)
                cnt[field] = reduce_window(series, "count", skip_nan, is_int)
                for agg in names:
                    row[f"{field}_{agg}"] = reduce_window(series, agg, skip_nan, is_int)
            group_rows.append(row)
            counts.append(cnt)
        names = [
            (f"{f}_{a}", f)
            for f, aggs_f in aggs.items()
            for a in aggs_f
            if parse_agg(a).kind != "count"
        ]
        _fill_rows(group_rows, names, fill, seeds.get(key, {}), counts, string_fields)
        out.extend(group_rows)
    return out


def rows_of(table) -> list[dict]:
    """Result rows with ``time`` as int ns, for comparison with the reference."""
    import pyarrow as pa

    idx = table.schema.get_field_index("time")
    plain = table.set_column(idx, "time", table.column("time").cast(pa.int64()))
    return plain.to_pylist()


def mismatches(got: list[dict], want: list[dict], rel=1e-9, abs_tol=1e-9) -> list:
    """Differences between result rows (floats within tolerance, NaN equals NaN)."""
    problems = []
    if len(got) != len(want):
        return [("row count", len(got), len(want))]
    for i, (g, w) in enumerate(zip(got, want)):
        for key, expected in w.items():
            actual = g.get(key, "<missing>")
            if expected is None or actual is None:
                same = actual is expected
            elif isinstance(expected, float) or isinstance(actual, float):
                if math.isnan(expected) or math.isnan(actual):
                    same = math.isnan(expected) and math.isnan(actual)
                else:
                    same = math.isclose(actual, expected, rel_tol=rel, abs_tol=abs_tol)
            else:
                same = actual == expected
            if not same:
                problems.append((i, w.get("time"), key, actual, expected))
    return problems
