"""``aggregate_table``: windowed aggregation of an Arrow table (the public wrapper).

This module validates arguments, arranges rows by group and time
(:mod:`tsengine.window.grouping`), enumerates windows (:mod:`tsengine.window.windows`),
runs each field's aggregates (:mod:`tsengine.window.fieldcalc`), fills empty windows
(:mod:`tsengine.window.fill`) and builds the result table
(:mod:`tsengine.window.columns`).
"""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa

from tsengine.errors import SchemaError, TimestampError
from tsengine.window._kernels.ranges import _window_rows
from tsengine.window.aggspec import parse_aggs
from tsengine.window.columns import (
    TIME,
    field_kind,
    field_values,
    seeds_of,
    times_ns,
    to_arrow,
)
from tsengine.window.fieldcalc import Geometry, compute_field
from tsengine.window.fill import apply_fill, check_fill
from tsengine.window.grouping import group_rows
from tsengine.window.threads import kernel_section
from tsengine.window.timepoint import INT64_MAX, INT64_MIN, to_ns
from tsengine.window.windows import enumerate_windows, make_spec

TIME_TYPE = pa.timestamp("ns", tz="UTC")
#: Rows from which kernels run on all Numba threads (below, one thread is faster).
PARALLEL_MIN_ROWS = 500_000


def aggregate_table(
    data: pa.Table,
    *,
    every,
    aggs: dict[str, list[str]],
    by: list[str] | None = None,
    start=None,
    end=None,
    period=None,
    offset=None,
    gap=None,
    fill=None,
    tz: str | None = None,
    closed: str = "left",
    label: str = "left",
    skip_nan: bool = True,
    tag_columns: list[str] | None = None,
    seed: pa.Table | None = None,
) -> pa.Table:
    """Aggregate a table's fields over time windows, per group of tag values.

    Parameters
    ----------
    data : pyarrow.Table or pyarrow.RecordBatch
        Column ``time`` (Arrow timestamp of any unit, or int64 ns; zone-less means
        UTC, nulls are refused), tag columns and field columns (float, int, uint, bool;
        strings for count/first/last only). Rows must be in time order within each
        series, as ``Engine.read`` returns them; any other order is sorted here.
    every : str, int or None
        Window step: ``"500ms"``, ``"15m"``, ``"1h30m"``, ``"1d"``, ``"1w"``, ``"1mo"``,
        ``"1y"`` or ns. None only with ``gap``.
    aggs : dict of str to list of str
        Field name to aggregate names; see :mod:`tsengine.window.aggspec`. Output
        columns are named ``f"{field}_{aggregate}"``, e.g. ``vibration_p99.9``.
    by : list of str, optional
        Tag columns to group by; groups come out in ascending tag order, nulls last.
    start, end : int, datetime, numpy/pandas timestamp or str, optional
        Query range ``[start, end)`` (``(start, end]`` with ``closed="right"``); rows
        outside it are ignored. With both, every window from the one holding the
        range's first instant to the one holding its last is returned for every group
        (see ``fill``), so an aligned range is tiled exactly. Without them, windows
        run from each group's first row to its last.
    period : str or int, optional
        Window width (default ``every``). Wider than ``every`` gives sliding windows;
        it need not be a multiple of ``every``.
    offset : str or int, optional
        Shift of the window grid from the Unix epoch (may be negative).
    gap : str or int, optional
        Session windows instead of a grid: a session ends after ``gap`` with no rows
        and covers ``[first row, last row + gap)``.
    fill : None, "none", "previous", "linear" or a constant
        Empty windows: None keeps them (count 0, others null), "none" omits them;
        see :mod:`tsengine.window.fill` for the others.
    tz : str, optional
        IANA zone for calendar windows (days, weeks, months, years in local time).
    closed, label : {"left", "right"}
        ``closed="right"`` makes windows ``(start, end]``; ``label="right"`` labels
        them by their end (pandas' conventions for such windows).
    skip_nan : bool
        Skip NaN like null (default). False: NaN is a value, counted, and any window
        holding one yields NaN for every aggregate but count/first/last.
    tag_columns : list of str, optional
        Names of the tag columns; when given, ``by`` must be among them. When every
        tag column is in ``by`` (or there are none), each group is a single series,
        whose rows the input contract already keeps in time order: the O(rows) order
        check is skipped. Rows out of order then give wrong windows (never a crash).
        With ``tag_columns=None`` the order is always checked, and fixed if needed.
    seed : pyarrow.Table, optional
        Rows before ``start`` for ``fill="previous"``/``"linear"``: columns ``time``,
        the ``by`` columns and any of the fields. For each group and field the latest
        usable value (non-null, non-NaN unless ``skip_nan=False``) seeds the fill.
        The engine passes the last row of each series before ``start``.

    Returns
    -------
    pyarrow.Table
        Columns: the ``by`` tags, ``time`` (window label, ``timestamp[ns, UTC]``) and
        one column per (field, aggregate), sorted by group then time.

    Raises
    ------
    SchemaError
        Missing columns, unsupported types or aggregates.
    ParseError
        Malformed durations, zones, ``fill``, ``closed`` or ``label``.
    TimestampError
        Null or out-of-range times, ``end`` before ``start``.
    BudgetError
        More windows than :data:`tsengine.window.windows.MAX_WINDOWS`.

    Examples
    --------
    >>> import pyarrow as pa
    >>> t = pa.table({"time": pa.array([0, 1_500_000_000, 2_100_000_000],
    ...                                pa.timestamp("ns", "UTC")),
    ...               "v": [1.0, 2.0, 4.0]})
    >>> out = aggregate_table(t, every="1s", aggs={"v": ["count", "mean"]})
    >>> out.column("v_mean").to_pylist()
    [1.0, 2.0, 4.0]
    """
    # Arguments
    table = _as_table(data)
    spec = make_spec(every, period, offset, gap, tz, closed, label)
    specs = parse_aggs(aggs)
    by = _check_by(table, by, tag_columns)
    fill = check_fill(fill)
    if spec.kind == "session" and fill not in (None, "none"):
        raise SchemaError(
            f"fill={fill!r} does not apply to session windows (never empty)"
        )
    start_ns = None if start is None else to_ns(start, name="start")
    end_ns = None if end is None else to_ns(end, name="end")
    if start_ns is not None and end_ns is not None and end_ns < start_ns:
        raise TimestampError(f"end={end!r} is before start={start!r}")
    kinds = {name: field_kind(table, name, specs[name]) for name in specs}
    clash = [
        f"{f}_{a.name}"
        for f, aa in specs.items()
        for a in aa
        if f"{f}_{a.name}" in (*by, TIME)
    ]
    if clash:
        raise SchemaError(f"output columns {clash!r} would replace a by/time column")
    if seed is not None:
        seed = _check_seed(seed, by)

    # Small queries stay on the calling thread: waking workers costs more than the work
    threads = numba.get_num_threads()
    if table.num_rows < PARALLEL_MIN_ROWS and threads != 1:
        numba.set_num_threads(1)
    try:
        with kernel_section():
            return _run(
                table,
                spec,
                specs,
                by,
                fill,
                start_ns,
                end_ns,
                kinds,
                skip_nan,
                seed,
                _trusted_order(by, tag_columns),
            )
    finally:
        if numba.get_num_threads() != threads:
            numba.set_num_threads(threads)


def _trusted_order(by, tag_columns) -> bool:
    """Whether each group is one series (kept in time order by the input contract)."""
    return tag_columns is not None and set(tag_columns) <= set(by)


def _run(
    table, spec, specs, by, fill, start_ns, end_ns, kinds, skip_nan, seed, trusted
):
    """Arrange rows, enumerate windows, aggregate, fill, and build the result."""
    # Rows arranged by group then time, cut to the query range
    times = times_ns(table)
    grp = group_rows(table, by, times, seed, check_order=not trusted)
    t = grp.times
    g_lo, g_hi = grp.g_lo, grp.g_hi
    if start_ns is not None or end_ns is not None:
        # Right-closed windows read the range as (start, end], left-closed [start, end)
        lo = INT64_MIN if start_ns is None else min(start_ns + spec.shift, INT64_MAX)
        hi = INT64_MAX if end_ns is None else min(end_ns + spec.shift, INT64_MAX)
        n_groups = g_lo.size
        g_lo, g_hi = _window_rows(
            t if t.size else np.zeros(1, np.int64),
            g_lo,
            g_hi,
            np.arange(n_groups + 1, dtype=np.int64),
            np.full(n_groups, lo, np.int64),
            np.full(n_groups, hi, np.int64),
            0,
        )

    # Windows, then every field's aggregates over them
    # Without by the one group always exists; with by, groups need rows or a seed
    present = np.zeros(g_lo.size, np.bool_)
    present[grp.seed_group] = True
    if not by:
        present[:] = True
    wins, labels = enumerate_windows(
        spec, t, g_lo, g_hi, start_ns, end_ns, fill != "none", present
    )
    geo = Geometry(t, g_lo, g_hi, wins, spec.shift)
    columns = {}
    for name, field_specs in specs.items():
        kind, arrow_type = kinds[name]
        values, valid = field_values(table, name, kind, grp.perm)
        outs = compute_field(
            name, kind, arrow_type, values, valid, geo, field_specs, skip_nan
        )
        seeds = seeds_of(seed, name, kind, grp, skip_nan, table.num_rows)
        for out in outs:
            apply_fill(out, fill, wins.w_off, labels, seeds)
            columns[f"{name}_{out.spec.name}"] = to_arrow(
                out, table, name, grp.perm, seed
            )

    # Result: group keys, label time, aggregates
    counts = np.diff(wins.w_off)
    result = {}
    if grp.keys is not None:
        repeat = pa.array(np.repeat(np.arange(counts.size), counts))
        for key in by:
            result[key] = grp.keys.column(key).take(repeat)
    result[TIME] = pa.array(labels, TIME_TYPE)
    result.update(columns)
    return pa.table(result)


def _as_table(data) -> pa.Table:
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if not isinstance(data, pa.Table):
        raise SchemaError(
            f"data must be a pyarrow Table or RecordBatch, got {type(data)!r}"
        )
    if TIME not in data.column_names:
        raise SchemaError(
            f"data has no {TIME!r} column (columns: {data.column_names!r})"
        )
    return data


def _check_by(table, by, tag_columns) -> list[str]:
    by = [] if by is None else [by] if isinstance(by, str) else list(by)
    for key in by:
        if key not in table.column_names or key == TIME:
            raise SchemaError(f"by column {key!r} is not a tag column of the data")
        kind = table.schema.field(key).type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if not (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_string_view(kind)
            or pa.types.is_integer(kind)
            or pa.types.is_boolean(kind)
        ):
            raise SchemaError(
                f"by column {key!r} has type {kind}; tags are strings (or integers)"
            )
        if tag_columns is not None and key not in tag_columns:
            raise SchemaError(
                f"by column {key!r} is not one of tag_columns={tag_columns!r}"
            )
    if len(set(by)) != len(by):
        raise SchemaError(f"by={by!r} repeats a column")
    return by


def _check_seed(seed, by) -> pa.Table:
    if isinstance(seed, pa.RecordBatch):
        seed = pa.Table.from_batches([seed])
    if not isinstance(seed, pa.Table):
        raise SchemaError(f"seed must be a pyarrow Table, got {type(seed)!r}")
    missing = [c for c in [TIME, *by] if c not in seed.column_names]
    if missing:
        raise SchemaError(f"seed lacks columns {missing!r}")
    return seed
