"""The read path of :class:`tsengine.Engine`: range reads, latest points, windows.

Every read first brings the rollups that write to the table up to date and applies
its retention, then copies the matching series from one committed state without
blocking writers (:mod:`tsengine.core.reader`) and assembles the Arrow result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tsengine.core import reader
from tsengine.core.retention import clip_start, horizon
from tsengine.core.table import Table
from tsengine.errors import ArgumentError, SchemaError
from tsengine.timeconv import to_ns


class ReadPath:
    """Mixin of :class:`tsengine.Engine` holding every read-side method."""

    # -- reads -------------------------------------------------------------------

    def read(
        self,
        table: str,
        start: Any = None,
        end: Any = None,
        where: dict[str, Any] | None = None,
        fields: list[str] | None = None,
    ) -> pa.Table:
        """Points of ``table`` with ``start <= time < end``, sorted by time within each
        series; series ordered by tag values.

        Parameters
        ----------
        start, end : int ns, datetime, numpy/pandas time or str, optional
            Half-open time range; None is unbounded.
        where : dict, optional
            Tag name to a value or a list of values.
        fields : list of str, optional
            Fields to return (default: all).
        """
        t = self._table(table)
        self._sync_rollups(table)
        self._expire(t, wait=False)
        lo = clip_start(t, None if start is None else to_ns(start))
        hi = None if end is None else to_ns(end)
        parts = reader.snapshot(t, self._keys(t, where), reader.range_selector(lo, hi))
        return reader.to_arrow_table(t, parts, self._fields(t, fields))

    def latest(
        self,
        table: str,
        where: dict[str, Any] | None = None,
        n: int = 1,
        fields: list[str] | None = None,
    ) -> pa.Table:
        """The ``n`` points with the greatest times of every matching series."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ArgumentError(f"n={n!r} must be a positive integer")
        t = self._table(table)
        self._sync_rollups(table)
        self._expire(t, wait=False)
        keys = self._keys(t, where)
        names = self._fields(t, fields)
        if len(keys) == 1 and t.definition.retention is None:
            result = reader.latest_one(t, keys[0], int(n), names)
            if result is not None:
                return result
        parts = reader.snapshot(t, keys, reader.latest_selector(int(n)))
        out = reader.to_arrow_table(t, parts, names)
        limit = horizon(t)
        if limit is not None:  # a partly expired chunk may still hold older points
            out = out.filter(
                pc.greater_equal(out.column("time").cast(pa.int64()), limit)
            )
        return out

    def aggregate(
        self,
        table: str,
        every: Any = None,
        aggs: dict[str, list[str]] | None = None,
        *,
        by: list[str] | None = None,
        start: Any = None,
        end: Any = None,
        where: dict[str, Any] | None = None,
        fill: Any = None,
        tz: str | None = None,
        period: Any = None,
        offset: Any = None,
        gap: Any = None,
        closed: str = "left",
        label: str = "left",
        skip_nan: bool = True,
    ) -> pa.Table:
        """Windowed aggregates of ``table``'s fields, per group of ``by`` tags.

        Reads the rows of ``[start, end)`` (matching ``where``) and computes the
        windows with :func:`tsengine.window.aggregate_table`, whose docstring states
        every semantic (alignment, calendar windows and ``tz``, empty windows and
        ``fill``, NaN and null, output column names ``f"{field}_{agg}"``). For
        ``fill="previous"``/``"linear"`` the last point of each series before
        ``start`` seeds the fill.

        Examples
        --------
        >>> import numpy as np, tsengine
        >>> e = tsengine.Engine()
        >>> _ = e.write("pump", {"time": np.arange(4) * 500_000_000,
        ...                      "v": np.array([1.0, 3.0, 5.0, 7.0])})
        >>> e.aggregate("pump", every="1s", aggs={"v": ["mean", "max"]}).to_pydict()[
        ...     "v_mean"]
        [2.0, 6.0]
        """
        from tsengine.window import aggregate_table

        if not aggs:
            raise ArgumentError(f"aggs={aggs!r} must name at least one field aggregate")
        t = self._table(table)
        names = self._fields(t, list(aggs))
        self._sync_rollups(table)
        self._expire(t, wait=False)
        lo = clip_start(t, None if start is None else to_ns(start))
        hi = None if end is None else to_ns(end)
        # Right-closed windows include their end instant: read one ns further.
        read_hi = hi + 1 if hi is not None and closed == "right" else hi
        read_lo = lo + 1 if lo is not None and closed == "right" else lo
        keys = self._keys(t, where)
        parts = reader.snapshot(t, keys, reader.range_selector(read_lo, read_hi))
        data = reader.to_arrow_table(t, parts, names)
        seed = None
        if fill in ("previous", "linear") and lo is not None:
            before = reader.snapshot(t, keys, reader.before_selector(lo))
            seed = reader.to_arrow_table(t, before, names)
        return aggregate_table(
            data,
            every=every,
            aggs=aggs,
            by=by,
            start=lo,
            end=hi,
            period=period,
            offset=offset,
            gap=gap,
            fill=fill,
            tz=tz,
            closed=closed,
            label=label,
            skip_nan=skip_nan,
            tag_columns=list(t.definition.tags),
            seed=seed,
        )

    def _sync_rollups(self, table: str) -> None:
        """Rollups maintain their tables in the background: bring those writing to
        ``table`` up to date first (absent while the rollups are being restarted)."""
        rollups = self.__dict__.get("_rollups")
        if rollups is not None:
            rollups.sync(table)

    def _keys(self, table: Table, where: dict[str, Any] | None) -> list[tuple]:
        tags = table.definition.tags
        series = table.series
        if not where:
            return sorted(series, key=_sort_key)
        if len(where) == len(tags):
            # Every tag pinned to one string: one dictionary lookup.
            key = tuple(where.get(t) for t in tags)
            if all(type(v) is str for v in key):
                return [key] if key in series else []
        unknown = [k for k in where if k not in tags]
        if unknown:
            raise SchemaError(
                f"where names {unknown!r}, which are not tags of table "
                f"{table.name!r} (tags: {tags!r})"
            )
        wanted = {
            tags.index(k): (set(v) if isinstance(v, list | tuple | set) else {v})
            for k, v in where.items()
        }
        for i, values in wanted.items():
            bad = [v for v in values if v is not None and type(v) is not str]
            if bad:  # tag values are strings: 1 would silently match nothing
                raise ArgumentError(
                    f"where value {bad[0]!r} for tag {tags[i]!r} of table "
                    f"{table.name!r} is a {type(bad[0]).__name__}; tag values are "
                    "strings (or None for a missing tag)"
                )
        if len(wanted) == len(tags) and all(len(v) == 1 for v in wanted.values()):
            key = tuple(next(iter(wanted[i])) for i in range(len(tags)))
            return [key] if key in series else []
        return sorted(
            (k for k in series if all(k[i] in vals for i, vals in wanted.items())),
            key=_sort_key,
        )

    def _fields(self, table: Table, fields: list[str] | None) -> list[str]:
        names = list(table.definition.fields)
        if fields is None:
            return names
        unknown = [f for f in fields if f not in names]
        if unknown:
            raise SchemaError(
                f"fields {unknown!r} are not fields of table {table.name!r} "
                f"(fields: {names!r})"
            )
        twice = sorted({f for f in fields if list(fields).count(f) > 1})
        if twice:
            raise ArgumentError(
                f"fields {list(fields)!r} name {twice!r} more than once"
            )
        return list(fields)


def _sort_key(key: tuple) -> tuple:
    return tuple((v is None, v or "") for v in key)
