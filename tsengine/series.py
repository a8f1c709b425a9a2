"""Per-series write handle: the fast path for one point or one array at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tsengine._native._ring import PointWriter
from tsengine.errors import SchemaError
from tsengine.timeconv import array_to_ns, to_ns

_STORED = {"float64": np.float64, "int64": np.int64, "uint64": np.uint64}

if TYPE_CHECKING:
    from tsengine.engine import Engine


class Series(PointWriter):
    """Writes to one series (a table plus one tag set).

    Obtain it with :meth:`Engine.series`. ``append(time, *values, **fields)`` stores
    one point (int ns time; values in field order or by name, missing ones null)
    straight into the series ring when it is in order and fits, in native code;
    every other case goes through :meth:`Engine.write` with the same semantics.
    ``extend`` does the same for arrays.

    Examples
    --------
    >>> import tsengine
    >>> engine = tsengine.Engine()
    >>> _ = engine.create_table("pump", tags=["asset"], fields={"vibration": "float64"})
    >>> s = engine.series("pump", asset="P-101")
    >>> s.append(1_000, vibration=0.12)
    >>> engine.latest("pump").column("vibration").to_pylist()
    [0.12]
    """

    def __init__(self, engine: Engine, table: str, tags: dict[str, str]) -> None:
        self._engine = engine
        self._table = engine._table(table)
        definition = self._table.definition
        unknown = [t for t in tags if t not in definition.tags]
        if unknown:
            raise SchemaError(
                f"{unknown!r} are not tags of table {table!r} "
                f"(tags: {definition.tags!r})"
            )
        self.table = table
        self.tags = dict(tags)
        self._key = tuple(tags.get(t) for t in definition.tags)
        self._fields = list(definition.fields)
        self._index = {name: i for i, name in enumerate(self._fields)}
        self._nfields = len(self._fields)

    def _append_slow(self, time: Any, values: tuple, fields: dict[str, Any]) -> None:
        """Every append the native path declines: same checks, through write()."""
        t = to_ns(time)
        row = self._row(values, fields)
        kinds = self._table.definition.fields
        self.extend(
            np.array([t], dtype=np.int64),
            **{
                name: [_as_stored(kinds.get(name), v)]
                for name, v in zip(self._fields, row)
                if v is not None
            },
        )

    def _extend_fast(self, times: Any, fields: dict[str, Any]) -> bool:
        """Store in-order int64 ns times with every field as a numpy array of its
        stored type straight into the ring; False if any condition fails."""
        table = self._table
        kinds = table.definition.fields
        if (
            type(times) is not np.ndarray
            or times.dtype != np.int64
            or len(fields) != len(kinds)
            or not table.fast_ok
        ):
            return False
        cols = []
        for name, kind in kinds.items():
            col = fields.get(name)
            if type(col) is not np.ndarray or col.dtype != _STORED.get(kind):
                return False
            if len(col) != len(times):
                return False
            cols.append(np.ascontiguousarray(col))
        times = np.ascontiguousarray(times)
        with table.lock:
            buf = table.series.get(self._key)
            if not table.fast_ok or buf is None or not buf.append_checked(times, cols):
                return False
            table.publish([buf])
        return True

    def _row(self, values: tuple, fields: dict[str, Any]) -> tuple:
        if len(values) > len(self._fields):
            raise SchemaError(
                f"{len(values)} values given for table {self.table!r}, which has "
                f"{len(self._fields)} fields {self._fields!r}"
            )
        row = list(values) + [None] * (len(self._fields) - len(values))
        for name, value in fields.items():
            i = self._index.get(name)
            if i is None:
                raise SchemaError(
                    f"{name!r} is not a field of table {self.table!r} "
                    f"(fields: {self._fields!r})"
                )
            row[i] = value
        return tuple(row)

    def extend(self, times: Any, **fields: Any) -> int:
        """Store many points of this series; same semantics as :meth:`Engine.write`.

        Parameters
        ----------
        times : array-like
            Point times (any accepted time type).
        **fields : array-like
            One array per field, same length as ``times``.
        """
        if self._extend_fast(times, fields):
            return len(times)
        t = array_to_ns(times)
        data: dict[str, Any] = {"time": t}
        for tag, value in self.tags.items():
            data[tag] = np.full(len(t), value, dtype=object)
        data.update(fields)
        return self._engine.write(self.table, data)


def _as_stored(kind: str | None, value: Any) -> Any:
    """A Python int for a float64 field as a float, as the native path stores it
    (a list of ints alone would arrive as int64 and clash with the field)."""
    if kind == "float64" and type(value) is int:
        return float(value)
    return value
