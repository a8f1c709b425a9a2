"""Query-time windowed aggregation over Arrow tables.

:func:`aggregate_table` is the whole public surface for queries; ``Engine.aggregate``
reads the rows and hands them here. Semantics (the contract in DESIGN.md, "Windowed
aggregation semantics", plus the choices it leaves open):

Windows
    ``[start, end)``, labelled by start, on a grid aligned to the Unix epoch plus
    ``offset``; floor division puts -1 ns in the window before 0. ``period`` wider than
    ``every`` slides; ``gap=`` gives session windows. ``closed="right"`` and
    ``label="right"`` give pandas' ``(start, end]`` windows labelled by their end.
Calendar
    ``1d``/``1w`` with a zone, and ``1mo``/``1y`` always, follow local time (``tz=``,
    default UTC): DST days last 23 or 25 hours; an edge on a non-existent local time
    moves to the first instant that exists; an ambiguous one takes the first occurrence;
    weeks start on Monday. Fixed steps (hours and below, and days/weeks in UTC) ignore
    ``tz``: they stay aligned to the epoch (for a +05:30 zone, pass ``offset="30m"``).
Ranges and empty windows
    The range is ``[start, end)``, or ``(start, end]`` with ``closed="right"``, so an
    aligned range is tiled exactly by its windows. With ``start`` and ``end`` every
    window of the range is returned for every group with rows in the range or a seed
    (without ``by``, for the one group even with no rows at all); ``fill`` decides
    empty windows (see :mod:`tsengine.window.fill`). Without a range, windows span
    each group's own rows.
    Sliding windows start on the grid at or before the range's (or group's) first
    instant, as polars' ``group_by_dynamic`` does; windows at the range edges only see
    rows inside the range.
Aggregates
    See :mod:`tsengine.window.aggspec` for names, output types and definitions. null is
    never counted; NaN is skipped unless ``skip_nan=False``. Output column names are
    ``f"{field}_{aggregate}"``.

Differences from pandas ``resample`` and polars ``group_by_dynamic``
    - empty windows: pandas returns them (sum 0), polars omits them; here they are
      returned with count 0 and null aggregates unless ``fill="none"``;
    - ``first``/``last`` skip null (pandas does; polars does not);
    - ``std``/``var`` are sample statistics as in both, null below two values;
    - weekly windows start on Monday (polars' choice; pandas' ``"W"`` ends on Sunday);
    - sub-day windows in a zone stay epoch-aligned (both libraries align to local
      midnight, which differs only for zones with non-whole-hour offsets);
    - NaN is skipped by default (pandas does; polars treats NaN as a value, which is
      ``skip_nan=False`` here).

Cost
    O(rows + windows) for tumbling, sliding and session windows whatever
    ``period / every`` is: sliding windows merge per-pane states (two-stacks style,
    see :mod:`tsengine.window._kernels.sliding`), quantiles of overlapping windows
    use a Fenwick tree over ranks (O((rows + windows) log rows)). With
    ``fill="none"`` fixed grids enumerate only windows that hold rows, so sparse data
    with fine windows costs O(rows + windows emitted). Segment reductions run on all
    Numba threads from 500,000 rows (``aggregate.PARALLEL_MIN_ROWS``), on one below.

Known gaps
    - Calendar grids (days/weeks in a zone, months, years) compute every edge of the
      span even with ``fill="none"``: O(span / every), cheap since ``every`` is at
      least a day, but not O(rows).
    - A sliding-window sum merges pane sums; if a pane's partial sum overflows
      (beyond 1.8e308) the window's sum is inf even when its true sum is finite.
      Means are recomputed exactly in that case; sums are not.
    - Integer sums are exact modulo 2**64: a window whose true sum leaves the int64
      (uint64) range wraps instead of raising.
    - ``rate`` takes first and last values only: counter resets are not detected.
    - ``twa``/``integral`` use only the window's own rows (no interpolation to the
      window edges); a window with rows at one instant only has integral 0.
    - With ``tag_columns`` given and every tag in ``by`` the time order inside each
      series is trusted, not checked (see :func:`aggregate_table`).
    - Tag columns are hashed once per run of equal values; data interleaving series
      row by row pays a full Arrow sort of its tag values.
"""

from tsengine.window.aggregate import aggregate_table
from tsengine.window.aggspec import AggSpec, parse_agg
from tsengine.window.duration import Duration, parse_duration
from tsengine.window.timepoint import to_ns
from tsengine.window.windows import MAX_WINDOWS

__all__ = [
    "MAX_WINDOWS",
    "AggSpec",
    "Duration",
    "aggregate_table",
    "parse_agg",
    "parse_duration",
    "to_ns",
]
