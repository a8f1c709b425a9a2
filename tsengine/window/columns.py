"""Columns in and out of a window query: times, field values, seeds, Arrow results.

Conversions between the caller's Arrow table and the numpy arrays the kernels use:
exact int64 ns times, typed field values with their null masks (arranged in group and
time order), the seed value of every group for fills, and the result columns.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tsengine.errors import SchemaError, TimestampError
from tsengine.window._kernels.grouping import _gather
from tsengine.window.aggspec import STRING_OK
from tsengine.window.grouping import column_array

TIME = "time"


def field_kind(table, name, field_specs):
    """(kind, arrow type) of a field, after checking its aggregates apply."""
    if name not in table.column_names or name == TIME:
        raise SchemaError(f"field {name!r} is not a column of the data")
    kind = table.schema.field(name).type
    value_type = kind.value_type if pa.types.is_dictionary(kind) else kind
    if pa.types.is_floating(kind):
        return "float", pa.float64()
    if pa.types.is_boolean(kind):
        return "bool", pa.bool_()
    if pa.types.is_signed_integer(kind):
        return "int", pa.int64()
    if pa.types.is_unsigned_integer(kind):
        return "uint", pa.uint64()
    if (
        pa.types.is_string(value_type)
        or pa.types.is_large_string(value_type)
        or pa.types.is_string_view(value_type)
    ):
        bad = [s.name for s in field_specs if s.kind not in STRING_OK]
        if bad:
            raise SchemaError(
                f"aggregates {bad!r} need numbers; field {name!r} is {kind} (strings "
                "allow only count, first, last)"
            )
        return "string", kind
    raise SchemaError(f"field {name!r} has type {kind}, which cannot be aggregated")


def times_ns(table) -> np.ndarray:
    """The time column as int64 ns (exact cast; nulls refused)."""
    col = column_array(table, TIME)
    if col.null_count:
        raise TimestampError(f"column {TIME!r} has {col.null_count!r} null times")
    if pa.types.is_integer(col.type):
        try:
            return col.cast(pa.int64()).to_numpy()
        except pa.ArrowInvalid as exc:
            raise TimestampError(f"times do not fit int64 nanoseconds: {exc}") from None
    if not pa.types.is_timestamp(col.type):
        raise SchemaError(f"column {TIME!r} has type {col.type}, expected a timestamp")
    if col.type.unit != "ns":
        try:
            col = col.cast(pa.timestamp("ns", tz=col.type.tz), safe=True)
        except pa.ArrowInvalid as exc:
            raise TimestampError(f"times do not fit int64 nanoseconds: {exc}") from None
    return col.view(pa.int64()).to_numpy()


def field_values(table, name, kind, perm):
    """Arranged numpy values (nulls filled) and the non-null mask (None if no nulls)."""
    if kind == "string":
        col = column_array(table, name)
        valid = (
            col.is_valid().to_numpy(zero_copy_only=False) if col.null_count else None
        )
        if valid is not None and perm is not None:
            valid = valid[perm]
        return None, valid
    col = column_array(table, name)
    target = {"float": pa.float64(), "int": pa.int64(), "uint": pa.uint64()}.get(kind)
    if target is not None and col.type != target:
        col = col.cast(target)
    valid = None
    if col.null_count:
        valid = col.is_valid().to_numpy(zero_copy_only=False)
        col = col.fill_null(False if kind == "bool" else 0)
    values = col.to_numpy(zero_copy_only=False)
    if perm is not None:
        values = _gather(values, perm)
        valid = None if valid is None else valid[perm]
    return values, valid


def seeds_of(seed, name, kind, grp, skip_nan, n_data):
    """(values, times, usable) per group: the latest usable seed value of a field."""
    n_groups = grp.g_lo.size
    if seed is None or name not in seed.column_names or seed.num_rows == 0:
        return None
    col = column_array(seed, name)
    usable = col.is_valid().to_numpy(zero_copy_only=False)
    times = times_ns(seed)
    if kind == "string":
        values = np.arange(seed.num_rows, dtype=np.int64) + n_data  # rows after data
    else:
        values, _ = field_values(seed, name, kind, None)
        if kind == "float" and skip_nan:
            usable &= values == values
    rows = np.flatnonzero(usable)
    out_values = np.zeros(n_groups, values.dtype)
    out_times = np.zeros(n_groups, np.int64)
    ok = np.zeros(n_groups, np.bool_)
    if rows.size:
        order = rows[np.lexsort((times[rows], grp.seed_group[rows]))]
        groups = grp.seed_group[order]
        last = np.append(groups[1:] != groups[:-1], True)
        pick = order[last]
        out_values[grp.seed_group[pick]] = values[pick]
        out_times[grp.seed_group[pick]] = times[pick]
        ok[grp.seed_group[pick]] = True
    return out_values, out_times, ok


def to_arrow(out, table, name, perm, seed) -> pa.Array:
    """One output column as Arrow; string first/last via ``take`` of the source."""
    mask = ~out.valid
    if not out.is_index:
        return pa.array(out.values, type=out.type, mask=mask if mask.any() else None)
    rows = out.values
    if perm is not None:
        inside = rows < perm.size
        rows = np.where(inside, perm[np.where(inside, rows, 0)], rows)
    source = column_array(table, name)
    if seed is not None and name in seed.column_names:
        source = pa.concat_arrays([source, column_array(seed, name).cast(source.type)])
    return source.take(pa.array(rows, mask=mask))
