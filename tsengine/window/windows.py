"""Window specifications and the windows they produce for each group of rows.

A :class:`WindowSpec` is the validated form of ``every``/``period``/``offset``/``gap``/
``tz``/``closed``/``label``. :func:`enumerate_windows` turns it into arrays of window
starts and ends, grouped like the rows, and :func:`pane_units` cuts overlapping windows
into panes so sliding aggregates can reuse per-pane states.

Fixed windows are ``[origin + k * every, origin + k * every + period)`` with ``origin =
offset mod every`` (whole-week ``every`` counts from Monday 1970-01-05 instead of the
epoch's Thursday); ``k`` is a floor division, so negative times land in the window
that starts before them. Calendar windows (months always; days and weeks with a zone
other than UTC) come from :class:`~tsengine.window.calendar.CalendarGrid`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from tsengine.errors import BudgetError, ParseError, TimestampError
from tsengine.window._kernels.ranges import (
    _fixed_nonempty,
    _merge_edges,
    _sessions,
    _window_rows,
)
from tsengine.window.calendar import CalendarGrid
from tsengine.window.duration import NS_PER_DAY, Duration, parse_duration
from tsengine.window.timepoint import INT64_MAX, INT64_MIN

#: Most windows one call may produce (each costs ~100 bytes across outputs).
MAX_WINDOWS = 50_000_000
# Monday 1970-01-05 is 4 days after the epoch
_MONDAY_ORIGIN = 4 * NS_PER_DAY


@dataclass(frozen=True)
class WindowSpec:
    """Validated window parameters (see :func:`make_spec`)."""

    kind: str  # "fixed", "calendar" or "session"
    every: int = 0  # fixed step, ns
    period: int = 0  # fixed width, ns
    origin: int = 0  # fixed alignment in [0, every), ns
    grid: CalendarGrid | None = None
    period_cal: Duration | None = None
    gap: int = 0  # session gap, ns
    shift: int = 0  # 1 for right-closed windows
    label_right: bool = False


def make_spec(every, period, offset, gap, tz, closed, label) -> WindowSpec:
    """Validate window arguments into a :class:`WindowSpec`.

    Specs repeat from query to query (dashboards), so valid ones are remembered.

    Raises
    ------
    ParseError
        For malformed durations, unknown zones, bad ``closed``/``label`` values or
        contradictory combinations (``gap`` with ``every``, months with a fixed step).
    """
    args = (every, period, offset, gap, tz, closed, label)
    try:
        return _make_spec_cached(*args)
    except TypeError:  # an unhashable argument: let the checks name it
        return _make_spec(*args)


@functools.lru_cache(maxsize=256)
def _make_spec_cached(every, period, offset, gap, tz, closed, label) -> WindowSpec:
    return _make_spec(every, period, offset, gap, tz, closed, label)


def _make_spec(every, period, offset, gap, tz, closed, label) -> WindowSpec:
    # closed= and label= follow pandas' vocabulary
    if closed not in ("left", "right"):
        raise ParseError(f"closed={closed!r} must be 'left' or 'right'")
    if label not in ("left", "right"):
        raise ParseError(f"label={label!r} must be 'left' or 'right'")
    shift = 1 if closed == "right" else 0
    label_right = label == "right"

    # Session windows: only the gap matters
    if gap is not None:
        if every is not None or period is not None or offset is not None:
            raise ParseError(
                f"gap={gap!r} makes session windows; every, period and offset must "
                "not be given with it"
            )
        gap_ns = parse_duration(gap, name="gap").fixed_ns()
        if gap_ns <= 0:
            raise ParseError(f"gap={gap!r} must be longer than zero")
        return WindowSpec("session", gap=gap_ns, label_right=label_right)

    if every is None:
        raise ParseError("every= (window step) or gap= (session windows) is required")
    step = parse_duration(every, name="every")
    width = step if period is None else parse_duration(period, name="period")
    shift_by = parse_duration(
        offset if offset is not None else 0, name="offset", allow_negative=True
    )
    if step.is_zero() or width.is_zero():
        raise ParseError(f"every={every!r} and period={period!r} must be non-zero")

    # Calendar steps: local days/weeks with a zone, months and years always
    if step.is_calendar(tz):
        if width.months and not step.months:
            raise ParseError(
                f"period={period!r} has months but every={every!r} has not"
            )
        grid = CalendarGrid(step, tz, shift_by)
        return WindowSpec(
            "calendar",
            grid=grid,
            period_cal=width,
            shift=shift,
            label_right=label_right,
        )

    # Fixed steps: everything is a length in ns
    for name, dur in (("period", width), ("offset", shift_by)):
        if dur.months:
            raise ParseError(
                f"{name}={dur!r} has months but every={every!r} is a fixed length"
            )
    every_ns = step.fixed_ns()
    origin = shift_by.fixed_ns()
    if step == Duration(weeks=step.weeks):
        origin += _MONDAY_ORIGIN
    return WindowSpec(
        "fixed",
        every=every_ns,
        period=width.fixed_ns(),
        origin=origin % every_ns,
        shift=shift,
        label_right=label_right,
    )


@dataclass
class Windows:
    """Windows of every group: starts, ends, labels and per-group offsets."""

    ws: np.ndarray
    we: np.ndarray
    w_off: np.ndarray
    disjoint: bool


def _check_room(spec: WindowSpec, lowest: int, highest: int) -> None:
    """Refuse times whose windows would run past the int64 ns range."""
    reach = max(spec.every + spec.period, spec.gap) + 1
    if spec.kind == "calendar":
        reach = 400 * NS_PER_DAY  # a year window plus a generous offset
    if lowest - reach < INT64_MIN or highest + reach > INT64_MAX:
        bad = lowest if lowest - reach < INT64_MIN else highest
        raise TimestampError(
            f"time {bad!r} ns is too close to the int64 range end for these windows"
        )


def _budget(count: int) -> None:
    if count > MAX_WINDOWS:
        raise BudgetError(
            f"the query would produce {count!r} windows (limit {MAX_WINDOWS}); use a "
            "coarser every=, a shorter range, or fill='none'"
        )


def enumerate_windows(
    spec: WindowSpec, t, g_lo, g_hi, start, end, dense: bool, present=None
) -> tuple[Windows, np.ndarray]:
    """Windows for every group, and their label times.

    Parameters
    ----------
    spec : WindowSpec
    t : ndarray of int64
        Row times (ns), sorted within each group.
    g_lo, g_hi : ndarray of int64
        Row bounds of each group, already cut to ``[start, end)``.
    start, end : int or None
        Query range (ns); without them the windows span each group's own rows.
    dense : bool
        Return empty windows too (every ``fill`` except ``"none"``).
    present : ndarray of bool, optional
        Groups that get the range's windows even without rows in it (the single
        group without ``by``, groups with a seed). Default: only groups with rows.

    Returns
    -------
    (Windows, ndarray of int64)
    """
    # Range guard: all window arithmetic below stays inside int64
    has_rows = g_hi > g_lo
    if has_rows.any():
        lowest = int(t[g_lo[has_rows]].min())
        highest = int(t[g_hi[has_rows] - 1].max())
        _check_room(spec, lowest, highest)
    for value in (start, end):
        if value is not None:
            _check_room(spec, value, value)

    if spec.kind == "session":
        wins = _session_windows(spec, t, g_lo, g_hi)
    else:
        if present is None:
            present = np.zeros(g_lo.size, np.bool_)
        wins = _grid_windows(spec, t, g_lo, g_hi, start, end, dense, present)
    label = wins.we if spec.label_right else wins.ws
    return wins, label


def _session_windows(spec, t, g_lo, g_hi) -> Windows:
    empty = np.empty(0, np.int64)
    counts = _sessions(t, g_lo, g_hi, spec.gap, empty, empty)
    ws = np.empty(int(counts.sum()), np.int64)
    we = np.empty_like(ws)
    _sessions(t, g_lo, g_hi, spec.gap, ws, we)
    return Windows(ws, we, _offsets(counts), True)


def _offsets(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(counts.size + 1, np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _key_bounds(spec, t, g_lo, g_hi, start, end, present):
    """Per group: first and last key to cover, and which groups have any."""
    has_rows = g_hi > g_lo
    first = np.where(has_rows, t[np.minimum(g_lo, t.size - 1)], 0) - spec.shift
    last = np.where(has_rows, t[np.maximum(g_hi - 1, 0)], 0) - spec.shift
    if start is not None:
        first = np.full(g_lo.size, start, np.int64)
    if end is not None:
        last = np.full(g_lo.size, end - 1, np.int64)
    covered = has_rows | (present & (start is not None and end is not None))
    if start is not None and end is not None and end <= start:
        covered = np.zeros(g_lo.size, np.bool_)
    return first, last, covered


def _grid_windows(spec, t, g_lo, g_hi, start, end, dense, present) -> Windows:
    if t.size == 0:
        t = np.zeros(1, np.int64)  # read only inside group bounds, which are empty
    first, last, covered = _key_bounds(spec, t, g_lo, g_hi, start, end, present)

    # Fixed grid: window indices by floor division
    if spec.kind == "fixed":
        k0 = (first - spec.origin) // spec.every
        k1 = np.where(covered, (last - spec.origin) // spec.every, k0 - 1)
        if dense:
            counts = np.maximum(k1 - k0 + 1, 0)
            _budget(int(counts.sum()))
            k = np.repeat(k0 - _offsets(counts)[:-1], counts) + np.arange(counts.sum())
        else:
            args = (t, g_lo, g_hi, k0, k1, spec.origin, spec.every, spec.period)
            args += (spec.shift, MAX_WINDOWS)
            counts = _fixed_nonempty(*args, np.empty(0, np.int64))
            _budget(int(counts.sum()))
            k = np.empty(int(counts.sum()), np.int64)
            _fixed_nonempty(*args, k)
        ws = spec.origin + k * spec.every
        disjoint = spec.period <= spec.every
        return Windows(ws, ws + spec.period, _offsets(counts), disjoint)

    # Calendar grid: edges computed once for the union of all groups' spans
    grid = spec.grid
    if not covered.any():
        empty = np.empty(0, np.int64)
        return Windows(empty, empty, np.zeros(g_lo.size + 1, np.int64), True)
    k0 = np.zeros(first.size, np.int64)
    k1 = np.full(last.size, -1, np.int64)
    k0[covered] = grid.index_of(first[covered])
    k1[covered] = grid.index_of(last[covered])
    k_min, k_max = int(k0[covered].min()), int(k1[covered].max())
    _budget(k_max - k_min + 1)
    starts = grid.starts(k_min, k_max)
    ends = grid.ends(k_min, k_max, spec.period_cal)
    counts = np.maximum(k1 - k0 + 1, 0)
    idx = np.repeat(k0 - k_min - _offsets(counts)[:-1], counts) + np.arange(
        counts.sum()
    )
    ws, we = starts[idx], ends[idx]
    w_off = _offsets(counts)
    disjoint = bool(np.all(ends[:-1] <= starts[1:]))
    if not dense:
        lo, hi = _window_rows(t, g_lo, g_hi, w_off, ws, we, spec.shift)
        keep = hi > lo
        ws, we = ws[keep], we[keep]
        group = np.repeat(np.arange(counts.size), counts)[keep]
        w_off = _offsets(np.bincount(group, minlength=counts.size))
    return Windows(ws, we, w_off, disjoint)


@dataclass
class Panes:
    """Non-empty panes of overlapping windows, as units for sliding merges.

    ``lo``/``hi`` are each pane's row range; ``a``/``b`` each window's pane range.
    """

    lo: np.ndarray
    hi: np.ndarray
    a: np.ndarray
    b: np.ndarray


def pane_units(t, g_lo, g_hi, wins: Windows, shift: int) -> Panes:
    """Cut overlapping windows at every window edge and keep panes holding rows."""
    # Elementary intervals between consecutive distinct edges of a group
    edges, e_off = _merge_edges(wins.ws, wins.we, wins.w_off)
    n_edges = np.diff(e_off)
    p_counts = np.maximum(n_edges - 1, 0)
    last = np.zeros(edges.size, np.bool_)
    last[e_off[1:][n_edges > 0] - 1] = True
    p_start, p_end = edges[:-1][~last[:-1]], edges[1:][~last[:-1]]
    p_off = _offsets(p_counts)
    lo, hi = _window_rows(t, g_lo, g_hi, p_off, p_start, p_end, shift)

    # Drop panes without rows; windows then map to runs of the kept panes
    keep = hi > lo
    group = np.repeat(np.arange(p_counts.size), p_counts)[keep]
    u_counts = np.bincount(group, minlength=p_counts.size)
    u_off = _offsets(u_counts)
    keys = p_start[keep]
    a, b = _window_rows(keys, u_off[:-1], u_off[1:], wins.w_off, wins.ws, wins.we, 0)
    return Panes(lo[keep], hi[keep], a, b)
