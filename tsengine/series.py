"""Per-series write handle: the fast path for one point or one array at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tsengine.errors import SchemaError
from tsengine.timeconv import array_to_ns, to_ns

if TYPE_CHECKING:
    from tsengine.engine import Engine


class Series:
    """Writes to one series (a table plus one tag set).

    Obtain it with :meth:`Engine.series`. ``append`` stores one point straight into
    the series ring when it is in order and fits, without building a batch; every
    other case goes through :meth:`Engine.write` with the same semantics.

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

    def append(self, time: Any, *values: Any, **fields: Any) -> None:
        """Store one point.

        Parameters
        ----------
        time : int ns, datetime, numpy/pandas time or str
            Point time.
        *values
            Field values in the table's field order.
        **fields
            Field values by name (missing fields are null).
        """
        t = time if type(time) is int else to_ns(time)
        row = self._row(values, fields)
        table = self._table
        engine = self._engine
        if engine._store is None and not engine._listeners.get(self.table):
            with table.lock:
                buf = table.series.get(self._key)
                if (
                    buf is not None
                    and buf.nfields == len(row)
                    and buf.append_point(t, row)
                ):
                    table.publish([buf])
                    return
        self.extend(
            [t], **{name: [v] for name, v in zip(self._fields, row) if v is not None}
        )

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
        t = array_to_ns(times)
        data: dict[str, Any] = {"time": t}
        for tag, value in self.tags.items():
            data[tag] = np.full(len(t), value, dtype=object)
        data.update(fields)
        return self._engine.write(self.table, data)
