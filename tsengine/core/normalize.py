"""Turn every accepted input shape into one validated, columnar batch.

Accepted inputs: pyarrow Table / RecordBatch, pandas DataFrame (``time`` column or a
DatetimeIndex), polars DataFrame, and a dict of numpy arrays or sequences. All are in
long format: one row per (time, series), tags as columns.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tsengine.errors import SchemaError
from tsengine.schema import FIELD_TYPES, TableDef, field_type_of
from tsengine.timeconv import array_to_ns

#: datetime64 units pyarrow converts itself; the others go through ``array_to_ns``.
_ARROW_TIME_UNITS = ("s", "ms", "us", "ns", "D")

# Kinds as stored in the rings: bool is kept as one byte per value.
_NUMPY_DTYPE = {
    "float64": np.float64,
    "int64": np.int64,
    "uint64": np.uint64,
    "bool": np.uint8,
    "string": object,
}


def null_column(kind: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Values and validity of ``n`` nulls of a field kind."""
    return np.zeros(n, dtype=_NUMPY_DTYPE[kind]), np.zeros(n, dtype=np.uint8)


@dataclass
class Column:
    """One field column ready for the rings: values plus optional validity."""

    kind: str
    values: np.ndarray
    valid: np.ndarray | None  # uint8, 1 = present; None = all present


@dataclass
class Batch:
    """A validated long-format batch of one table."""

    times: np.ndarray  # int64 ns, contiguous
    tags: dict[str, pa.Array]  # string arrays, may hold nulls
    fields: dict[str, Column]

    def __len__(self) -> int:
        return len(self.times)


def to_arrow(data: Any, table: str) -> pa.Table:
    """Convert any accepted input to a pyarrow Table, keeping NaN distinct from null."""
    if isinstance(data, pa.Table):
        return _unique_names(data, table)
    if isinstance(data, pa.RecordBatch):
        return _unique_names(pa.Table.from_batches([data]), table)
    module = type(data).__module__.split(".")[0]
    if module == "polars":
        return data.to_arrow()
    if module == "pandas":
        return _pandas_to_arrow(data, table)
    if isinstance(data, dict):
        return _dict_to_arrow(data, table)
    raise SchemaError(
        f"cannot write {type(data).__name__!r} to table {table!r}; pass a pyarrow "
        "Table/RecordBatch, pandas or polars DataFrame, or a dict of arrays"
    )


def _unique_names(data: pa.Table, table: str) -> pa.Table:
    """``data``, refused when two columns share a name (Arrow allows it)."""
    names = data.column_names
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise SchemaError(f"batch for table {table!r} has duplicate columns {twice!r}")
    return data


def _array(values: Any, name: Any, table: str, from_pandas: bool) -> pa.Array:
    """``pa.array`` whose failures (mixed types, overflow) are SchemaErrors that
    name the column; pyarrow's own message names the value."""
    errors = (
        pa.ArrowInvalid,
        pa.ArrowTypeError,
        pa.ArrowNotImplementedError,
        OverflowError,
        UnicodeError,  # a str with a lone surrogate has no UTF-8 form
    )
    try:
        return pa.array(values, from_pandas=from_pandas)
    except errors as exc:
        error = exc
    if isinstance(values, list | tuple):
        # pyarrow infers int64 for Python ints: values in [2**63, 2**64) are uint64
        with contextlib.suppress(*errors):
            return pa.array(values, type=pa.uint64(), from_pandas=from_pandas)
        big = next(
            (v for v in values if type(v) is int and not -(2**63) <= v < 2**64), None
        )
        if big is not None:
            error = f"{big!r} is outside the int64 and uint64 ranges"
    raise SchemaError(
        f"column {name!r} for table {table!r} cannot be converted: {error}"
    ) from None


def _pandas_to_arrow(df: Any, table: str) -> pa.Table:
    import pandas as pd

    duplicated = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if duplicated:
        raise SchemaError(f"DataFrame has duplicate column names {duplicated!r}")
    columns: dict[str, pa.Array] = {}
    if isinstance(df.index, pd.DatetimeIndex) and "time" not in df.columns:
        columns["time"] = pa.array(df.index)
    for name in df.columns:
        col = df[name]
        if isinstance(col.dtype, np.dtype) and col.dtype.kind == "f":
            # numpy-backed floats: NaN is a value a sensor sent, not a missing value.
            columns[str(name)] = _array(col.to_numpy(), name, table, False)
        else:
            columns[str(name)] = _array(col, name, table, True)
    return pa.table(columns)


def _dict_to_arrow(data: dict, table: str) -> pa.Table:
    lengths = {}
    columns = {}
    for name, values in data.items():
        if isinstance(values, pa.ChunkedArray):
            values = one_array(values)
        if not isinstance(values, pa.Array):
            arr = np.asarray(values) if not isinstance(values, list) else values
            if isinstance(arr, np.ndarray) and arr.ndim != 1:
                raise SchemaError(
                    f"column {name!r} for table {table!r} must be one-dimensional, "
                    f"got shape {arr.shape}"
                )
            if isinstance(arr, np.ndarray) and arr.dtype.kind == "M":
                if np.datetime_data(arr.dtype)[0] not in _ARROW_TIME_UNITS:
                    # Arrow has no hour, week, month or sub-ns units: convert here,
                    # exactly, so the error (if any) names the offending value.
                    arr = array_to_ns(arr, name=str(name)).view("datetime64[ns]")
            values = _array(arr, name, table, False)
        lengths[name] = len(values)
        columns[str(name)] = values
    if len(set(lengths.values())) > 1:
        raise SchemaError(
            f"columns for table {table!r} have different lengths {lengths!r}"
        )
    return pa.table(columns)


def infer_definition(data: pa.Table, name: str, tags: list[str] | None) -> TableDef:
    """Table definition for a first write: string columns are tags unless ``tags``
    names them explicitly; every other column but ``time`` is a field."""
    _require_time(data, name)
    if tags is None:
        tags = [
            c
            for c in data.column_names
            if c != "time" and field_type_of(data.schema.field(c).type) == "string"
        ]
    fields = {}
    for col in data.column_names:
        if col == "time" or col in tags:
            continue
        kind = field_type_of(data.schema.field(col).type)
        if kind is None:
            raise SchemaError(
                f"column {col!r} of table {name!r} has Arrow type "
                f"{data.schema.field(col).type}, which no field type holds; expected "
                f"one of {list(FIELD_TYPES)}"
            )
        fields[col] = kind
    return TableDef(name=name, tags=list(tags), fields=fields)


def _require_time(data: pa.Table, table: str) -> None:
    if "time" not in data.column_names:
        raise SchemaError(
            f"write to table {table!r} has no 'time' column; columns are "
            f"{data.column_names!r}"
        )


def new_columns(
    data: pa.Table, definition: TableDef, tags: list[str] | None
) -> tuple[list[str], dict[str, str]]:
    """Tags and fields that ``data`` adds to an existing table (checked for type)."""
    new_tags = [
        c for c in (tags or []) if c not in definition.tags and c in data.column_names
    ]
    new_fields = {}
    for col in data.column_names:
        if col == "time" or col in definition.tags or col in new_tags:
            continue
        if col in definition.fields:
            continue
        kind = field_type_of(data.schema.field(col).type)
        if kind is None:
            raise SchemaError(
                f"column {col!r} of table {definition.name!r} has Arrow type "
                f"{data.schema.field(col).type}, which no field type holds"
            )
        new_fields[col] = kind
    return new_tags, new_fields


def normalize(data: pa.Table, definition: TableDef, unit: str = "ns") -> Batch:
    """Validate ``data`` against ``definition`` and convert it to a :class:`Batch`.

    Raises
    ------
    SchemaError
        Missing time column, a type conflict (names table, field, existing and
        incoming type) or a column the definition does not know.
    TimestampError
        A time is null or outside the int64 ns range.
    """
    _require_time(data, definition.name)
    times = array_to_ns(one_array(data.column("time")), unit=unit)
    tags = {}
    for tag in definition.tags:
        if tag in data.column_names:
            tags[tag] = _tag_array(data.column(tag), definition, tag)
    fields = {}
    for col in data.column_names:
        if col == "time" or col in definition.tags:
            continue
        if col not in definition.fields:
            raise SchemaError(
                f"column {col!r} is not a tag or field of table {definition.name!r}"
            )
        fields[col] = _field_column(data.column(col), definition, col)
    return Batch(times=np.ascontiguousarray(times), tags=tags, fields=fields)


def one_array(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous array; a single chunk is used as is (``combine_chunks`` would
    copy it, and a fresh copy of a large batch costs a page fault per 4 KB)."""
    if not isinstance(col, pa.ChunkedArray):
        return col
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


def _tag_array(col: pa.ChunkedArray, definition: TableDef, tag: str) -> pa.Array:
    arr = one_array(col)
    if pa.types.is_dictionary(arr.type):
        value_type = arr.type.value_type
        if pa.types.is_string(value_type) or pa.types.is_large_string(value_type):
            # Kept encoded: grouping uses the indices directly.
            return arr
        arr = arr.dictionary_decode()
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), pa.string())
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise SchemaError(
            f"tag {tag!r} of table {definition.name!r} must be strings, got "
            f"Arrow type {arr.type}"
        )
    return arr.cast(pa.string()) if pa.types.is_large_string(arr.type) else arr


def _field_column(col: pa.ChunkedArray, definition: TableDef, name: str) -> Column:
    arr = one_array(col)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    kind = definition.fields[name]
    incoming = "null" if pa.types.is_null(arr.type) else field_type_of(arr.type)
    integers = ("int64", "uint64")
    if incoming != kind and incoming in integers and kind in integers:
        try:
            arr = arr.cast(FIELD_TYPES[kind], safe=True)
        except pa.ArrowInvalid:
            raise SchemaError(
                f"table {definition.name!r} field {name!r} is {kind}; incoming "
                f"{incoming} values do not all fit it"
            ) from None
        incoming = kind
    if incoming != kind and incoming != "null":
        raise SchemaError(
            f"table {definition.name!r} field {name!r} is {kind}, incoming values "
            f"are {incoming or arr.type} ({arr.type})"
        )
    if incoming == "null":
        arr = pa.nulls(len(arr), FIELD_TYPES[kind])
    if arr.type != FIELD_TYPES[kind]:
        arr = arr.cast(FIELD_TYPES[kind])  # widening only: float32->64, int32->64
    valid = None
    if arr.null_count:
        valid = np.asarray(arr.is_valid()).view(np.uint8)
        if kind != "string":
            arr = pc.fill_null(arr, False if kind == "bool" else 0)
    if kind == "bool":
        values = np.asarray(arr.to_numpy(zero_copy_only=False)).view(np.uint8)
    elif kind == "string":
        values = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
    else:
        values = np.asarray(
            arr.to_numpy(zero_copy_only=False), dtype=_NUMPY_DTYPE[kind]
        )
    return Column(kind=kind, values=np.ascontiguousarray(values), valid=valid)
